/* Unit tests for net/wire/stun: MESSAGE-INTEGRITY-SHA256 (truncated, and
 * what follows it), every parse error, unknown required attributes, and
 * the builder's bounds and order. */
#include "config.h"

#include "tests/check-stun.h"
#include "tests/check-run.h"

START_TEST(test_integrity)
{
	struct stun_builder b;
	struct stun_msg msg;
	uint8_t buf[256], copy[256];
	size_t off, end;
	int n, bit;

	/* Valid, then the wrong key, a longer key and an empty one. */
	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_REQUEST,
	    kat_tid);
	ck_assert_int_eq(stun_put(&b, STUN_ATTR_USERNAME, "alice:bob", 9), 0);
	ck_assert_int_eq(stun_put_integrity_sha256(&b, KEY, KEYLEN), 0);
	n = stun_build_finish(&b);
	parse_ok(buf, (size_t)n, &msg);
	ck_assert_int_eq(stun_check_integrity_sha256(&msg, KEY, KEYLEN), 0);
	ck_assert_int_eq(stun_check_integrity_sha256(&msg,
	    (const uint8_t *)"Secret", KEYLEN), -1);
	ck_assert_int_eq(stun_check_integrity_sha256(&msg, KEY, KEYLEN - 1),
	    -1);
	ck_assert_int_eq(stun_check_integrity_sha256(&msg, NULL, 0), -1);

	/* One flipped bit anywhere, header and MAC included, fails (or no
	 * longer parses). */
	end = (size_t)n;
	for (off = 0; off < end; off++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(copy, buf, end);
			copy[off] ^= (uint8_t)(1u << bit);
			if (stun_parse(copy, end, &msg, NULL) != 0)
				continue;
			ck_assert_msg(stun_check_integrity_sha256(&msg, KEY,
			    KEYLEN) == -1, "flip at %zu bit %d passed", off,
			    bit);
		}
	}

	/* Keys longer than a SHA-256 block are hashed first (RFC 2104). */
	{
		uint8_t longkey[100];

		memset(longkey, 0x5a, sizeof longkey);
		stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING,
		    STUN_REQUEST, kat_tid);
		ck_assert_int_eq(stun_put_integrity_sha256(&b, longkey,
		    sizeof longkey), 0);
		n = stun_build_finish(&b);
		parse_ok(buf, (size_t)n, &msg);
		ck_assert_int_eq(stun_check_integrity_sha256(&msg, longkey,
		    sizeof longkey), 0);
		ck_assert_int_eq(stun_check_integrity_sha256(&msg, longkey,
		    sizeof longkey - 1), -1);
	}
}
END_TEST

/* RFC 8489 §14.6: a value truncated to 16..32 bytes, a multiple of 4. */
START_TEST(test_integrity_truncated)
{
	const struct { uint16_t len; int ok; } cases[] = {
		{ 16, 0 }, { 20, 0 }, { 24, 0 }, { 28, 0 }, { 32, 0 },
		{ 12, -1 }, { 18, -1 }, { 30, -1 }, { 36, -1 }, { 0, -1 },
	};
	struct stun_msg msg;
	uint8_t buf[256];
	size_t i, len;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		len = start_msg(buf, STUN_METHOD_BINDING, STUN_REQUEST);
		len = append_attr(buf, len, STUN_ATTR_SOFTWARE, "treecast!", 9);
		len = append_integrity(buf, len, cases[i].len);
		parse_ok(buf, len, &msg);
		ck_assert_msg(stun_check_integrity_sha256(&msg, KEY, KEYLEN) ==
		    cases[i].ok, "length %u", cases[i].len);
		/* With a FINGERPRINT after it, still the same answer. */
		len = append_fingerprint(buf, len);
		parse_ok(buf, len, &msg);
		ck_assert_msg(stun_check_integrity_sha256(&msg, KEY, KEYLEN) ==
		    cases[i].ok, "length %u + fingerprint", cases[i].len);
		ck_assert_int_eq(msg.has_fingerprint, 1);
	}

	/* Truncated to 16, the last byte of those 16 still counts. */
	len = start_msg(buf, STUN_METHOD_BINDING, STUN_REQUEST);
	len = append_integrity(buf, len, 16);
	buf[len - 1] ^= 1;
	parse_ok(buf, len, &msg);
	ck_assert_int_eq(stun_check_integrity_sha256(&msg, KEY, KEYLEN), -1);
}
END_TEST

