/*
 * promcheck: a strict checker of the Prometheus text exposition format,
 * version 0.0.4, for the negotiator's /metrics.
 *
 *   promcheck [-p PREFIX] [-n MAX] [-W] [FILE]
 *
 * Reads FILE (standard input without one or with "-") and prints each
 * violation as "LINE: error: WHAT" (the first MAX, default 20), each doubt
 * as "LINE: warning: WHAT"; exits 0 when there is no error, 1 when there
 * is, 2 when it cannot read. -p names the prefix every metric name must
 * carry (default "treecast_"; -p '' for none); -W makes every warning
 * an error.
 *
 * The rules, from the format's documentation ("Text-based format",
 * version 0.0.4), checked more strictly than Prometheus' own parser:
 * - lines end with '\n', the last one too; no '\r', no NUL; UTF-8;
 * - "# HELP name text" and "# TYPE name counter|gauge|histogram|summary|
 *   untyped"; any other '#' line is a comment; empty lines are ignored;
 * - a sample is name[{label="value",...}] value [timestamp]; names match
 *   [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (not
 *   __name__), each at most once in a sample; label values escape only
 *   \\ \" \n, HELP text only \\ \n;
 * - a value is a Go float (strconv.ParseFloat: decimal or 0x hexadecimal
 *   with a p exponent, NaN, [+-]Inf or Infinity in any case; not out of
 *   range; no '_' separators), a timestamp a 64-bit integer (ms);
 * - "All lines for a given metric must be provided as one single group,
 *   with the optional HELP and TYPE lines first": each family's TYPE at
 *   most once and before its samples, HELP likewise, its lines contiguous;
 *   a histogram's samples are name_bucket (with le), name_sum and
 *   name_count, a summary's name (with quantile), name_sum and name_count;
 *   every histogram series has its le="+Inf" bucket;
 * - no series twice (the same name and label set, in any order);
 * - treecast's own: every name carries the prefix; a counter's name ends
 *   in _total (the OpenMetrics convention: a warning) and a counter is
 *   not negative (a warning).
 *
 * A test instrument, not part of treecast: no project headers.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "promcheck.h"

enum ptype { T_NONE, T_COUNTER, T_GAUGE, T_HISTOGRAM, T_SUMMARY, T_UNTYPED };
static const char *const ptype_names[] = {
	"", "counter", "gauge", "histogram", "summary", "untyped"
};

/* One metric family, as far as the lines so far declared it. */
struct family {
	char		*name;
	enum ptype	 type;
	unsigned	 help_line, type_line, sample_line;	/* first of each */
	unsigned	 samples;
	int		 closed;	/* another family's line came after it */
};


struct check {
	const char	*prefix;
	unsigned	 max_errors, errors, warnings;
	int		 werror;	/* -W */
	unsigned	 line;
	struct family	*fam;
	size_t		 nfam, capfam;
	struct set	 famidx;	/* name -> index in fam */
	struct set	 series;	/* name + sorted labels */
	struct set	 buckets;	/* histogram series sans le -> has +Inf */
	long		 cur;		/* family of the previous line, -1 */
	unsigned long	 nsamples;
};


