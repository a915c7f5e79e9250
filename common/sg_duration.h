/*
 * sg_duration: the one spelling of a duration that profiles, policies and
 * the CLI accept: one or more NUMBER UNIT pairs, UNIT one of s, m, h, d
 * ("90s", "24h", "7d", "1h30m").  It only parses; ranges that make sense
 * for a field are the caller's to check.
 */
#ifndef SG_DURATION_H
#define SG_DURATION_H

#include <stdint.h>

/*
 * Parses s into *out (seconds).  Every number and every partial sum must
 * stay at most max, so nothing overflows.  "0s" gives 0: a caller that
 * needs a positive duration says so.  Returns 0 or SG_ERR_BAD_VALUE (*out
 * untouched).
 */
int sg_duration_parse(const char *s, uint64_t max, uint64_t *out);

#endif