/* Attributes after the integrity attributes are not seen, so cannot pass
 * for protected (RFC 8489 §14.5, §14.6). */
START_TEST(test_after_integrity_ignored)
{
	struct stun_msg msg;
	uint8_t buf[256], zero[20];
	uint16_t unknown[4];
	size_t len;

	len = start_msg(buf, STUN_METHOD_BINDING, STUN_REQUEST);
	len = append_attr(buf, len, STUN_ATTR_USERNAME, "alice", 5);
	len = append_integrity(buf, len, 32);
	len = append_attr(buf, len, STUN_ATTR_REALM, "evil", 4);
	len = append_attr(buf, len, 0x7777, "x", 1);
	len = append_attr(buf, len, STUN_ATTR_MESSAGE_INTEGRITY, "y", 1);
	len = append_fingerprint(buf, len);
	parse_ok(buf, len, &msg);
	ck_assert_uint_eq(msg.nattrs, 3);
	ck_assert_ptr_null(stun_find(&msg, STUN_ATTR_REALM));
	ck_assert_ptr_null(stun_find(&msg, 0x7777));
	ck_assert_ptr_null(stun_find(&msg, STUN_ATTR_MESSAGE_INTEGRITY));
	ck_assert_uint_eq(stun_unknown_required(&msg, NULL, 0, unknown, 4), 2);
	ck_assert_int_eq(msg.has_fingerprint, 1);
	/* The HMAC covered up to its own attribute, not what came after. */
	ck_assert_int_eq(stun_check_integrity_sha256(&msg, KEY, KEYLEN), 0);

	/* MESSAGE-INTEGRITY (SHA-1), then -SHA256: both seen; anything else
	 * after MESSAGE-INTEGRITY is not. */
	memset(zero, 0, sizeof zero);
	len = start_msg(buf, STUN_METHOD_BINDING, STUN_REQUEST);
	len = append_attr(buf, len, STUN_ATTR_USERNAME, "alice", 5);
	len = append_attr(buf, len, STUN_ATTR_MESSAGE_INTEGRITY, zero, 20);
	len = append_attr(buf, len, STUN_ATTR_REALM, "evil", 4);
	len = append_integrity(buf, len, 32);
	len = append_fingerprint(buf, len);
	parse_ok(buf, len, &msg);
	ck_assert_uint_eq(msg.nattrs, 4);
	ck_assert_ptr_nonnull(stun_find(&msg, STUN_ATTR_MESSAGE_INTEGRITY));
	ck_assert_ptr_null(stun_find(&msg, STUN_ATTR_REALM));
	ck_assert_int_eq(stun_check_integrity_sha256(&msg, KEY, KEYLEN), 0);

	/* A second MESSAGE-INTEGRITY-SHA256 is not the one checked. */
	len = start_msg(buf, STUN_METHOD_BINDING, STUN_REQUEST);
	len = append_integrity(buf, len, 32);
	len = append_attr(buf, len, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, zero,
	    20);
	parse_ok(buf, len, &msg);
	ck_assert_uint_eq(msg.nattrs, 1);
	ck_assert_int_eq(stun_check_integrity_sha256(&msg, KEY, KEYLEN), 0);
}
END_TEST