static void say(struct check *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports an error (is_error) or a warning at the current line. */
static void
say(struct check *c, int is_error, const char *fmt, ...)
{
	va_list ap;

	if (c->werror)
		is_error = 1;
	if (is_error)
		c->errors++;
	else
		c->warnings++;
	if (is_error ? c->errors > c->max_errors :
	    c->warnings > c->max_errors)
		return;
	printf("%u: %s: ", c->line, is_error ? "error" : "warning");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}


static long
family_get(struct check *c, const char *name, size_t len)
{
	char *key = xstrndup(name, len);
	long i = set_find(&c->famidx, key);

	if (i >= 0)
		i = c->famidx.vals[i];
	free(key);
	return i;
}

static long
family_add(struct check *c, const char *name, size_t len)
{
	struct family *f;

	if (c->nfam == c->capfam) {
		c->capfam = c->capfam ? c->capfam * 2 : 64;
		c->fam = xrealloc(c->fam, c->capfam * sizeof *c->fam);
	}
	f = &c->fam[c->nfam];
	memset(f, 0, sizeof *f);
	f->name = xstrndup(name, len);
	set_add(&c->famidx, f->name, (int)c->nfam);
	return (long)c->nfam++;
}

/* A line of family i comes: its group must not have ended. */
static void
family_touch(struct check *c, long i)
{
	if (c->cur == i)
		return;
	if (c->fam[i].closed)
		say(c, 1, "lines of '%s' are not together (its group ended "
		    "before line %u)", c->fam[i].name, c->fam[i].closed);
	if (c->cur >= 0 && !c->fam[c->cur].closed)
		c->fam[c->cur].closed = c->line;
	c->cur = i;
}

static void
check_prefix(struct check *c, const char *name, size_t len)
{
	size_t n = strlen(c->prefix);

	if (len < n || memcmp(name, c->prefix, n) != 0 || len == n)
		say(c, 1, "'%.*s' does not start with '%s'", (int)len, name,
		    c->prefix);
}

/* "# HELP name text" or "# TYPE name type"; p is past the keyword. */
static void
check_meta(struct check *c, int help, const char *p, const char *end)
{
	const char *name, *q;
	size_t len, i;
	long f;

	if (p == end || !is_blank(*p)) {
		say(c, 1, "%s needs a metric name", help ? "HELP" : "TYPE");
		return;
	}
	p = skip_blanks(p, end);
	name = p;
	len = name_len(p, end, 1);
	p += len;
	if (len == 0 || (p < end && !is_blank(*p))) {
		say(c, 1, "%s: invalid metric name '%.*s'", help ? "HELP" :
		    "TYPE", (int)(end - name), name);
		return;
	}
	check_prefix(c, name, len);
	if ((f = family_get(c, name, len)) < 0)
		f = family_add(c, name, len);
	family_touch(c, f);
	p = skip_blanks(p, end);
	if (help) {
		if (c->fam[f].help_line != 0)
			say(c, 1, "second HELP for '%s' (first at line %u)",
			    c->fam[f].name, c->fam[f].help_line);
		else
			c->fam[f].help_line = c->line;
		if (c->fam[f].samples > 0)
			say(c, 1, "HELP for '%s' after its samples",
			    c->fam[f].name);
		for (q = p; q < end; q++) {
			if (*q != '\\')
				continue;
			if (q + 1 == end || (q[1] != '\\' && q[1] != 'n')) {
				say(c, 1, "HELP text: invalid escape '\\%.1s' "
				    "(only \\\\ and \\n)", q + 1 == end ? "" : q + 1);
				break;
			}
			q++;
		}
		return;
	}
	for (q = end; q > p && is_blank(q[-1]); q--)
		;
	for (i = T_COUNTER; i <= T_UNTYPED; i++)
		if ((size_t)(q - p) == strlen(ptype_names[i]) &&
		    memcmp(p, ptype_names[i], (size_t)(q - p)) == 0)
			break;
	if (i > T_UNTYPED) {
		say(c, 1, "TYPE '%.*s' is none of counter, gauge, histogram, "
		    "summary, untyped", (int)(q - p), p);
		return;
	}
	if (c->fam[f].type_line != 0) {
		say(c, 1, "second TYPE for '%s' (first at line %u)",
		    c->fam[f].name, c->fam[f].type_line);
		return;
	}
	if (c->fam[f].samples > 0) {
		say(c, 1, "TYPE for '%s' after its samples (line %u)",
		    c->fam[f].name, c->fam[f].sample_line);
		return;
	}
	c->fam[f].type = (enum ptype)i;
	c->fam[f].type_line = c->line;
	if (i == T_COUNTER && (len < 6 || memcmp(name + len - 6, "_total", 6)))
		say(c, 0, "counter '%s' does not end in _total",
		    c->fam[f].name);
}

/* Which family a sample name belongs to: its own if declared, else a
 * histogram's or summary's for the _bucket, _sum and _count suffixes,
 * else a new untyped one. *suffix says which suffix matched. */
static long
sample_family(struct check *c, const char *name, size_t len,
    const char **suffix)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	long f;
	size_t i, n;

	*suffix = "";
	if ((f = family_get(c, name, len)) >= 0 && c->fam[f].type != T_NONE)
		return f;
	for (i = 0; i < 3; i++) {
		long b;

		n = strlen(sfx[i]);
		if (len <= n || memcmp(name + len - n, sfx[i], n) != 0)
			continue;
		if ((b = family_get(c, name, len - n)) < 0)
			continue;
		if (c->fam[b].type == T_HISTOGRAM ||
		    (c->fam[b].type == T_SUMMARY && i > 0)) {
			*suffix = sfx[i];
			return b;
		}
	}
	return f >= 0 ? f : family_add(c, name, len);
}

