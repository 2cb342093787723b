/* Unit tests for net/wire/nat (classification, prediction, wire form) and the
 * negotiator's registry and channel table. */
#include "config.h"

#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "negotiator/channel.h"
#include "negotiator/forest.h"
#include "negotiator/registry.h"
#include "net/util/addr.h"
#include "net/wire/nat.h"
#include "tests/check-run.h"

static struct nat_profile
classify(const uint16_t *local, const uint16_t *mapped, size_t n)
{
	struct nat_sample s[NAT_SAMPLES_MAX];
	struct nat_profile p;
	size_t i;

	memset(&p, 0, sizeof p);
	for (i = 0; i < n; i++) {
		s[i].local = local[i];
		s[i].mapped = mapped[i];
	}
	nat_classify_allocation(s, n, &p);
	return p;
}

START_TEST(test_classify)
{
	static const uint16_t local[] = { 40212, 51000, 40007, 45555, 58001 };
	static const struct {
		const char		*what;
		uint16_t		 mapped[5];
		size_t			 n;
		enum nat_allocation	 allocation;
		int			 offset, delta;	/* -1: not checked */
	} v[] = {
		{ "same", { 40212, 51000, 40007, 45555, 58001 }, 5,
		    NAT_ALLOC_PRESERVED, -1, -1 },
		{ "plus", { 41212, 52000, 41007, 46555, 59001 }, 5,
		    NAT_ALLOC_OFFSET, 1000, -1 },
		{ "seq", { 20000, 20001, 20002, 20003, 20004 }, 5,
		    NAT_ALLOC_SEQUENTIAL, -1, 1 },
		{ "seq2", { 20000, 20002, 20004, 20008, 20010 }, 5,
		    NAT_ALLOC_SEQUENTIAL, -1, 2 },
		/* Other hosts took a port in between: still sequential. */
		{ "skip", { 20000, 20001, 20003, 20004, 20005 }, 5,
		    NAT_ALLOC_SEQUENTIAL, -1, 1 },
		/* One old mapping reused: forgiven. */
		{ "stale", { 20000, 20001, 19871, 20002, 20003 }, 5,
		    NAT_ALLOC_SEQUENTIAL, -1, -1 },
		{ "random", { 13454, 62289, 63014, 1041, 33333 }, 5,
		    NAT_ALLOC_RANDOM, -1, -1 },
		{ "down", { 20005, 20004, 20003, 20002, 20001 }, 5,
		    NAT_ALLOC_RANDOM, -1, -1 },
		{ "two samples", { 20000, 20001, 20002, 20003, 20004 }, 2,
		    NAT_ALLOC_UNKNOWN, -1, -1 },
	};
	struct nat_profile p;
	size_t i;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		p = classify(local, v[i].mapped, v[i].n);
		ck_assert_msg(p.allocation == v[i].allocation, "%s: %d",
		    v[i].what, p.allocation);
		if (v[i].offset != -1)
			ck_assert_int_eq(p.offset, v[i].offset);
		if (v[i].delta != -1)
			ck_assert_int_eq(p.delta, v[i].delta);
	}
}
END_TEST

START_TEST(test_predict)
{
	struct nat_profile p;
	uint16_t out[8];

	memset(&p, 0, sizeof p);
	p.mapping = NAT_MAPPING_EIM;
	p.allocation = NAT_ALLOC_RANDOM;
	/* EIM: the observed mapping is the answer, whatever the allocation. */
	ck_assert_uint_eq(nat_predict(&p, 40000, 23456, 4, out, 8), 1);
	ck_assert_uint_eq(out[0], 23456);
	ck_assert(nat_predictable(&p));

	p.mapping = NAT_MAPPING_APDM;
	p.allocation = NAT_ALLOC_SEQUENTIAL;
	p.delta = 1;
	ck_assert_uint_eq(nat_predict(&p, 40000, 20010, 3, out, 8), 4);
	ck_assert_uint_eq(out[0], 20011);
	ck_assert_uint_eq(out[3], 20014);
	ck_assert_uint_eq(nat_predict(&p, 40000, 20010, 3, out, 2), 2);
	ck_assert_uint_eq(nat_predict(&p, 40000, 65535, 3, out, 8), 0);

	p.allocation = NAT_ALLOC_OFFSET;
	p.offset = -7;
	ck_assert_uint_eq(nat_predict(&p, 40000, 39993, 3, out, 8), 1);
	ck_assert_uint_eq(out[0], 39993);

	p.allocation = NAT_ALLOC_RANDOM;
	ck_assert_uint_eq(nat_predict(&p, 40000, 1234, 3, out, 8), 0);
	ck_assert(!nat_predictable(&p));
	ck_assert_str_eq(nat_class_name(&p), "apdm-random");
}
END_TEST

