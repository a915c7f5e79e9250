/* sg_duration: see sg_duration.h. */
#include "sg_duration.h"
#include "sg_err.h"

#include <stddef.h>

int
sg_duration_parse(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t total = 0, n, unit;
	const char *q = s;

	if (q == NULL || out == NULL || *q == '\0')
		return SG_ERR_BAD_VALUE;
	while (*q != '\0') {
		if (*q < '0' || *q > '9')
			return SG_ERR_BAD_VALUE;
		for (n = 0; *q >= '0' && *q <= '9'; q++) {
			n = n * 10 + (uint64_t)(*q - '0');
			if (n > max)
				return SG_ERR_BAD_VALUE;
		}
		switch (*q) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		default:
			return SG_ERR_BAD_VALUE;
		}
		q++;
		/* n <= max and total <= max: checked before adding, so no wrap for any max. */
		if (n > (max - total) / unit)
			return SG_ERR_BAD_VALUE;
		total += n * unit;
	}
	*out = total;
	return 0;
}