struct label {
	const char	*name;
	size_t		 nlen;
	char		*value;		/* unescaped, owned */
};

static int
label_cmp(const void *a, const void *b)
{
	const struct label *x = a, *y = b;
	size_t n = x->nlen < y->nlen ? x->nlen : y->nlen;
	int r = memcmp(x->name, y->name, n);

	return r != 0 ? r : (x->nlen > y->nlen) - (x->nlen < y->nlen);
}

/* The series key: name, then each label but skip (if not NULL), sorted;
 * '\1' and '\2' cannot occur in names, and values are length-prefixed. */
static char *
series_key(const char *name, size_t len, struct label *l, size_t nl,
    const char *skip)
{
	size_t i, n = len + 1;
	char *k, *p;

	for (i = 0; i < nl; i++)
		n += l[i].nlen + strlen(l[i].value) + 24;
	p = k = xmalloc(n + 1);
	p += sprintf(p, "%.*s", (int)len, name);
	for (i = 0; i < nl; i++) {
		if (skip != NULL && l[i].nlen == strlen(skip) &&
		    memcmp(l[i].name, skip, l[i].nlen) == 0)
			continue;
		p += sprintf(p, "\1%.*s\2%zu:%s", (int)l[i].nlen, l[i].name,
		    strlen(l[i].value), l[i].value);
	}
	return k;
}

static const char *
label_value(struct label *l, size_t nl, const char *name)
{
	size_t i;

	for (i = 0; i < nl; i++)
		if (l[i].nlen == strlen(name) &&
		    memcmp(l[i].name, name, l[i].nlen) == 0)
			return l[i].value;
	return NULL;
}