/* A router that maps (NAT_F_PORTMAP) makes any NAT reachable and
 * predictable: the broker links such a node directly with anyone, and the
 * tree takes it for open to strangers. Without the flag a random
 * allocator stays what it is. */
START_TEST(test_portmap_flag)
{
	struct nat_profile p = { .mapping = NAT_MAPPING_APDM,
	    .allocation = NAT_ALLOC_RANDOM, .filtering = NAT_FILTER_APDF };
	uint8_t w[NAT_PROFILE_WIRE_LEN];
	struct nat_profile q;

	ck_assert(!nat_predictable(&p));
	ck_assert(!nat_reachable(&p));
	ck_assert_int_eq(forest_nat(&p), TREE_NAT_RANDOM);
	p.flags |= NAT_F_PORTMAP;
	ck_assert(nat_predictable(&p));
	ck_assert(nat_reachable(&p));
	ck_assert_int_eq(forest_nat(&p), TREE_NAT_OPEN);
	ck_assert_str_eq(nat_class_name(&p), "apdm-random");	/* as found */
	nat_profile_encode(&p, w);
	ck_assert_int_eq(nat_profile_decode(w, sizeof w, &q), 0);
	ck_assert_uint_eq(q.flags, NAT_F_PORTMAP);
}
END_TEST

START_TEST(test_profile_wire)
{
	struct nat_profile p = { NAT_MAPPING_APDM, NAT_ALLOC_OFFSET,
	    NAT_FILTER_APDF, NAT_F_ALT_ADDRESS, -1000, 3 }, q;
	uint8_t w[NAT_PROFILE_WIRE_LEN];

	nat_profile_encode(&p, w);
	ck_assert_int_eq(nat_profile_decode(w, sizeof w, &q), 0);
	ck_assert_mem_eq(&p, &q, sizeof p);
	ck_assert_int_eq(nat_profile_decode(w, sizeof w - 1, &q), -1);
	w[0] = NAT_MAPPING_COUNT;
	ck_assert_int_eq(nat_profile_decode(w, sizeof w, &q), -1);
	nat_profile_encode(&p, w);
	w[4] = 0x7f;	/* offset far out of range */
	ck_assert_int_eq(nat_profile_decode(w, sizeof w, &q), -1);
}
END_TEST

static int gone_count;

static void
count_gone(void *arg, uint32_t slot, const struct reg_node *n)
{
	(void)arg;
	(void)slot;
	(void)n;
	gone_count++;
}

START_TEST(test_registry)
{
	struct registry *r = registry_create(4, (const uint8_t *)"0123456789abcdef");
	uint64_t s1, s2, s1b, s[4];
	uint32_t a, b, i;

	ck_assert_ptr_nonnull(r);
	a = registry_register(r, 111, 0, &s1);
	b = registry_register(r, 222, 0, &s2);
	ck_assert_uint_ne(a, REG_NONE);
	ck_assert_uint_ne(a, b);
	ck_assert_uint_eq(registry_session(r, s1), a);
	ck_assert_uint_eq(registry_find(r, 222), b);
	/* Registering again keeps the slot, and retires the old credential. */
	ck_assert_uint_eq(registry_register(r, 111, 1, &s1b), a);
	ck_assert_uint_eq(registry_session(r, s1), REG_NONE);
	ck_assert_uint_eq(registry_session(r, s1b), a);
	ck_assert_uint_eq(registry_count(r), 2);
	/* Forged sessions: wrong generation, slot out of range. */
	ck_assert_uint_eq(registry_session(r, s1b + (1ULL << 32)), REG_NONE);
	ck_assert_uint_eq(registry_session(r, (s1b & ~0xffffffffULL) | 99),
	    REG_NONE);
	ck_assert_uint_eq(registry_session(r, 0), REG_NONE);
	/* Full. */
	ck_assert_uint_ne(registry_register(r, 333, 0, &s[0]), REG_NONE);
	ck_assert_uint_ne(registry_register(r, 444, 0, &s[1]), REG_NONE);
	ck_assert_uint_eq(registry_register(r, 555, 0, &s[2]), REG_NONE);
	/* Leave frees the slot for another. */
	registry_remove(r, b);
	ck_assert_uint_eq(registry_find(r, 222), REG_NONE);
	ck_assert_uint_eq(registry_session(r, s2), REG_NONE);
	ck_assert_uint_eq(registry_register(r, 555, 0, &s[2]), b);
	/* Expiry: refreshed at 1 (111) or 0 (the rest); timeout 10. */
	gone_count = 0;
	for (i = 0; i < 20; i++)
		registry_sweep(r, 10, 10, 4, count_gone, NULL);
	ck_assert_int_eq(gone_count, 0);
	for (i = 0; i < 20; i++)
		registry_sweep(r, 11, 10, 4, count_gone, NULL);
	ck_assert_int_eq(gone_count, 3);
	ck_assert_uint_eq(registry_count(r), 1);
	ck_assert_uint_eq(registry_find(r, 111), a);
	ck_assert_uint_le(sizeof(struct reg_node), 120);
	registry_free(r);
}
END_TEST

