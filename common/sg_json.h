/*
 * sg_json: the one JSON string writer of the command-line tools (--json).
 *
 * Only what the tools print needs writing, so no JSON library: a string is
 * quoted and escaped per RFC 8259; bytes that are not part of valid UTF-8
 * (token labels, file names) are escaped as \u00XX instead of being copied,
 * so the output is always valid JSON.
 */
#ifndef SG_JSON_H
#define SG_JSON_H

#include <stddef.h>
#include <stdio.h>

/* Writes the n bytes at s to f as one JSON string, quotes included. */
void sg_json_str(FILE *f, const void *s, size_t n);

#endif /* SG_JSON_H */
