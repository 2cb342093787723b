/*
 * promcheck's lexing and bookkeeping: checked allocation, the string set,
 * and the readers of the format's tokens (names, UTF-8, Go floats and
 * integers). A test instrument, not part of treecast: no project headers.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promcheck.h"

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL) {
		fprintf(stderr, "promcheck: out of memory\n");
		exit(2);
	}
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n ? n : 1)) == NULL) {
		fprintf(stderr, "promcheck: out of memory\n");
		exit(2);
	}
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static uint64_t
set_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

/* The entry of key, or -1. */
long
set_find(const struct set *s, const char *key)
{
	size_t i;

	if (s->nslots == 0)
		return -1;
	for (i = set_hash(key) & (s->nslots - 1); s->slots[i] != 0;
	    i = (i + 1) & (s->nslots - 1))
		if (strcmp(s->keys[s->slots[i] - 1], key) == 0)
			return (long)(s->slots[i] - 1);
	return -1;
}

/* Adds key (copied) with val; returns its entry. The caller knows it is
 * not there yet. */
size_t
set_add(struct set *s, const char *key, int val)
{
	size_t i, j;

	if (s->n + 1 > s->nslots / 2) {
		free(s->slots);
		s->nslots = s->nslots ? s->nslots * 2 : 64;
		s->slots = calloc(s->nslots, sizeof *s->slots);
		if (s->slots == NULL) {
			fprintf(stderr, "promcheck: out of memory\n");
			exit(2);
		}
		for (j = 0; j < s->n; j++) {
			for (i = set_hash(s->keys[j]) & (s->nslots - 1);
			    s->slots[i] != 0; i = (i + 1) & (s->nslots - 1))
				;
			s->slots[i] = j + 1;
		}
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->keys = xrealloc(s->keys, s->cap * sizeof *s->keys);
		s->vals = xrealloc(s->vals, s->cap * sizeof *s->vals);
	}
	s->keys[s->n] = xstrndup(key, strlen(key));
	s->vals[s->n] = val;
	for (i = set_hash(key) & (s->nslots - 1); s->slots[i] != 0;
	    i = (i + 1) & (s->nslots - 1))
		;
	s->slots[i] = s->n + 1;
	return s->n++;
}

void
set_free(struct set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->keys[i]);
	free(s->keys);
	free(s->vals);
	free(s->slots);
}

int
is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

const char *
skip_blanks(const char *p, const char *end)
{
	while (p < end && is_blank(*p))
		p++;
	return p;
}

int
name_char(char ch, int first, int colon)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_')
		return 1;
	if (colon && ch == ':')
		return 1;
	return !first && ch >= '0' && ch <= '9';
}

/* The length of the metric name (colon) or label name at p, 0 if none. */
size_t
name_len(const char *p, const char *end, int colon)
{
	size_t n = 0;

	while (p + n < end && name_char(p[n], n == 0, colon))
		n++;
	return n;
}

/* Whether [p, end) is well-formed UTF-8 (no overlongs, no surrogates). */
int
utf8_ok(const unsigned char *p, const unsigned char *end)
{
	unsigned need, cp, min;

	while (p < end) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0) {
			need = 1; cp = *p & 0x1f; min = 0x80;
		} else if ((*p & 0xf0) == 0xe0) {
			need = 2; cp = *p & 0x0f; min = 0x800;
		} else if ((*p & 0xf8) == 0xf0) {
			need = 3; cp = *p & 0x07; min = 0x10000;
		} else
			return 0;
		if ((size_t)(end - p) <= need)
			return 0;
		for (p++; need > 0; need--, p++) {
			if ((*p & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (*p & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
	}
	return 1;
}

int
ieq(const char *a, size_t n, const char *b)
{
	size_t i;

	if (strlen(b) != n)
		return 0;
	for (i = 0; i < n; i++) {
		char x = a[i];

		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (x != b[i])
			return 0;
	}
	return 1;
}

int
is_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
	    (ch >= 'A' && ch <= 'F');
}

/*
 * Parses [s, s+n) as Go's strconv.ParseFloat(s, 64) would accept it:
 * [+-] then Inf or Infinity (any case), or unsigned NaN, or a decimal
 * (digits, an optional point and digits, at least one digit, an optional
 * e exponent), or 0x hexadecimal digits with an optional point and a
 * mandatory p exponent. Out of range (overflow) is an error, as in Go.
 * Returns 0 and the value, or -1.
 */
int
go_float(const char *s, size_t n, double *out)
{
	const char *p = s, *end = s + n;
	size_t digits = 0;
	char buf[128], *e;
	int neg = 0, hex = 0;

	if (n == 0 || n >= sizeof buf)
		return -1;
	if (ieq(s, n, "nan")) {
		*out = NAN;
		return 0;
	}
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (ieq(p, (size_t)(end - p), "inf") ||
	    ieq(p, (size_t)(end - p), "infinity")) {
		*out = neg ? -INFINITY : INFINITY;
		return 0;
	}
	if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		hex = 1;
		p += 2;
	}
	for (; p < end && (hex ? is_hex(*p) : (*p >= '0' && *p <= '9')); p++)
		digits++;
	if (p < end && *p == '.')
		for (p++; p < end && (hex ? is_hex(*p) :
		    (*p >= '0' && *p <= '9')); p++)
			digits++;
	if (digits == 0)
		return -1;
	if (p < end && (hex ? (*p == 'p' || *p == 'P') :
	    (*p == 'e' || *p == 'E'))) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || *p < '0' || *p > '9')
			return -1;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	} else if (hex)
		return -1;	/* Go: "hexadecimal mantissa requires a 'p' exponent" */
	if (p != end)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	*out = strtod(buf, &e);
	if (*e != '\0')
		return -1;
	if (errno == ERANGE && isinf(*out))
		return -1;	/* underflow is no error in Go, overflow is */
	return 0;
}

/* A timestamp: strconv.ParseInt(s, 10, 64). */
int
go_int64(const char *s, size_t n)
{
	char buf[32], *e;

	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (buf[buf[0] == '+' || buf[0] == '-'] < '0' ||
	    buf[buf[0] == '+' || buf[0] == '-'] > '9')
		return -1;
	errno = 0;
	(void)strtoll(buf, &e, 10);
	return *e != '\0' || errno == ERANGE ? -1 : 0;
}