START_TEST(test_parse_errors)
{
	static const uint8_t zeros[1500];
	struct stun_msg msg;
	uint8_t buf[1600];
	size_t len, i;

	/* truncated: short of a header, and short of the header's length. */
	parse_err(rfc5769_request, 19, STUN_E_TRUNCATED);
	parse_err(rfc5769_request, 0, STUN_E_TRUNCATED);
	parse_err(NULL, 0, STUN_E_TRUNCATED);
	parse_err(rfc5769_request, sizeof rfc5769_request - 4,
	    STUN_E_TRUNCATED);

	/* too big: over 1500 bytes, whatever the header says. */
	memset(buf, 0, sizeof buf);
	len = start_msg(buf, STUN_METHOD_BINDING, STUN_REQUEST);
	len = append_attr(buf, len, STUN_ATTR_PADDING, zeros, 1480);
	ck_assert_uint_eq(len, 1504);
	parse_err(buf, len, STUN_E_TOO_BIG);
	len = start_msg(buf, STUN_METHOD_BINDING, STUN_REQUEST);
	len = append_attr(buf, len, STUN_ATTR_PADDING, zeros, 1476);
	ck_assert_uint_eq(len, STUN_MAX_MSG);
	parse_ok(buf, len, &msg);

	/* not STUN: top bits (ChannelData, RTP), a length not a multiple of
	 * 4, bytes after the message. */
	memcpy(buf, rfc5769_request, sizeof rfc5769_request);
	buf[0] = 0x40;
	parse_err(buf, sizeof rfc5769_request, STUN_E_NOT_STUN);
	buf[0] = 0x80;
	parse_err(buf, sizeof rfc5769_request, STUN_E_NOT_STUN);
	ck_assert(!stun_is_stun(buf, sizeof rfc5769_request));
	memcpy(buf, rfc5769_request, sizeof rfc5769_request);
	buf[3] = 0x56;
	parse_err(buf, sizeof rfc5769_request - 2, STUN_E_NOT_STUN);
	memcpy(buf, rfc5769_request, sizeof rfc5769_request);
	memset(buf + sizeof rfc5769_request, 0, 4);
	parse_err(buf, sizeof rfc5769_request + 4, STUN_E_NOT_STUN);

	/* cookie: an RFC 3489 message has none. */
	memcpy(buf, rfc5769_request, sizeof rfc5769_request);
	buf[4] ^= 0x01;
	parse_err(buf, sizeof rfc5769_request, STUN_E_COOKIE);
	ck_assert(!stun_is_stun(buf, sizeof rfc5769_request));

	/* attribute overrun: a value longer than the message. */
	memcpy(buf, rfc5769_request, sizeof rfc5769_request);
	buf[23] = 0x60;
	parse_err(buf, sizeof rfc5769_request, STUN_E_ATTR_OVERRUN);
	len = start_msg(buf, STUN_METHOD_BINDING, STUN_REQUEST);
	len = append_attr(buf, len, STUN_ATTR_USERNAME, "abcd", 4);
	buf[len - 5] = 5;	/* 5 bytes, padded to 8: past the end */
	parse_err(buf, len, STUN_E_ATTR_OVERRUN);
	buf[len - 5] = 0xff;
	buf[len - 6] = 0xff;
	parse_err(buf, len, STUN_E_ATTR_OVERRUN);

	/* too many attributes: 32 fit, 33 do not. */
	len = start_msg(buf, STUN_METHOD_BINDING, STUN_REQUEST);
	for (i = 0; i < STUN_MAX_ATTRS; i++)
		len = append_attr(buf, len, (uint16_t)(0x8100 + i), NULL, 0);
	parse_ok(buf, len, &msg);
	ck_assert_uint_eq(msg.nattrs, STUN_MAX_ATTRS);
	len = append_attr(buf, len, 0x8200, NULL, 0);
	parse_err(buf, len, STUN_E_TOO_MANY_ATTRS);

	/* after fingerprint: anything at all. */
	memcpy(buf, rfc5769_request, sizeof rfc5769_request);
	len = append_attr(buf, sizeof rfc5769_request, STUN_ATTR_SOFTWARE, "x",
	    1);
	parse_err(buf, len, STUN_E_AFTER_FINGERPRINT);
	len = start_msg(buf, STUN_METHOD_BINDING, STUN_REQUEST);
	len = append_fingerprint(buf, len);
	len = append_fingerprint(buf, len);
	parse_err(buf, len, STUN_E_AFTER_FINGERPRINT);
	/* Even when the CRC was computed over the final length. */
	len = start_msg(buf, STUN_METHOD_BINDING, STUN_REQUEST);
	len = append_fingerprint_for(buf, len, STUN_HEADER_LEN + 8 + 8);
	len = append_attr(buf, len, STUN_ATTR_SOFTWARE, "x", 1);
	ck_assert_uint_eq(len, STUN_HEADER_LEN + 8 + 8);
	parse_err(buf, len, STUN_E_AFTER_FINGERPRINT);
	/* Without what follows, that CRC is wrong. */
	set_length(buf, STUN_HEADER_LEN + 8);
	parse_err(buf, STUN_HEADER_LEN + 8, STUN_E_BAD_FINGERPRINT);

	/* bad fingerprint: a wrong CRC, or a wrong length. */
	memcpy(buf, rfc5769_ipv4, sizeof rfc5769_ipv4);
	buf[sizeof rfc5769_ipv4 - 4] ^= 0xff;
	parse_err(buf, sizeof rfc5769_ipv4, STUN_E_BAD_FINGERPRINT);
	len = start_msg(buf, STUN_METHOD_BINDING, STUN_REQUEST);
	len = append_attr(buf, len, STUN_ATTR_FINGERPRINT, "12345678", 8);
	parse_err(buf, len, STUN_E_BAD_FINGERPRINT);

	/* A NULL why is fine. */
	ck_assert_int_eq(stun_parse(rfc5769_request, 3, &msg, NULL), -1);
}
END_TEST

