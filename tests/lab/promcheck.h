/* promcheck's shared parts: promcheck.c checks the lines, promcheck-lex.c
 * reads their tokens and keeps the sets. */
#ifndef PROMCHECK_H
#define PROMCHECK_H

#include <stddef.h>
#include <stdint.h>

/* A set of strings with an int each, by FNV-1a over open addressing; the
 * entries also stay in insertion order for iteration. */
struct set {
	char		**keys;
	int		 *vals;
	size_t		  n, cap;	/* entries in order */
	size_t		 *slots;	/* index + 1, 0 = empty */
	size_t		  nslots;
};

void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrndup(const char *s, size_t n);
long set_find(const struct set *s, const char *key);
size_t set_add(struct set *s, const char *key, int val);
void set_free(struct set *s);
int is_blank(char ch);
const char *skip_blanks(const char *p, const char *end);
int name_char(char ch, int first, int colon);
size_t name_len(const char *p, const char *end, int colon);
int ieq(const char *a, size_t n, const char *b);
int is_hex(char ch);
int utf8_ok(const unsigned char *p, const unsigned char *end);
int go_float(const char *s, size_t n, double *out);
int go_int64(const char *s, size_t n);

#endif
