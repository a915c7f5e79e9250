/*
 * crl_bench: the "crl" mode of signet-bench (docs/benchmarks.md): how the
 * time to make a CRL grows with the number of revoked serials, listing them
 * from a real audit database (sg_audit) and building, signing and checking
 * the CRL (sg_x509), against OpenSSL's own CRL code on the same entries and
 * key in the same run.
 */
#ifndef CRL_BENCH_H
#define CRL_BENCH_H

/* signet-bench crl ...: argv[0] is "crl".  Returns the process exit status. */
int cmd_crl(int argc, char **argv);

#endif /* CRL_BENCH_H */
