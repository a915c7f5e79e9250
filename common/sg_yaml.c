/* sg_yaml: see sg_yaml.h. */
#include "sg_yaml.h"
#include "sg_err.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>
#include <zmq.h>

const cyaml_strval_t sg_yaml_bool_strings[2] = {
    {"false", SG_YAML_BOOL_FALSE},
    {"true", SG_YAML_BOOL_TRUE},
};

/* What a path names: the kind of the node found there. */
enum sg_yaml_kind {
	SG_YAML_KIND_UNKNOWN = 0,
	SG_YAML_KIND_SCALAR,
	SG_YAML_KIND_SEQ,
	SG_YAML_KIND_MAP,
};

/* One mapping key or sequence entry (or the top level, path ""). */
struct sg_yaml_ent {
	char *path;
	unsigned line;
	size_t seq; /* order of appearance in the file */
	enum sg_yaml_kind kind;
};

struct sg_yaml_doc {
	char *path;
	struct sg_yaml_ent *ents; /* sorted by path once the pre-scan is done */
	size_t n, cap;
};

/* Pre-scan state of one open mapping or sequence. */
struct sg_yaml_frame {
	int is_map;
	int expect_key;
	size_t next_idx; /* sequences: index of the next entry */
	char *path;      /* this container's path */
	char *key_path;  /* mappings: path of the key whose value comes next */
	size_t key_ent;  /* mappings: index in ents of that key */
};

/* What the log callback captured from libcyaml. */
#define SG_YAML_BT_MAX (2 * SG_YAML_MAX_DEPTH + 8)
enum sg_yaml_bt_kind {
	SG_YAML_BT_OTHER = 0,
	SG_YAML_BT_FIELD,
	SG_YAML_BT_ENTRY,
};
struct sg_yaml_log {
	char reason[256]; /* first error or warning outside the backtrace */
	char hint[256];   /* last lower-level message that names a key */
	int in_bt;
	struct {
		enum sg_yaml_bt_kind kind;
		char name[SG_YAML_KEY_MAX + 1];
		unsigned long idx; /* 1-based, as libcyaml prints it */
		unsigned line;
	} bt[SG_YAML_BT_MAX]; /* innermost first */
	size_t n_bt;
};

/* Copies src into dst (n bytes), truncating; dst is always NUL-terminated. */
static void
sg_yaml_copy(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);

	if (n == 0)
		return;
	if (len >= n)
		len = n - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

void
sg_yaml_doc_free(struct sg_yaml_doc *doc)
{
	size_t i;

	if (doc == NULL)
		return;
	for (i = 0; i < doc->n; i++)
		free(doc->ents[i].path);
	free(doc->ents);
	free(doc->path);
	free(doc);
}

const char *
sg_yaml_doc_path(const struct sg_yaml_doc *doc)
{
	return doc->path;
}

static int
sg_yaml_ent_cmp(const void *a, const void *b)
{
	const struct sg_yaml_ent *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c != 0)
		return c;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static const struct sg_yaml_ent *