START_TEST(test_parse_error_names)
{
	int i, j;

	ck_assert_str_eq(stun_parse_error_name(STUN_OK), "ok");
	ck_assert_str_eq(stun_parse_error_name(STUN_E_TRUNCATED), "truncated");
	ck_assert_str_eq(stun_parse_error_name(STUN_E_BAD_FINGERPRINT),
	    "bad_fingerprint");
	ck_assert_str_eq(stun_parse_error_name(STUN_E_COUNT), "unknown");
	ck_assert_str_eq(stun_parse_error_name((enum stun_parse_error)-1),
	    "unknown");
	for (i = 0; i < STUN_E_COUNT; i++) {
		const char *n = stun_parse_error_name((enum stun_parse_error)i);

		ck_assert_ptr_nonnull(n);
		ck_assert(strspn(n, "abcdefghijklmnopqrstuvwxyz_") ==
		    strlen(n));
		for (j = 0; j < i; j++)
			ck_assert_str_ne(n, stun_parse_error_name(
			    (enum stun_parse_error)j));
	}
	ck_assert_str_eq(stun_attr_name(STUN_ATTR_XOR_MAPPED_ADDRESS),
	    "XOR-MAPPED-ADDRESS");
	ck_assert_str_eq(stun_attr_name(STUN_ATTR_OTHER_ADDRESS),
	    "OTHER-ADDRESS");
	ck_assert_ptr_null(stun_attr_name(0x7777));
}
END_TEST

START_TEST(test_is_stun)
{
	ck_assert(stun_is_stun(rfc5769_ipv6, sizeof rfc5769_ipv6));
	ck_assert(stun_is_stun(rfc5769_ipv6, STUN_HEADER_LEN));
	ck_assert(!stun_is_stun(rfc5769_ipv6, STUN_HEADER_LEN - 1));
	ck_assert(!stun_is_stun(NULL, 0));
}
END_TEST