/* name[{labels}] value [timestamp] */
static void
check_sample(struct check *c, const char *p, const char *end)
{
	struct label *l = NULL;
	size_t nl = 0, len, i, n;
	const char *name = p, *tok, *suffix, *v;
	char *key = NULL, *out;
	double value;
	long f;
	struct family *fam;

	len = name_len(p, end, 1);
	p += len;
	if (len == 0 || (p < end && !is_blank(*p) && *p != '{')) {
		say(c, 1, "invalid metric name at '%.20s'", name);
		return;
	}
	check_prefix(c, name, len);
	p = skip_blanks(p, end);
	if (p < end && *p == '{') {
		p = skip_blanks(p + 1, end);
		while (p < end && *p != '}') {
			l = xrealloc(l, (nl + 1) * sizeof *l);
			l[nl].name = p;
			l[nl].nlen = n = name_len(p, end, 0);
			l[nl].value = NULL;
			if (n == 0) {
				say(c, 1, "invalid label name at '%.20s'", p);
				goto out;
			}
			if (n == 8 && memcmp(p, "__name__", 8) == 0) {
				say(c, 1, "label name __name__ is reserved");
				goto out;
			}
			if (n >= 2 && p[0] == '_' && p[1] == '_')
				say(c, 0, "label name '%.*s': names beginning "
				    "with __ are reserved", (int)n, p);
			for (i = 0; i < nl; i++)
				if (l[i].nlen == n && !memcmp(l[i].name, p, n)) {
					say(c, 1, "label '%.*s' twice", (int)n, p);
					goto out;
				}
			p = skip_blanks(p + n, end);
			if (p == end || *p != '=') {
				say(c, 1, "expected '=' after label '%.*s'",
				    (int)n, l[nl].name);
				goto out;
			}
			p = skip_blanks(p + 1, end);
			if (p == end || *p != '"') {
				say(c, 1, "label '%.*s': value not quoted",
				    (int)n, l[nl].name);
				goto out;
			}
			out = l[nl].value = xmalloc((size_t)(end - p));
			nl++;
			for (p++; p < end && *p != '"'; p++) {
				if (*p != '\\') {
					*out++ = *p;
					continue;
				}
				if (p + 1 == end || (p[1] != '\\' &&
				    p[1] != '"' && p[1] != 'n')) {
					say(c, 1, "label '%.*s': invalid escape "
					    "'\\%.1s' (only \\\\ \\\" \\n)",
					    (int)n, l[nl - 1].name,
					    p + 1 == end ? "" : p + 1);
					goto out;
				}
				p++;
				*out++ = *p == 'n' ? '\n' : *p;
			}
			*out = '\0';
			if (p == end) {
				say(c, 1, "label '%.*s': value not closed",
				    (int)n, l[nl - 1].name);
				goto out;
			}
			p = skip_blanks(p + 1, end);
			if (p < end && *p == ',')
				p = skip_blanks(p + 1, end);
			else if (p < end && *p != '}') {
				say(c, 1, "expected ',' or '}' after label "
				    "'%.*s'", (int)n, l[nl - 1].name);
				goto out;
			}
		}
		if (p == end) {
			say(c, 1, "label set not closed");
			goto out;
		}
		p = skip_blanks(p + 1, end);
	}
	tok = p;
	while (p < end && !is_blank(*p))
		p++;
	if (tok == p) {
		say(c, 1, "'%.*s' has no value", (int)len, name);
		goto out;
	}
	if (go_float(tok, (size_t)(p - tok), &value) != 0) {
		say(c, 1, "value '%.*s' is not a float", (int)(p - tok), tok);
		goto out;
	}
	p = skip_blanks(p, end);
	if (p < end) {
		tok = p;
		while (p < end && !is_blank(*p))
			p++;
		if (go_int64(tok, (size_t)(p - tok)) != 0) {
			say(c, 1, "timestamp '%.*s' is not a 64-bit integer",
			    (int)(p - tok), tok);
			goto out;
		}
		if (skip_blanks(p, end) != end) {
			say(c, 1, "text after the timestamp: '%.20s'",
			    skip_blanks(p, end));
			goto out;
		}
	}

	f = sample_family(c, name, len, &suffix);
	family_touch(c, f);
	fam = &c->fam[f];
	if (fam->samples++ == 0)
		fam->sample_line = c->line;
	c->nsamples++;
	if (nl > 1)
		qsort(l, nl, sizeof *l, label_cmp);
	key = series_key(name, len, l, nl, NULL);
	if (set_find(&c->series, key) >= 0)
		say(c, 1, "series '%.*s' with these labels again", (int)len,
		    name);
	else
		set_add(&c->series, key, (int)c->line);
	switch (fam->type) {
	case T_COUNTER:
		if (value < 0)
			say(c, 0, "counter '%s' is negative", fam->name);
		break;
	case T_HISTOGRAM:
		if (*suffix == '\0') {
			say(c, 1, "histogram '%s': a sample must be _bucket, "
			    "_sum or _count", fam->name);
			break;
		}
		if (strcmp(suffix, "_bucket") != 0)
			break;
		if ((v = label_value(l, nl, "le")) == NULL) {
			say(c, 1, "histogram bucket without an le label");
			break;
		}
		if (go_float(v, strlen(v), &value) != 0) {
			say(c, 1, "le=\"%s\" is not a float", v);
			break;
		}
		free(key);
		key = series_key(name, len, l, nl, "le");
		if ((f = set_find(&c->buckets, key)) < 0)
			f = (long)set_add(&c->buckets, key, (int)c->line);
		if (isinf(value) && value > 0)
			c->buckets.vals[f] = 0;	/* 0: has its +Inf bucket */
		break;
	case T_SUMMARY:
		if (*suffix != '\0')
			break;
		if ((v = label_value(l, nl, "quantile")) == NULL)
			say(c, 1, "summary '%s' without a quantile label",
			    fam->name);
		else if (go_float(v, strlen(v), &value) != 0)
			say(c, 1, "quantile=\"%s\" is not a float", v);
		break;
	default:
		break;
	}
out:
	for (i = 0; i < nl; i++)
		free(l[i].value);
	free(l);
	free(key);
}