START_TEST(test_registry_many)
{
	uint32_t n = 100000, i, slot;
	struct registry *r = registry_create(n, (const uint8_t *)"fedcba9876543210");
	uint64_t session;

	for (i = 0; i < n; i++) {
		slot = registry_register(r, 0x9e3779b97f4a7c15ULL * (i + 1), 0,
		    &session);
		ck_assert_uint_ne(slot, REG_NONE);
	}
	for (i = 0; i < n; i += 7)
		ck_assert_uint_ne(registry_find(r,
		    0x9e3779b97f4a7c15ULL * (i + 1)), REG_NONE);
	for (i = 0; i < n; i += 2)
		registry_remove(r, registry_find(r,
		    0x9e3779b97f4a7c15ULL * (i + 1)));
	ck_assert_uint_eq(registry_count(r), n / 2);
	ck_assert_uint_eq(registry_find(r, 0x9e3779b97f4a7c15ULL), REG_NONE);
	ck_assert_uint_ne(registry_find(r, 0x9e3779b97f4a7c15ULL * 2),
	    REG_NONE);
	/* All but a few scattered nodes gone: registry_next walks exactly
	 * the occupied slots, in order, across empty words and beyond. */
	for (i = 0; i < n; i++)
		if (i % 9973 != 0 && registry_node(r, i) != NULL)
			registry_remove(r, i);
	for (i = 0, slot = registry_next(r, 0); i < n; i++) {
		if (registry_node(r, i) == NULL)
			continue;
		ck_assert_uint_eq(slot, i);
		slot = registry_next(r, i + 1);
	}
	ck_assert_uint_eq(slot, REG_NONE);
	ck_assert_uint_eq(registry_next(r, n), REG_NONE);
	registry_free(r);
}
END_TEST

START_TEST(test_reg_addr)
{
	struct addr a;
	struct sockaddr_storage ss;
	socklen_t len;
	uint8_t ip[16];
	uint16_t port;
	char err[100], text[ADDR_STRLEN];

	ck_assert_int_eq(addr_parse("192.0.2.7:4000", 0, 0, &a, err,
	    sizeof err), 0);
	reg_addr_store((struct sockaddr *)&a.ss, ip, &port);
	reg_addr_load(ip, port, &ss, &len);
	ck_assert_str_eq(addr_format((struct sockaddr *)&ss, text,
	    sizeof text), "192.0.2.7:4000");
	ck_assert_int_eq(addr_parse("[2001:db8::5]:9", 0, 0, &a, err,
	    sizeof err), 0);
	reg_addr_store((struct sockaddr *)&a.ss, ip, &port);
	reg_addr_load(ip, port, &ss, &len);
	ck_assert_str_eq(addr_format((struct sockaddr *)&ss, text,
	    sizeof text), "[2001:db8::5]:9");
}
END_TEST