START_TEST(test_unknown_required)
{
	struct stun_msg msg;
	uint8_t buf[256];
	uint16_t out[8];
	const uint16_t known[] = { STUN_ATTR_USERNAME, STUN_ATTR_SOFTWARE };
	size_t len;

	len = start_msg(buf, STUN_METHOD_BINDING, STUN_REQUEST);
	len = append_attr(buf, len, STUN_ATTR_USERNAME, "u", 1);
	len = append_attr(buf, len, 0x0024, "abcd", 4);	/* PRIORITY */
	len = append_attr(buf, len, STUN_ATTR_SOFTWARE, "s", 1);
	len = append_attr(buf, len, 0x8029, "abcdefgh", 8); /* optional */
	len = append_attr(buf, len, 0x7fff, NULL, 0);
	len = append_attr(buf, len, 0x0024, "abcd", 4);	/* again */
	len = append_attr(buf, len, 0x0000, NULL, 0);
	parse_ok(buf, len, &msg);

	ck_assert_uint_eq(stun_unknown_required(&msg, known, 2, out, 8), 3);
	ck_assert_uint_eq(out[0], 0x0024);
	ck_assert_uint_eq(out[1], 0x7fff);
	ck_assert_uint_eq(out[2], 0x0000);
	ck_assert_uint_eq(stun_unknown_required(&msg, known, 2, out, 1), 1);
	ck_assert_uint_eq(out[0], 0x0024);
	ck_assert_uint_eq(stun_unknown_required(&msg, known, 2, out, 0), 0);
	/* Knowing nothing, USERNAME is unknown too; SOFTWARE never is. */
	ck_assert_uint_eq(stun_unknown_required(&msg, NULL, 0, out, 8), 4);
	ck_assert_uint_eq(out[0], STUN_ATTR_USERNAME);

	parse_ok(rfc5769_ipv4, sizeof rfc5769_ipv4, &msg);
	{
		const uint16_t all[] = { STUN_ATTR_XOR_MAPPED_ADDRESS,
		    STUN_ATTR_MESSAGE_INTEGRITY };

		ck_assert_uint_eq(stun_unknown_required(&msg, all, 2, out, 8),
		    0);
	}
}
END_TEST

/* One of each put into buf; the builder's result. */
static int
build_all(uint8_t *buf, size_t cap)
{
	struct stun_builder b;
	struct sockaddr_storage ss;

	make_addr(&ss, "2001:db8::1", 9);
	stun_build_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_SUCCESS,
	    kat_tid);
	stun_put(&b, STUN_ATTR_SOFTWARE, "treecast 0.1", 12);
	stun_put_xor_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    (struct sockaddr *)&ss);
	stun_put_address(&b, STUN_ATTR_OTHER_ADDRESS, (struct sockaddr *)&ss);
	stun_put_u32(&b, STUN_ATTR_CHANGE_REQUEST, 4);
	stun_put_u64(&b, 0x8029, 1);
	stun_put_error_code(&b, 487, "Role Conflict");
	stun_put_integrity_sha256(&b, KEY, KEYLEN);
	stun_put_fingerprint(&b);
	return stun_build_finish(&b);
}

/* Builds the same message into every capacity up to what it needs: it
 * fails until it fits, and never writes past cap (a canary after it). */
START_TEST(test_builder_overflow)
{
	struct stun_builder b;
	struct stun_msg msg;
	struct sockaddr_storage ss;
	uint8_t ref[512], buf[512];
	size_t cap, i, need;
	int n;

	n = build_all(ref, sizeof ref);
	/* Header, SOFTWARE 4+12, two IPv6 addresses 4+20, CHANGE-REQUEST
	 * 4+4, a u64 4+8, ERROR-CODE 4+4+13+3, integrity 4+32, FINGERPRINT
	 * 4+4. */
	ck_assert_int_eq(n, 20 + 16 + 24 + 24 + 8 + 12 + 24 + 36 + 8);
	need = (size_t)n;
	parse_ok(ref, need, &msg);
	ck_assert_uint_eq(msg.nattrs, 8);

	for (cap = 0; cap <= need + 4; cap++) {
		memset(buf, 0xa5, sizeof buf);
		n = build_all(buf, cap);
		if (cap < need)
			ck_assert_int_eq(n, -1);
		else {
			ck_assert_int_eq(n, (int)need);
			ck_assert(memcmp(buf, ref, need) == 0);
		}
		for (i = cap; i < sizeof buf; i++)
			ck_assert_msg(buf[i] == 0xa5, "cap %zu: byte %zu "
			    "written", cap, i);
	}

	/* The error sticks: a put that would fit after one that did not
	 * still fails. */
	memset(buf, 0xa5, sizeof buf);
	stun_build_init(&b, buf, 40, STUN_METHOD_BINDING, STUN_REQUEST,
	    kat_tid);
	ck_assert_int_eq(stun_put(&b, STUN_ATTR_SOFTWARE,
	    "0123456789abcdefghij", 20), -1);
	ck_assert_int_eq(stun_put(&b, STUN_ATTR_SOFTWARE, NULL, 0), -1);
	ck_assert_int_eq(stun_put_fingerprint(&b), -1);
	ck_assert_int_eq(stun_build_finish(&b), -1);
	for (i = 20; i < sizeof buf; i++)
		ck_assert_uint_eq(buf[i], 0xa5);

	/* A NULL buffer, and bad arguments. */
	stun_build_init(&b, NULL, 100, STUN_METHOD_BINDING, STUN_REQUEST,
	    kat_tid);
	ck_assert_int_eq(stun_put_u32(&b, 0x8000, 1), -1);
	ck_assert_int_eq(stun_build_finish(&b), -1);
	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_REQUEST,
	    kat_tid);
	ck_assert_int_eq(stun_put(&b, STUN_ATTR_SOFTWARE, NULL, 3), -1);
	ck_assert_int_eq(stun_build_finish(&b), -1);
	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_REQUEST,
	    kat_tid);
	memset(&ss, 0, sizeof ss);
	ss.ss_family = AF_UNIX;
	ck_assert_int_eq(stun_put_address(&b, STUN_ATTR_MAPPED_ADDRESS,
	    (struct sockaddr *)&ss), -1);
	ck_assert_int_eq(stun_build_finish(&b), -1);
	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_REQUEST,
	    kat_tid);
	ck_assert_int_eq(stun_put_xor_address(&b, STUN_ATTR_MAPPED_ADDRESS,
	    NULL), -1);
	ck_assert_int_eq(stun_build_finish(&b), -1);
	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_REQUEST,
	    kat_tid);
	ck_assert_int_eq(stun_put_integrity_sha256(&b, NULL, 4), -1);
	ck_assert_int_eq(stun_build_finish(&b), -1);
}
END_TEST