static void
check_line(struct check *c, const char *p, const char *end)
{
	const char *q;

	if (memchr(p, '\r', (size_t)(end - p)) != NULL) {
		say(c, 1, "carriage return (lines end with \\n alone)");
		return;
	}
	if (memchr(p, '\0', (size_t)(end - p)) != NULL) {
		say(c, 1, "NUL byte");
		return;
	}
	if (!utf8_ok((const unsigned char *)p, (const unsigned char *)end)) {
		say(c, 1, "not UTF-8");
		return;
	}
	p = skip_blanks(p, end);
	if (p == end)
		return;		/* "Empty lines are ignored." */
	if (*p != '#') {
		check_sample(c, p, end);
		return;
	}
	p = skip_blanks(p + 1, end);
	for (q = p; q < end && !is_blank(*q); q++)
		;
	if (q - p == 4 && memcmp(p, "HELP", 4) == 0)
		check_meta(c, 1, q, end);
	else if (q - p == 4 && memcmp(p, "TYPE", 4) == 0)
		check_meta(c, 0, q, end);
	/* else a comment, ignored */
}

static int
usage(void)
{
	fprintf(stderr, "usage: promcheck [-p PREFIX] [-n MAX] [-W] [FILE]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	struct check c;
	FILE *in = stdin;
	char *text = NULL, *p, *nl;
	size_t len = 0, cap = 0, got, i;
	int ch;

	memset(&c, 0, sizeof c);
	c.prefix = "treecast_";
	c.max_errors = 20;
	c.cur = -1;
	while ((ch = getopt(argc, argv, "p:n:W")) != -1) {
		switch (ch) {
		case 'p':
			c.prefix = optarg;
			break;
		case 'n':
			c.max_errors = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'W':
			c.werror = 1;
			break;
		default:
			return usage();
		}
	}
	if (argc - optind > 1)
		return usage();
	if (argc > optind && strcmp(argv[optind], "-") != 0 &&
	    (in = fopen(argv[optind], "rb")) == NULL) {
		fprintf(stderr, "promcheck: %s: %s\n", argv[optind],
		    strerror(errno));
		return 2;
	}
	do {
		if (len == cap)
			text = xrealloc(text, cap = cap ? cap * 2 : 65536);
		got = fread(text + len, 1, cap - len, in);
		len += got;
	} while (got > 0);
	if (ferror(in)) {
		fprintf(stderr, "promcheck: cannot read: %s\n", strerror(errno));
		return 2;
	}

	if (len == 0) {
		c.line = 1;
		say(&c, 1, "empty: no metrics at all");
	}
	for (p = text; p < text + len; p = nl + 1) {
		c.line++;
		if ((nl = memchr(p, '\n', (size_t)(text + len - p))) == NULL) {
			nl = text + len;
			check_line(&c, p, nl);
			say(&c, 1, "the text does not end with a newline");
			break;
		}
		check_line(&c, p, nl);
	}
	for (i = 0; i < c.buckets.n; i++) {
		if (c.buckets.vals[i] == 0)
			continue;
		c.line = (unsigned)c.buckets.vals[i];
		say(&c, 1, "histogram series '%s' has no le=\"+Inf\" bucket",
		    strtok(c.buckets.keys[i], "\1"));
	}
	if (c.errors > c.max_errors)
		printf("... and %u more errors\n", c.errors - c.max_errors);
	fprintf(stderr, "promcheck: %u lines, %zu families, %lu samples: %u "
	    "errors, %u warnings\n", c.line, c.nfam, c.nsamples, c.errors,
	    c.warnings);
	for (i = 0; i < c.nfam; i++)
		free(c.fam[i].name);
	free(c.fam);
	set_free(&c.famidx);
	set_free(&c.series);
	set_free(&c.buckets);
	free(text);
	if (in != stdin)
		fclose(in);
	return c.errors > 0 ? 1 : 0;
}