sg_yaml_find(const struct sg_yaml_doc *doc, const char *field)
{
	size_t lo = 0, hi = doc->n, mid;
	int c;

	/* Lower bound, so that the first occurrence wins. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(doc->ents[mid].path, field);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < doc->n && strcmp(doc->ents[lo].path, field) == 0)
		return &doc->ents[lo];
	return NULL;
}

unsigned
sg_yaml_line(const struct sg_yaml_doc *doc, const char *field)
{
	const struct sg_yaml_ent *e;

	if (doc == NULL || field == NULL || (e = sg_yaml_find(doc, field)) == NULL)
		return 0;
	return e->line;
}

static enum sg_yaml_kind
sg_yaml_kind(const struct sg_yaml_doc *doc, const char *field)
{
	const struct sg_yaml_ent *e = sg_yaml_find(doc, field);

	return e == NULL ? SG_YAML_KIND_UNKNOWN : e->kind;
}

/* Drops the last component of a path in place ("a[1].b" -> "a[1]" -> "a" -> ""). */
static void
sg_yaml_path_up(char *p)
{
	size_t n = strlen(p);

	if (n > 0 && p[n - 1] == ']') {
		while (n > 0 && p[n - 1] != '[')
			n--;
		if (n > 0)
			n--;
	} else {
		while (n > 0 && p[n - 1] != '.' && p[n - 1] != ']')
			n--;
		if (n > 0 && p[n - 1] == '.')
			n--;
	}
	p[n] = '\0';
}

/* Line of field, else of its nearest ancestor present in the file; 0 if none. */
static unsigned
sg_yaml_line_near(const struct sg_yaml_doc *doc, const char *field)
{
	char buf[1024];
	unsigned line;

	if (doc == NULL)
		return 0;
	(void)snprintf(buf, sizeof(buf), "%s", field);
	for (;;) {
		if ((line = sg_yaml_line(doc, buf)) != 0)
			return line;
		if (buf[0] == '\0')
			return 0;
		sg_yaml_path_up(buf);
	}
}

static void sg_yaml_vwhy(const char *file, unsigned line, char *why, size_t why_len,
                         const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

static void
sg_yaml_vwhy(const char *file, unsigned line, char *why, size_t why_len, const char *field,
             const char *fmt, va_list ap)
{
	char reason[512], where[64];

	if (why == NULL || why_len == 0)
		return;
	(void)vsnprintf(reason, sizeof(reason), fmt, ap);
	where[0] = '\0';
	if (line != 0)
		(void)snprintf(where, sizeof(where), ":%u", line);
	if (field != NULL && field[0] != '\0')
		(void)snprintf(why, why_len, "%s%s: field '%s': %s", file, where, field, reason);
	else
		(void)snprintf(why, why_len, "%s%s: %s", file, where, reason);
}

static void sg_yaml_fwhy(const char *file, unsigned line, char *why, size_t why_len,
                         const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void
sg_yaml_fwhy(const char *file, unsigned line, char *why, size_t why_len, const char *field,
             const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sg_yaml_vwhy(file, line, why, why_len, field, fmt, ap);
	va_end(ap);
}

void
sg_yaml_why(const struct sg_yaml_doc *doc, char *why, size_t why_len, const char *field,
            const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sg_yaml_vwhy(doc->path, sg_yaml_line_near(doc, field), why, why_len, field, fmt, ap);
	va_end(ap);
}

/*
 * Reads the whole file, refusing anything but a regular file of at most
 * SG_YAML_MAX_FILE bytes.  O_NONBLOCK keeps a FIFO from blocking the open.
 */
static int
sg_yaml_read(const char *path, int bad, unsigned char **out, size_t *out_len, char *why,
             size_t why_len)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd = -1, r = SG_ERR_INTERNAL;

	*out = NULL;
	*out_len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1) {
		r = errno == ENOENT ? SG_ERR_NOT_FOUND : SG_ERR_IO;
		sg_whyf(why, why_len, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		r = SG_ERR_IO;
		sg_whyf(why, why_len, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = SG_ERR_IO;
		sg_whyf(why, why_len, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > SG_YAML_MAX_FILE) {
		r = bad;
		sg_whyf(why, why_len, "%s: file is larger than %d bytes", path, SG_YAML_MAX_FILE);
		goto out;
	}
	/* One spare byte so that a file that grew since fstat is caught, not truncated. */
	if ((buf = malloc(SG_YAML_MAX_FILE + 1)) == NULL) {
		r = SG_ERR_NOMEM;
		sg_whyf(why, why_len, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		n = read(fd, buf + len, SG_YAML_MAX_FILE + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = SG_ERR_IO;
			sg_whyf(why, why_len, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > SG_YAML_MAX_FILE) {
			r = bad;
			sg_whyf(why, why_len, "%s: file is larger than %d bytes", path,
			        SG_YAML_MAX_FILE);
			goto out;
		}
	}
	if (len == 0) {
		r = bad;
		sg_whyf(why, why_len, "%s: file is empty", path);
		goto out;
	}
	*out = buf;
	buf = NULL;
	*out_len = len;
	r = 0;
out:
	free(buf);
	if (fd != -1)
		(void)close(fd);
	return r;
}

static int
sg_yaml_add(struct sg_yaml_doc *doc, char *path, unsigned line, enum sg_yaml_kind kind, size_t *idx)
{
	struct sg_yaml_ent *n;
	size_t cap;

	if (doc->n == doc->cap) {
		cap = doc->cap == 0 ? 64 : doc->cap * 2;
		if ((n = realloc(doc->ents, cap * sizeof(*n))) == NULL)
			return SG_ERR_NOMEM;
		doc->ents = n;
		doc->cap = cap;
	}
	if ((doc->ents[doc->n].path = strdup(path)) == NULL)
		return SG_ERR_NOMEM;
	doc->ents[doc->n].line = line;
	doc->ents[doc->n].seq = doc->n;
	doc->ents[doc->n].kind = kind;
	if (idx != NULL)
		*idx = doc->n;
	doc->n++;
	return 0;
}

/* Mapping keys must be plain field names, so that paths stay unambiguous. */
static int
sg_yaml_key_valid(const char *k, size_t len)
{
	size_t i;

	if (len == 0 || len > SG_YAML_KEY_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = k[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static char *
sg_yaml_path_key(const char *parent, const char *key)
{
	char *p = NULL;

	if (asprintf(&p, "%s%s%s", parent, parent[0] != '\0' ? "." : "", key) < 0)
		return NULL;
	return p;
}

static char *
sg_yaml_path_idx(const char *parent, size_t i)
{
	char *p = NULL;

	if (asprintf(&p, "%s[%zu]", parent, i) < 0)
		return NULL;
	return p;
}

static enum sg_yaml_kind
sg_yaml_event_kind(yaml_event_type_t t)
{
	switch (t) {
	case YAML_SCALAR_EVENT:
		return SG_YAML_KIND_SCALAR;
	case YAML_SEQUENCE_START_EVENT:
		return SG_YAML_KIND_SEQ;
	case YAML_MAPPING_START_EVENT:
		return SG_YAML_KIND_MAP;
	default:
		return SG_YAML_KIND_UNKNOWN;
	}
}

/*
 * Records the start of a node (scalar, sequence or mapping) and returns its
 * path in *path (malloc'ed).  A scalar in key position is recorded as a key;
 * *is_key tells the caller.
 */
static int
sg_yaml_node(struct sg_yaml_doc *doc, struct sg_yaml_frame *stack, size_t depth,
             const yaml_event_t *ev, char **path, int *is_key, char *why, size_t why_len, int bad)
{
	struct sg_yaml_frame *f = depth > 0 ? &stack[depth - 1] : NULL;
	enum sg_yaml_kind kind = sg_yaml_event_kind(ev->type);
	unsigned line = (unsigned)ev->start_mark.line + 1;
	const char *key;
	size_t klen;
	int r = SG_ERR_INTERNAL;

	*path = NULL;
	*is_key = 0;
	if (f == NULL) {
		if (kind != SG_YAML_KIND_MAP) {
			r = bad;
			sg_yaml_fwhy(doc->path, line, why, why_len, NULL,
			             "the top level must be a mapping");
			goto out;
		}
		if ((*path = strdup("")) == NULL)
			return SG_ERR_NOMEM;
		return sg_yaml_add(doc, *path, line, kind, NULL);
	}
	if (!f->is_map) {
		if ((*path = sg_yaml_path_idx(f->path, f->next_idx++)) == NULL)
			return SG_ERR_NOMEM;
		return sg_yaml_add(doc, *path, line, kind, NULL);
	}
	if (!f->expect_key) {
		/* The value of the key just seen: its path and line are the key's. */
		f->expect_key = 1;
		doc->ents[f->key_ent].kind = kind;
		if ((*path = strdup(f->key_path)) == NULL)
			return SG_ERR_NOMEM;
		return 0;
	}
	if (kind != SG_YAML_KIND_SCALAR) {
		r = bad;
		sg_yaml_fwhy(doc->path, line, why, why_len, f->path,
		             "mapping keys must be plain names");
		goto out;
	}
	key = (const char *)ev->data.scalar.value;
	klen = ev->data.scalar.length;
	if (!sg_yaml_key_valid(key, klen) || strlen(key) != klen) {
		r = bad;
		sg_yaml_fwhy(doc->path, line, why, why_len, f->path,
		             "invalid field name (expected [A-Za-z0-9_-]{1,%d})", SG_YAML_KEY_MAX);
		goto out;
	}
	free(f->key_path);
	if ((f->key_path = sg_yaml_path_key(f->path, key)) == NULL)
		return SG_ERR_NOMEM;
	f->expect_key = 0;
	*is_key = 1;
	return sg_yaml_add(doc, f->key_path, line, SG_YAML_KIND_UNKNOWN, &f->key_ent);
out:
	return r;
}

static const char *
sg_yaml_anchor(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return (const char *)ev->data.scalar.anchor;
	case YAML_SEQUENCE_START_EVENT:
		return (const char *)ev->data.sequence_start.anchor;
	case YAML_MAPPING_START_EVENT:
		return (const char *)ev->data.mapping_start.anchor;
	default:
		return NULL;
	}
}

/* Path of the node an event is about to start (for the error message), in buf. */
static const char *
sg_yaml_next_field(const struct sg_yaml_frame *stack, size_t depth, char *buf, size_t len)
{
	const struct sg_yaml_frame *f = depth > 0 ? &stack[depth - 1] : NULL;

	if (f == NULL)
		return NULL;
	if (f->is_map && !f->expect_key)
		return f->key_path;
	if (!f->is_map) {
		(void)snprintf(buf, len, "%s[%zu]", f->path, f->next_idx);
		return buf;
	}
	return f->path;
}

/* After the scan: a path seen twice is a duplicate key; report its second use. */
static int
sg_yaml_check_dups(struct sg_yaml_doc *doc, int bad, char *why, size_t why_len)
{
	const struct sg_yaml_ent *first = NULL, *second = NULL;
	const char *key;
	size_t i;

	qsort(doc->ents, doc->n, sizeof(*doc->ents), sg_yaml_ent_cmp);
	for (i = 1; i < doc->n; i++) {
		if (strcmp(doc->ents[i - 1].path, doc->ents[i].path) != 0)
			continue;
		if (second == NULL || doc->ents[i].seq < second->seq) {
			first = &doc->ents[i - 1];
			second = &doc->ents[i];
		}
	}
	if (second == NULL)
		return 0;
	/* Walk back to the first occurrence of that path. */
	while (first > doc->ents && strcmp((first - 1)->path, second->path) == 0)
		first--;
	key = strrchr(second->path, '.');
	key = key == NULL ? second->path : key + 1;
	sg_yaml_fwhy(doc->path, second->line, why, why_len, second->path,
	             "duplicate key '%s' (first at line %u)", key, first->line);
	return bad;
}

static int
sg_yaml_prescan(struct sg_yaml_doc *doc, const unsigned char *buf, size_t len, int bad, char *why,
                size_t why_len)
{
	struct sg_yaml_frame stack[SG_YAML_MAX_DEPTH];
	yaml_parser_t parser;
	yaml_event_t ev;
	size_t depth = 0, i;
	unsigned line;
	int have_parser = 0, have_ev = 0, done = 0, ndocs = 0, is_key, r = SG_ERR_INTERNAL;
	char *path = NULL, fbuf[1024];

	memset(stack, 0, sizeof(stack));
	if (!yaml_parser_initialize(&parser)) {
		r = SG_ERR_NOMEM;
		sg_whyf(why, why_len, "%s: cannot initialise the YAML parser", doc->path);
		goto out;
	}
	have_parser = 1;
	yaml_parser_set_input_string(&parser, buf, len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			r = bad;
			sg_yaml_fwhy(doc->path, (unsigned)parser.problem_mark.line + 1, why,
			             why_len, NULL, "YAML syntax error: %s%s%s",
			             parser.problem != NULL ? parser.problem : "unknown",
			             parser.context != NULL ? " " : "",
			             parser.context != NULL ? parser.context : "");
			goto out;
		}
		have_ev = 1;
		line = (unsigned)ev.start_mark.line + 1;
		if (sg_yaml_anchor(&ev) != NULL) {
			r = bad;
			sg_yaml_fwhy(doc->path, line, why, why_len,
			             sg_yaml_next_field(stack, depth, fbuf, sizeof(fbuf)),
			             "YAML anchors are not allowed");
			goto out;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++ndocs > 1) {
				r = bad;
				sg_yaml_fwhy(doc->path, line, why, why_len, NULL,
				             "only one YAML document is allowed");
				goto out;
			}
			break;
		case YAML_ALIAS_EVENT:
			r = bad;
			sg_yaml_fwhy(doc->path, line, why, why_len,
			             sg_yaml_next_field(stack, depth, fbuf, sizeof(fbuf)),
			             "YAML aliases are not allowed");
			goto out;
		case YAML_SCALAR_EVENT:
			if ((r = sg_yaml_node(doc, stack, depth, &ev, &path, &is_key, why, why_len,
			                      bad)) != 0)
				goto out;
			free(path);
			path = NULL;
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if ((r = sg_yaml_node(doc, stack, depth, &ev, &path, &is_key, why, why_len,
			                      bad)) != 0)
				goto out;
			if (depth == SG_YAML_MAX_DEPTH) {
				r = bad;
				sg_yaml_fwhy(doc->path, line, why, why_len, path,
				             "nested more than %d levels deep", SG_YAML_MAX_DEPTH);
				goto out;
			}
			memset(&stack[depth], 0, sizeof(stack[depth]));
			stack[depth].is_map = ev.type == YAML_MAPPING_START_EVENT;
			stack[depth].expect_key = 1;
			stack[depth].path = path;
			path = NULL;
			depth++;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0) {
				depth--;
				free(stack[depth].path);
				free(stack[depth].key_path);
				memset(&stack[depth], 0, sizeof(stack[depth]));
			}
			break;
		case YAML_NO_EVENT:
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
		default:
			break;
		}
		yaml_event_delete(&ev);
		have_ev = 0;
	}
	if (ndocs == 0) {
		r = bad;
		sg_whyf(why, why_len, "%s: file is empty (no YAML document)", doc->path);
		goto out;
	}
	if ((r = sg_yaml_check_dups(doc, bad, why, why_len)) != 0)
		goto out;
	r = 0;
out:
	free(path);
	for (i = 0; i < depth; i++) {
		free(stack[i].path);
		free(stack[i].key_path);
	}
	if (have_ev)
		yaml_event_delete(&ev);
	if (have_parser)
		yaml_parser_delete(&parser);
	return r;
}

/* Parses one line of libcyaml's backtrace ("  in mapping field 'x' (line: 3, ..."). */
static void
sg_yaml_log_frame(struct sg_yaml_log *lg, const char *msg)
{
	char name[SG_YAML_KEY_MAX + 1];
	unsigned long idx;
	unsigned line = 0;
	const char *p;

	if (lg->n_bt == SG_YAML_BT_MAX)
		return;
	memset(&lg->bt[lg->n_bt], 0, sizeof(lg->bt[lg->n_bt]));
	if ((p = strstr(msg, "(line: ")) != NULL)
		(void)sscanf(p, "(line: %u", &line);
	lg->bt[lg->n_bt].line = line;
	if (sscanf(msg, " in mapping field '%64[^']'", name) == 1) {
		lg->bt[lg->n_bt].kind = SG_YAML_BT_FIELD;
		(void)snprintf(lg->bt[lg->n_bt].name, sizeof(lg->bt[lg->n_bt].name), "%s", name);
	} else if (sscanf(msg, " in sequence entry '%lu'", &idx) == 1 && idx > 0) {
		lg->bt[lg->n_bt].kind = SG_YAML_BT_ENTRY;
		lg->bt[lg->n_bt].idx = idx;
	} else {
		lg->bt[lg->n_bt].kind = SG_YAML_BT_OTHER;
	}
	lg->n_bt++;
}

/*
 * libcyaml log callback.  Error-level messages give the reason and the
 * backtrace; some libcyaml versions name an offending key only at debug
 * level, so lower levels are captured too (as a hint).
 */
static void sg_yaml_log_fn(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
    __attribute__((format(printf, 3, 0)));

static void
sg_yaml_log_fn(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
	struct sg_yaml_log *lg = ctx;
	char msg[512];
	const char *m = msg;
	size_t n;

	(void)vsnprintf(msg, sizeof(msg), fmt, args);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '.' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	if (strncmp(m, "Load: ", 6) == 0)
		m += 6;
	if (level >= CYAML_LOG_WARNING) {
		if (strcmp(m, "Backtrace:") == 0) {
			lg->in_bt = 1;
			lg->n_bt = 0;
		} else if (lg->in_bt && strncmp(m, "  in ", 5) == 0) {
			sg_yaml_log_frame(lg, m);
		} else if (lg->reason[0] == '\0') {
			sg_yaml_copy(lg->reason, sizeof(lg->reason), m);
		}
	} else if (strstr(m, "key: ") != NULL || strstr(m, "Key: ") != NULL) {
		sg_yaml_copy(lg->hint, sizeof(lg->hint), m);
	}
}

static const char *
sg_yaml_event_word(const char *ev)
{
	if (strncmp(ev, "SEQUENCE", 8) == 0)
		return "a sequence";
	if (strncmp(ev, "MAPPING", 7) == 0)
		return "a mapping";
	if (strncmp(ev, "SCALAR", 6) == 0)
		return "a scalar";
	if (strncmp(ev, "ALIAS", 5) == 0)
		return "an alias";
	if (strcmp(ev, "STRING") == 0)
		return "a string";
	if (strcmp(ev, "INT") == 0 || strcmp(ev, "UINT") == 0 || strcmp(ev, "FLOAT") == 0)
		return "a number";
	if (strcmp(ev, "BOOL") == 0 || strcmp(ev, "ENUM") == 0)
		return "a scalar";
	return "something else";
}

/* Turns what libcyaml logged into "FILE:LINE: field 'PATH': reason". */
static void
sg_yaml_cyaml_why(const struct sg_yaml_doc *doc, const struct sg_yaml_log *lg, cyaml_err_t e,
                  char *why, size_t why_len)
{
	char path[1024], key[SG_YAML_KEY_MAX + 1], exp[32], got[32], text[256];
	const char *reason = lg->reason[0] != '\0' ? lg->reason : lg->hint;
	unsigned line = 0, n;
	size_t i, len;
	int names_key = 0;

	path[0] = '\0';
	for (i = lg->n_bt; i > 0; i--) {
		len = strlen(path);
		switch (lg->bt[i - 1].kind) {
		case SG_YAML_BT_FIELD:
			(void)snprintf(path + len, sizeof(path) - len, "%s%s", len > 0 ? "." : "",
			               lg->bt[i - 1].name);
			break;
		case SG_YAML_BT_ENTRY:
			(void)snprintf(path + len, sizeof(path) - len, "[%lu]",
			               lg->bt[i - 1].idx - 1);
			break;
		case SG_YAML_BT_OTHER:
		default:
			break;
		}
	}
	if (lg->n_bt > 0)
		line = lg->bt[0].line;
	key[0] = '\0';
	if (reason[0] == '\0') {
		(void)snprintf(text, sizeof(text), "%s", cyaml_strerror(e));
	} else if (sscanf(reason, "Unexpected key: %64s", key) == 1) {
		names_key = 1;
		(void)snprintf(text, sizeof(text), "unknown field");
	} else if (sscanf(reason, "Missing required mapping field: %64s", key) == 1) {
		names_key = 1;
		(void)snprintf(text, sizeof(text), "required field missing");
	} else if (sscanf(reason, "Mapping field already seen: %64s", key) == 1) {
		names_key = 1;
		(void)snprintf(text, sizeof(text), "duplicate key '%s'", key);
	} else if (sscanf(reason, "Expecting %31[A-Z_], got event: %31[A-Z_]", exp, got) == 2) {
		(void)snprintf(text, sizeof(text), "wrong type: expected %s, got %s",
		               sg_yaml_event_word(exp), sg_yaml_event_word(got));
	} else if (sscanf(reason, "Excessive entries (%u max)", &n) == 1) {
		if (path[0] != '\0' && path[strlen(path) - 1] == ']')
			sg_yaml_path_up(path);
		(void)snprintf(text, sizeof(text), "too many entries (at most %u)", n);
	} else if (strncmp(reason, "Insufficient entries", 20) == 0) {
		if (path[0] != '\0' && path[strlen(path) - 1] == ']')
			sg_yaml_path_up(path);
		(void)snprintf(text, sizeof(text), "too few entries");
	} else if (sscanf(reason, "STRING length > %u", &n) == 1) {
		/* Not echoing the value: it may be long. */
		(void)snprintf(text, sizeof(text), "string longer than %u characters", n);
	} else if (sscanf(reason, "STRING length < %u", &n) == 1) {
		(void)snprintf(text, sizeof(text), "string shorter than %u characters", n);
	} else {
		(void)snprintf(text, sizeof(text), "%s", reason);
	}
	if (names_key) {
		/*
		 * libcyaml's innermost frame may be the field it read last
		 * rather than the mapping that lacks or refuses the key: climb
		 * to the nearest path that the pre-scan saw as a mapping.
		 */
		while (path[0] != '\0' && sg_yaml_kind(doc, path) != SG_YAML_KIND_MAP)
			sg_yaml_path_up(path);
		len = strlen(path);
		(void)snprintf(path + len, sizeof(path) - len, "%s%s", len > 0 ? "." : "", key);
	}
	if (sg_yaml_line_near(doc, path) != 0 && (path[0] != '\0' || line == 0))
		line = sg_yaml_line_near(doc, path);
	sg_yaml_fwhy(doc->path, line, why, why_len, path, "%s", text);
}

int
sg_yaml_load(const char *path, const cyaml_schema_value_t *schema, int bad, void **data,
             struct sg_yaml_doc **doc, char *why, size_t why_len)
{
	struct sg_yaml_log *lg = NULL;
	struct sg_yaml_doc *d = NULL;
	unsigned char *buf = NULL;
	cyaml_config_t cfg;
	cyaml_data_t *out = NULL;
	cyaml_err_t e;
	size_t len = 0;
	int r = SG_ERR_INTERNAL;

	*data = NULL;
	*doc = NULL;
	if (why != NULL && why_len > 0)
		why[0] = '\0';
	if ((r = sg_yaml_read(path, bad, &buf, &len, why, why_len)) != 0)
		goto out;
	if ((d = calloc(1, sizeof(*d))) == NULL || (d->path = strdup(path)) == NULL ||
	    (lg = calloc(1, sizeof(*lg))) == NULL) {
		r = SG_ERR_NOMEM;
		sg_whyf(why, why_len, "%s: out of memory", path);
		goto out;
	}
	if ((r = sg_yaml_prescan(d, buf, len, bad, why, why_len)) != 0)
		goto out;
	memset(&cfg, 0, sizeof(cfg));
	cfg.log_fn = sg_yaml_log_fn;
	cfg.log_ctx = lg;
	cfg.mem_fn = cyaml_mem;
	cfg.log_level = CYAML_LOG_DEBUG;
	cfg.flags = CYAML_CFG_NO_ALIAS;
	e = cyaml_load_data(buf, len, &cfg, schema, &out, NULL);
	if (e == CYAML_ERR_OOM) {
		r = SG_ERR_NOMEM;
		sg_whyf(why, why_len, "%s: out of memory", path);
		goto out;
	}
	if (e != CYAML_OK) {
		r = bad;
		sg_yaml_cyaml_why(d, lg, e, why, why_len);
		goto out;
	}
	if (out == NULL) {
		/* Only possible for a schema whose fields are all optional. */
		r = bad;
		sg_whyf(why, why_len, "%s: the document is empty", path);
		goto out;
	}
	*data = out;
	out = NULL;
	*doc = d;
	d = NULL;
	r = 0;
out:
	if (out != NULL)
		sg_yaml_free(schema, out);
	sg_yaml_doc_free(d);
	free(lg);
	free(buf);
	return r;
}

void
sg_yaml_free(const cyaml_schema_value_t *schema, void *data)
{
	cyaml_config_t cfg;

	if (data == NULL)
		return;
	memset(&cfg, 0, sizeof(cfg));
	cfg.mem_fn = cyaml_mem;
	cfg.log_fn = NULL;
	cfg.log_level = CYAML_LOG_ERROR;
	(void)cyaml_free(&cfg, schema, data, 0);
}

int
sg_yaml_path_resolve(const char *doc_path, const char *p, char **out)
{
	char *copy = NULL, *dir = NULL, *res = NULL;
	int r = SG_ERR_INTERNAL;

	*out = NULL;
	if (p == NULL || p[0] == '\0' || strlen(p) > SG_YAML_PATH_MAX) {
		r = SG_ERR_INVALID_ARG;
		goto out;
	}
	if (p[0] == '/') {
		if ((res = strdup(p)) == NULL) {
			r = SG_ERR_NOMEM;
			goto out;
		}
	} else {
		if ((copy = strdup(doc_path)) == NULL) {
			r = SG_ERR_NOMEM;
			goto out;
		}
		if ((dir = realpath(dirname(copy), NULL)) == NULL) {
			r = errno == ENOMEM ? SG_ERR_NOMEM : SG_ERR_IO;
			goto out;
		}
		if (asprintf(&res, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", p) < 0) {
			res = NULL;
			r = SG_ERR_NOMEM;
			goto out;
		}
		if (strlen(res) > SG_YAML_PATH_MAX) {
			r = SG_ERR_INVALID_ARG;
			goto out;
		}
	}
	*out = res;
	res = NULL;
	r = 0;
out:
	free(res);
	free(dir);
	free(copy);
	return r;
}

int
sg_yaml_z85_key(const char *z85, unsigned char out[32])
{
	static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
	                               "VWXYZ.-:+=^!/*?&<>()[]{}@%$#";
	unsigned char tmp[32];
	char back[41];
	size_t i;
	int r = SG_ERR_BAD_VALUE;

	if (z85 == NULL || strlen(z85) != 40)
		goto out;
	for (i = 0; i < 40; i++) {
		if (strchr(alphabet, z85[i]) == NULL)
			goto out;
	}
	if (zmq_z85_decode(tmp, z85) == NULL)
		goto out;
	/* Five characters can encode more than 32 bits: require the canonical form. */
	if (zmq_z85_encode(back, tmp, sizeof(tmp)) == NULL || strcmp(back, z85) != 0)
		goto out;
	memcpy(out, tmp, sizeof(tmp));
	r = 0;
out:
	return r;
}

int
sg_yaml_endpoint_valid(const char *s)
{
	size_t i;

	if (s == NULL || (strncmp(s, "tcp://", 6) != 0 && strncmp(s, "ipc://", 6) != 0) ||
	    s[6] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return 0;
	}
	return 1;
}