START_TEST(test_channels)
{
	struct channels *c = channels_create();
	char name[16];
	int i;

	ck_assert_int_eq(channels_intern(c, "news", 4), 0);
	ck_assert_int_eq(channels_intern(c, "sport", 5), 1);
	ck_assert_int_eq(channels_intern(c, "newsx", 4), 0);
	ck_assert_str_eq(channels_name(c, 1), "sport");
	ck_assert_int_eq(channels_intern(c, "a\"b", 3), CHANNELS_INVALID);
	ck_assert_int_eq(channels_intern(c, "a b", 3), CHANNELS_INVALID);
	ck_assert_int_eq(channels_intern(c, "", 0), CHANNELS_INVALID);
	ck_assert_ptr_null(channels_key(c, 1));
	for (i = 2; i < CHANNELS_MAX; i++) {
		snprintf(name, sizeof name, "c%d", i);
		ck_assert_int_eq(channels_intern(c, name, strlen(name)), i);
	}
	ck_assert_int_eq(channels_intern(c, "one-too-many", 12), CHANNELS_FULL);
	ck_assert_int_eq(channels_intern(c, "c77", 3), 77);
	/* Names nobody is on go, and make room (made-up names cannot fill
	 * the table for good). */
	channels_ref(c, 77);
	channels_drop_unused(c, 77);
	ck_assert_str_eq(channels_name(c, 77), "c77");
	channels_drop_unused(c, 78);
	ck_assert_str_eq(channels_name(c, 78), "?");
	ck_assert_int_eq(channels_count(c), CHANNELS_MAX - 1);
	ck_assert_int_eq(channels_intern(c, "fresh", 5), 78);
	channels_unref(c, 77);
	ck_assert_str_eq(channels_name(c, 77), "?");
	ck_assert_int_eq(channels_intern(c, "c77", 3), 77);
	/* A full churn of names through one free place: every lookup still
	 * ends, however many freed slots the table holds. */
	ck_assert_int_eq(channels_intern(c, "one-too-many", 12), CHANNELS_FULL);
	channels_drop_unused(c, 100);
	for (i = 0; i < 3 * CHANNELS_MAX; i++) {
		int idx;

		snprintf(name, sizeof name, "churn%d", i);
		idx = channels_intern(c, name, strlen(name));
		ck_assert_int_ge(idx, 0);
		channels_drop_unused(c, idx);
	}
	ck_assert_int_eq(channels_intern(c, "sport", 5), 1);
	channels_free(c);
}
END_TEST

/* Keyed channels: a key in either case is one channel; a label points at
 * one channel only, and goes with it. */
START_TEST(test_channel_labels)
{
	static const char upper[] =
	    "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF";
	struct channels *c = channels_create();
	char lower[sizeof upper];
	int k, k2, plain, i;

	for (i = 0; upper[i] != '\0'; i++)
		lower[i] = (char)(upper[i] >= 'A' && upper[i] <= 'F' ?
		    upper[i] - 'A' + 'a' : upper[i]);
	lower[i] = '\0';
	k = channels_intern(c, upper, 64);
	ck_assert_int_ge(k, 0);
	ck_assert_int_eq(channels_intern(c, lower, 64), k);
	ck_assert_str_eq(channels_name(c, k), lower);
	ck_assert_uint_eq(channels_key(c, k)[0], 0x00);
	ck_assert_uint_eq(channels_key(c, k)[31], 0xff);
	lower[0] = '1';
	k2 = channels_intern(c, lower, 64);
	ck_assert_int_ne(k2, k);
	plain = channels_intern(c, "lab", 3);
	ck_assert_ptr_null(channels_key(c, plain));
	/* A plain name is no label, nor can a plain one take a label. */
	ck_assert_int_eq(channels_find_label(c, "lab", 3), -1);
	ck_assert_int_eq(channels_set_label(c, plain, "lab", 3),
	    CHANNELS_INVALID);
	ck_assert_int_eq(channels_set_label(c, k, lower, 64),
	    CHANNELS_INVALID);
	ck_assert_int_eq(channels_set_label(c, k, "lab", 3), 0);
	ck_assert_int_eq(channels_set_label(c, k, "lab", 3), 0);
	ck_assert_int_eq(channels_find_label(c, "lab", 3), k);
	ck_assert_int_eq(channels_set_label(c, k2, "lab", 3), CHANNELS_TAKEN);
	ck_assert_str_eq(channels_display(c, k), "lab");
	ck_assert_str_eq(channels_display(c, k2), lower);
	/* Relabelled: the old label is free again. */
	ck_assert_int_eq(channels_set_label(c, k, "news", 4), 0);
	ck_assert_int_eq(channels_find_label(c, "lab", 3), -1);
	ck_assert_int_eq(channels_set_label(c, k2, "lab", 3), 0);
	/* The last node gone, the label goes too. */
	channels_ref(c, k2);
	channels_unref(c, k2);
	ck_assert_int_eq(channels_find_label(c, "lab", 3), -1);
	ck_assert_int_eq(channels_intern(c, "lab", 3), plain);
	channels_free(c);
}
END_TEST

int
main(void)
{
	struct check_case cases[] = {
		{ .name = "core", .tests = { test_classify, test_predict,
		    test_profile_wire, test_portmap_flag, test_registry, test_registry_many,
		    test_reg_addr, test_channels, test_channel_labels } },
	};

	return check_run_cases("nat", cases, sizeof cases / sizeof cases[0]);
}
