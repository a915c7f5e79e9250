/*
 * signet_bundle: verification bundles, the directory that lets `signet
 * verify --bundle DIR` work on a machine that cannot reach the appliance
 * (docs/cli.md, "Verification bundles").
 *
 *   DIR/manifest.json    format, version, creation time, appliance, keys, files
 *   DIR/roots/NAME.pem   trust anchors
 *   DIR/chains/NAME.pem  intermediate CA certificates and the keys' certificates
 *   DIR/tsa/NAME.pem     the TSA's certificate and its intermediates
 *   DIR/crls/NAME        CRLs, PEM or DER (the directory may be empty)
 *   DIR/keys/NAME.pem    the public key of key NAME (SubjectPublicKeyInfo PEM)
 *
 * The reader takes nothing on trust from the directory listing: every file
 * of the five directories must be listed in the manifest with its SHA-256,
 * every listed file must be there, a regular file (not a link) with that
 * digest, and every key of the manifest must have its keys/NAME.pem with
 * the fingerprint and algorithm the manifest states.  Files are read once,
 * into memory, and parsed from the bytes that were hashed.
 *
 * The manifest is not signed: a bundle is as trustworthy as the way it was
 * carried; compare the roots' fingerprints out of band.  This module reads
 * only the bundle directory and never reaches the network.
 */
#ifndef SIGNET_BUNDLE_H
#define SIGNET_BUNDLE_H

#include <stddef.h>

#include "signet_trust.h"

#define CLI_BUNDLE_FORMAT "signet-bundle"
#define CLI_BUNDLE_VERSION 1
#define CLI_BUNDLE_FILES_MAX 4096 /* files listed in a manifest */

/*
 * Loads the bundle in dir into t: roots as trust anchors, chains and tsa as
 * untrusted certificates, CRLs, named keys.  Returns 0, SG_ERR_NOT_FOUND (no
 * manifest), SG_ERR_CONFIG (anything wrong with the bundle; why says what
 * and where), SG_ERR_IO or SG_ERR_NOMEM.
 */
int cli_bundle_load(struct cli_trust *t, const char *dir, char *why, size_t why_len);

#endif /* SIGNET_BUNDLE_H */