/* The builder refuses what a receiver would ignore or reject. */
START_TEST(test_builder_order)
{
	struct stun_builder b;
	uint8_t buf[256];

	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_REQUEST,
	    kat_tid);
	ck_assert_int_eq(stun_put_fingerprint(&b), 0);
	ck_assert_int_eq(stun_put_u32(&b, STUN_ATTR_CHANGE_REQUEST, 0), -1);
	ck_assert_int_eq(stun_build_finish(&b), -1);

	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_REQUEST,
	    kat_tid);
	ck_assert_int_eq(stun_put_integrity_sha256(&b, KEY, KEYLEN), 0);
	ck_assert_int_eq(stun_put(&b, STUN_ATTR_SOFTWARE, "x", 1), -1);
	ck_assert_int_eq(stun_build_finish(&b), -1);

	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_REQUEST,
	    kat_tid);
	ck_assert_int_eq(stun_put_integrity_sha256(&b, KEY, KEYLEN), 0);
	ck_assert_int_eq(stun_put_integrity_sha256(&b, KEY, KEYLEN), -1);

	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_REQUEST,
	    kat_tid);
	ck_assert_int_eq(stun_put_fingerprint(&b), 0);
	ck_assert_int_eq(stun_put_fingerprint(&b), -1);

	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_REQUEST,
	    kat_tid);
	ck_assert_int_eq(stun_put_integrity_sha256(&b, KEY, KEYLEN), 0);
	ck_assert_int_eq(stun_put_fingerprint(&b), 0);
	ck_assert_int_eq(stun_build_finish(&b), 20 + 36 + 8);
}
END_TEST

START_TEST(test_random_tid)
{
	uint8_t a[12], b[12];

	stun_random_tid(a);
	stun_random_tid(b);
	ck_assert(memcmp(a, b, sizeof a) != 0);
}
END_TEST

/* FIPS 180-4's examples (csrc.nist.gov SHA256.pdf, SHA2_Additional) on
 * each compression function. */
int
main(void)
{
	struct check_case cases[] = {
		{ .name = "core", .tests = { test_integrity,
		    test_integrity_truncated, test_after_integrity_ignored,
		    test_parse_errors, test_parse_error_names, test_is_stun,
		    test_unknown_required, test_builder_overflow,
		    test_builder_order, test_random_tid } },
	};

	if (sodium_init() < 0) {
		fprintf(stderr, "sodium_init failed\n");
		return EXIT_FAILURE;
	}
	return check_run_cases("stun-parse", cases,
	    sizeof cases / sizeof cases[0]);
}
