/*
 * The fuzzers' dictionary, from the protocol's rows (net/wire/stun.h
 * STUN_ATTRS, net/wire/proto.h TC_METHODS and TC_ATTRS): every method's message
 * type in each class, every attribute's type, the magic cookie. Before it
 * writes, it holds the rows to the protocol's rules and fails naming the
 * row that breaks one: codes unique, methods in 0x081-0x0FF beside
 * Binding, treecast attributes in an Expert Review range (0x4000-0x7FFF or
 * 0xC000-0xFFFF), names unique.
 *
 *   tests/fuzz/make-dict [FILE]	(default: standard output)
 *
 * make check runs it (writing tests/fuzz/treecast.dict); pass that file
 * to a fuzzer as -dict=tests/fuzz/treecast.dict.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "net/wire/proto.h"
#include "net/wire/stun.h"

struct row {
	const char	*kind;		/* "method", "attribute" */
	const char	*name;
	uint16_t	 code;
	int		 ours;		/* treecast's, not STUN's */
};

static const struct row rows[] = {
	{ "method", "binding", STUN_METHOD_BINDING, 0 },
#define DICT_METHOD(NAME, code, name, served, auth)			\
	{ "method", name, code, 1 },
	TC_METHODS(DICT_METHOD)
#undef DICT_METHOD
#define DICT_STUN_ATTR(NAME, code, name, rfc)				\
	{ "attribute", name, code, 0 },
	STUN_ATTRS(DICT_STUN_ATTR)
#undef DICT_STUN_ATTR
#define DICT_TC_ATTR(NAME, code, name)					\
	{ "attribute", name, code, 1 },
	TC_ATTRS(DICT_TC_ATTR)
#undef DICT_TC_ATTR
};
#define NROWS	(sizeof rows / sizeof rows[0])

/* RFC 8489 §5: the method's 12 bits around the class's two. */
static uint16_t
dict_type(uint16_t method, unsigned cls)
{
	return (uint16_t)((method & 0x000F) | ((method & 0x0070) << 1) |
	    ((method & 0x0F80) << 2) | ((cls & 1) << 4) | ((cls & 2) << 7));
}

static int
dict_check(void)
{
	size_t i, j;
	int bad = 0;

	for (i = 0; i < NROWS; i++) {
		const struct row *r = &rows[i];

		if (strcmp(r->kind, "method") == 0 && r->ours &&
		    (r->code < 0x081 || r->code > 0x0FF)) {
			fprintf(stderr, "make-dict: method %s (0x%03X) is "
			    "outside 0x081-0x0FF\n", r->name, r->code);
			bad = 1;
		}
		if (strcmp(r->kind, "attribute") == 0 && r->ours &&
		    !((r->code >= 0x4000 && r->code <= 0x7FFF) ||
		    r->code >= 0xC000)) {
			fprintf(stderr, "make-dict: attribute %s (0x%04X) is "
			    "outside the Expert Review ranges\n", r->name,
			    r->code);
			bad = 1;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(rows[j].kind, r->kind) != 0)
				continue;
			if (rows[j].code == r->code) {
				fprintf(stderr, "make-dict: %s %s and %s share "
				    "the code 0x%04X\n", r->kind, rows[j].name,
				    r->name, r->code);
				bad = 1;
			}
			if (strcmp(rows[j].name, r->name) == 0) {
				fprintf(stderr, "make-dict: two %ss are named "
				    "%s\n", r->kind, r->name);
				bad = 1;
			}
		}
	}
	return bad;
}

int
main(int argc, char **argv)
{
	static const char *const cls[] = { "request", "indication",
	    "success", "error" };
	FILE *out = stdout;
	size_t i;
	unsigned c;
	uint16_t t;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: make-dict [FILE]\n");
		return 2;
	}
	if (dict_check() != 0)
		return 1;
	if (argc == 2 && (out = fopen(argv[1], "w")) == NULL) {
		perror(argv[1]);
		return 1;
	}
	fprintf(out, "# treecast's protocol, from its rows "
	    "(tests/fuzz/make-dict.c)\ncookie=\"\\x21\\x12\\xA4\\x42\"\n");
	for (i = 0; i < NROWS; i++) {
		const struct row *r = &rows[i];

		if (strcmp(r->kind, "method") == 0) {
			for (c = 0; c < 4; c++) {
				t = dict_type(r->code, c);
				fprintf(out, "%s_%s=\"\\x%02X\\x%02X\"\n",
				    r->name, cls[c], t >> 8, t & 0xFF);
			}
		} else {
			fprintf(out, "%s=\"\\x%02X\\x%02X\"\n", r->name,
			    r->code >> 8, r->code & 0xFF);
		}
	}
	if (fclose(out) != 0) {
		perror(argc == 2 ? argv[1] : "stdout");
		return 1;
	}
	fprintf(stderr, "make-dict: %zu rows, every rule held\n", NROWS);
	return 0;
}
