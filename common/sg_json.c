/* sg_json: see sg_json.h. */
#include "sg_json.h"
#include "sg_wire.h"

void
sg_json_str(FILE *f, const void *s, size_t n)
{
	const unsigned char *p = s;
	int utf8 = sg_wire_utf8_valid(p, n);
	size_t i;

	fputc('"', f);
	for (i = 0; i < n; i++) {
		switch (p[i]) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			/* Control characters, and every high byte of a string that is not UTF-8. */
			if (p[i] < 0x20 || p[i] == 0x7f || (p[i] >= 0x80 && !utf8))
				fprintf(f, "\\u%04x", p[i]);
			else
				fputc(p[i], f);
			break;
		}
	}
	fputc('"', f);
}
