/* Unit tests for net/wire/stun: RFC 5769's vectors, the CRC and the type
 * encoding, round trips through the builder, a known answer, and the
 * attribute readers (ERROR-CODE and stun_error among them).
 * check-stun-parse.c has integrity, every parse error and the builder's
 * bounds; check-sha256.c net/wire/sha256. */
#include "config.h"

#include "tests/check-stun.h"
#include "tests/check-run.h"

/* The CRC-32 a bit at a time, straight from the polynomial. */
static uint32_t
crc32_bitwise(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xffffffffu;
	int k;

	while (len-- > 0) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc & 1) ? 0xedb88320u ^ (crc >> 1) : crc >> 1;
	}
	return crc ^ 0xffffffffu;
}

START_TEST(test_crc32)
{
	uint8_t buf[220];
	size_t len, off;

	ck_assert_uint_eq(stun_crc32((const uint8_t *)"123456789", 9),
	    0xcbf43926u);
	ck_assert_uint_eq(stun_crc32((const uint8_t *)"", 0), 0);
	/* Eight bytes a step: every length and alignment, every tail. */
	randombytes_buf(buf, sizeof buf);
	for (off = 0; off < 8; off++)
		for (len = 0; len + off <= 200; len++)
			ck_assert_uint_eq(stun_crc32(buf + off, len),
			    crc32_bitwise(buf + off, len));
}
END_TEST

START_TEST(test_type_encoding)
{
	uint16_t method, t;
	enum stun_class cls;

	/* RFC 8489 §5 and §18.2: Binding is 0x001. */
	ck_assert_uint_eq(stun_type(STUN_METHOD_BINDING, STUN_REQUEST), 0x0001);
	ck_assert_uint_eq(stun_type(STUN_METHOD_BINDING, STUN_INDICATION),
	    0x0011);
	ck_assert_uint_eq(stun_type(STUN_METHOD_BINDING, STUN_SUCCESS), 0x0101);
	ck_assert_uint_eq(stun_type(STUN_METHOD_BINDING, STUN_ERROR), 0x0111);
	ck_assert_uint_eq(stun_type(0x003, STUN_SUCCESS), 0x0103);
	ck_assert_uint_eq(stun_type(0x0fff, STUN_ERROR), 0x3fff);
	ck_assert_uint_eq(stun_type(0x0080, STUN_REQUEST), 0x0200);
	for (t = 0; t < 0x4000; t++) {
		stun_type_split(t, &method, &cls);
		ck_assert_uint_le(method, 0xfff);
		ck_assert_uint_eq(stun_type(method, cls), t);
	}
}
END_TEST

START_TEST(test_rfc5769_request)
{
	struct stun_msg msg;
	const struct stun_attr *a;
	uint32_t prio;
	uint64_t tie;

	parse_ok(rfc5769_request, sizeof rfc5769_request, &msg);
	ck_assert_uint_eq(msg.method, STUN_METHOD_BINDING);
	ck_assert_int_eq(msg.cls, STUN_REQUEST);
	ck_assert(memcmp(msg.tid, rfc5769_tid, 12) == 0);
	ck_assert_uint_eq(msg.length, 108);
	ck_assert_uint_eq(msg.nattrs, 6);
	ck_assert(msg.buf == rfc5769_request);
	ck_assert_int_eq(msg.has_fingerprint, 1);
	ck_assert_int_eq(stun_check_fingerprint(&msg), 0);
	attr_is(&msg, STUN_ATTR_SOFTWARE, "STUN test client");
	attr_is(&msg, STUN_ATTR_USERNAME, "evtj:h6vY");
	ck_assert_int_eq(stun_attr_u32(stun_find(&msg, 0x0024), &prio), 0);
	ck_assert_uint_eq(prio, 0x6e0001ff);
	ck_assert_int_eq(stun_attr_u64(stun_find(&msg, 0x8029), &tie), 0);
	ck_assert(tie == 0x932ff9b151263b36ULL);
	a = stun_find(&msg, STUN_ATTR_MESSAGE_INTEGRITY);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->len, 20);
	ck_assert_uint_eq(a->offset, 76);
	ck_assert_uint_eq(a->value[0], 0x9a);
	ck_assert_uint_eq(stun_find(&msg, STUN_ATTR_FINGERPRINT)->offset, 100);
	/* SHA-1 integrity is not ours to check; no SHA-256 one is here. */
	ck_assert_int_eq(stun_check_integrity_sha256(&msg, KEY, KEYLEN), -1);
	ck_assert(stun_is_stun(rfc5769_request, sizeof rfc5769_request));
}
END_TEST

/* RFC 5769 §2.2 and §2.3: the success responses, IPv4 and IPv6. */
START_TEST(test_rfc5769_response)
{
	static const struct {
		const uint8_t	*p;
		size_t		 len;
		const char	*mapped;
		size_t		 at;		/* a byte of the HMAC-SHA1 */
		uint8_t		 mac;
	} v[] = {
		{ rfc5769_ipv4, sizeof rfc5769_ipv4, "192.0.2.1:32853", 0,
		    0x2b },
		{ rfc5769_ipv6, sizeof rfc5769_ipv6,
		    "[2001:db8:1234:5678:11:2233:4455:6677]:32853", 19, 0x41 },
	};
	struct stun_msg msg;
	const struct stun_attr *a;

	parse_ok(v[_i].p, v[_i].len, &msg);
	ck_assert_uint_eq(msg.method, STUN_METHOD_BINDING);
	ck_assert_int_eq(msg.cls, STUN_SUCCESS);
	ck_assert(memcmp(msg.tid, rfc5769_tid, 12) == 0);
	ck_assert_uint_eq(msg.nattrs, 4);
	ck_assert_int_eq(msg.has_fingerprint, 1);
	ck_assert_int_eq(stun_check_fingerprint(&msg), 0);
	attr_is(&msg, STUN_ATTR_SOFTWARE, "test vector");
	xor_address_is(&msg, STUN_ATTR_XOR_MAPPED_ADDRESS, v[_i].mapped);
	a = stun_find(&msg, STUN_ATTR_MESSAGE_INTEGRITY);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->len, 20);
	ck_assert_uint_eq(a->value[v[_i].at], v[_i].mac);
}
END_TEST

START_TEST(test_rfc5769_long_term)
{
	struct stun_msg msg;
	const struct stun_attr *a;

	parse_ok(rfc5769_long_term, sizeof rfc5769_long_term, &msg);
	ck_assert_uint_eq(msg.method, STUN_METHOD_BINDING);
	ck_assert_int_eq(msg.cls, STUN_REQUEST);
	ck_assert_uint_eq(msg.nattrs, 4);
	ck_assert_int_eq(msg.has_fingerprint, 0);
	ck_assert_int_eq(stun_check_fingerprint(&msg), -1);
	attr_is(&msg, STUN_ATTR_USERNAME,
	    "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf"
	    "\xe3\x82\xb9");
	attr_is(&msg, STUN_ATTR_NONCE, "f//499k954d6OL34oL9FSTvy64sA");
	attr_is(&msg, STUN_ATTR_REALM, "example.org");
	a = stun_find(&msg, STUN_ATTR_MESSAGE_INTEGRITY);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->len, 20);
	ck_assert_uint_eq(a->offset, 92);
}
END_TEST

/* Any changed bit before FINGERPRINT is caught, in each vector: as a bad
 * FINGERPRINT, or where it breaks the framing, as some other error. */
START_TEST(test_rfc5769_fingerprint_flip)
{
	const struct { const uint8_t *p; size_t len; } v[] = {
		{ rfc5769_request, sizeof rfc5769_request },
		{ rfc5769_ipv4, sizeof rfc5769_ipv4 },
		{ rfc5769_ipv6, sizeof rfc5769_ipv6 },
	};
	struct stun_msg msg;
	enum stun_parse_error why;
	uint8_t buf[128], framing[128];
	size_t i, off, a;
	int bit;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		/* The header's length and each attribute's length frame the
		 * message (1); a changed type (2) may make a FINGERPRINT that
		 * is not last. */
		memset(framing, 0, sizeof framing);
		framing[2] = framing[3] = 1;
		for (a = STUN_HEADER_LEN; a < v[i].len; a += 4 +
		    (((v[i].p[a + 2] << 8 | v[i].p[a + 3]) + 3u) & ~3u)) {
			framing[a] = framing[a + 1] = 2;
			framing[a + 2] = framing[a + 3] = 1;
		}
		/* All but the FINGERPRINT's own header: without it, the
		 * message is valid and merely unprotected. */
		for (off = 0; off < v[i].len; off++) {
			if (off >= v[i].len - 8 && off < v[i].len - 4)
				continue;
			for (bit = 0; bit < 8; bit++) {
				memcpy(buf, v[i].p, v[i].len);
				buf[off] ^= (uint8_t)(1u << bit);
				if (stun_parse(buf, v[i].len, &msg,
				    &why) == 0) {
					/* A longer attribute may swallow the
					 * FINGERPRINT: valid, unprotected. */
					ck_assert_msg(framing[off] == 1 &&
					    !msg.has_fingerprint, "off %zu bit "
					    "%d parsed", off, bit);
					continue;
				}
				if (off == 0 && bit >= 6)
					ck_assert_int_eq(why, STUN_E_NOT_STUN);
				else if (off >= 4 && off < 8)
					ck_assert_int_eq(why, STUN_E_COOKIE);
				else if (framing[off] == 0)
					ck_assert_msg(why ==
					    STUN_E_BAD_FINGERPRINT, "off %zu "
					    "bit %d: %s", off, bit,
					    stun_parse_error_name(why));
				else if (framing[off] == 2)
					ck_assert(why ==
					    STUN_E_BAD_FINGERPRINT || why ==
					    STUN_E_AFTER_FINGERPRINT);
			}
		}
	}
}
END_TEST

/* A success response as RFC 5769's, SOFTWARE and ip:32853 in
 * XOR-MAPPED-ADDRESS, by our builder; its length. */
static int
build_rfc5769_response(uint8_t *buf, size_t cap, const char *ip)
{
	struct stun_builder b;
	struct sockaddr_storage ss;

	stun_build_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_SUCCESS,
	    rfc5769_tid);
	ck_assert_int_eq(stun_put(&b, STUN_ATTR_SOFTWARE, "test vector", 11),
	    0);
	make_addr(&ss, ip, 32853);
	ck_assert_int_eq(stun_put_xor_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    (struct sockaddr *)&ss), 0);
	return stun_build_finish(&b);
}

/* Our builder writes the RFC's XOR-MAPPED-ADDRESS bytes (§2.2, §2.3). */
START_TEST(test_rfc5769_build_xor_address)
{
	uint8_t buf[128];

	ck_assert_int_eq(build_rfc5769_response(buf, sizeof buf, "192.0.2.1"),
	    48);
	ck_assert(memcmp(buf, rfc5769_ipv4, 2) == 0);
	ck_assert(memcmp(buf + 4, rfc5769_ipv4 + 4, 31) == 0);
	/* We pad with a zero where the RFC has a space. */
	ck_assert_uint_eq(buf[35], 0);
	ck_assert(memcmp(buf + 36, rfc5769_ipv4 + 36, 12) == 0);
	ck_assert_int_eq(build_rfc5769_response(buf, sizeof buf,
	    "2001:db8:1234:5678:11:2233:4455:6677"), 60);
	ck_assert(memcmp(buf + 36, rfc5769_ipv6 + 36, 24) == 0);
}
END_TEST

/* Every put, read back. */
START_TEST(test_round_trip)
{
	struct stun_builder b;
	struct stun_msg msg;
	struct sockaddr_storage ss;
	uint8_t buf[512], tid[12];
	const struct stun_attr *a;
	uint32_t u32;
	uint64_t u64;
	int n, i;

	stun_random_tid(tid);
	stun_build_init(&b, buf, sizeof buf, 0x0abc, STUN_INDICATION, tid);
	/* Values of 0 to 5 bytes: padding to 4 with zeros. */
	for (i = 0; i <= 5; i++)
		ck_assert_int_eq(stun_put(&b, (uint16_t)(0x8100 + i), "abcde",
		    (uint16_t)i), 0);
	ck_assert_int_eq(stun_put_u32(&b, STUN_ATTR_CHANGE_REQUEST, 0x6), 0);
	ck_assert_int_eq(stun_put_u32(&b, STUN_ATTR_RESPONSE_PORT, 0xdeadbeef),
	    0);
	ck_assert_int_eq(stun_put_u64(&b, 0x802a, 0x0123456789abcdefULL), 0);
	make_addr(&ss, "203.0.113.7", 3478);
	ck_assert_int_eq(stun_put_xor_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    (struct sockaddr *)&ss), 0);
	ck_assert_int_eq(stun_put_address(&b, STUN_ATTR_MAPPED_ADDRESS,
	    (struct sockaddr *)&ss), 0);
	make_addr(&ss, "2001:db8::42", 65535);
	ck_assert_int_eq(stun_put_xor_address(&b, 0x8020,
	    (struct sockaddr *)&ss), 0);
	ck_assert_int_eq(stun_put_address(&b, STUN_ATTR_OTHER_ADDRESS,
	    (struct sockaddr *)&ss), 0);
	/* An IPv4-mapped IPv6 peer goes out as IPv4. */
	make_addr(&ss, "::ffff:198.51.100.9", 1);
	ck_assert_int_eq(stun_put_address(&b, STUN_ATTR_RESPONSE_ORIGIN,
	    (struct sockaddr *)&ss), 0);
	ck_assert_int_eq(stun_put_xor_address(&b, STUN_ATTR_ALTERNATE_SERVER,
	    (struct sockaddr *)&ss), 0);
	ck_assert_int_eq(stun_put_integrity_sha256(&b, KEY, KEYLEN), 0);
	ck_assert_int_eq(stun_put_fingerprint(&b), 0);
	n = stun_build_finish(&b);
	ck_assert_int_gt(n, 0);
	ck_assert_uint_eq((size_t)n, b.len);
	ck_assert_uint_eq((size_t)((buf[2] << 8) | buf[3]), (size_t)n - 20);

	parse_ok(buf, (size_t)n, &msg);
	ck_assert_uint_eq(msg.method, 0x0abc);
	ck_assert_int_eq(msg.cls, STUN_INDICATION);
	ck_assert(memcmp(msg.tid, tid, 12) == 0);
	ck_assert_uint_eq(msg.nattrs, 17);
	for (i = 0; i <= 5; i++) {
		size_t k;

		a = stun_find(&msg, (uint16_t)(0x8100 + i));
		ck_assert_ptr_nonnull(a);
		ck_assert_uint_eq(a->len, (unsigned)i);
		ck_assert(memcmp(a->value, "abcde", (size_t)i) == 0);
		for (k = (size_t)i; k % 4 != 0; k++)
			ck_assert_uint_eq(a->value[k], 0);
	}
	ck_assert_int_eq(stun_attr_u32(stun_find(&msg,
	    STUN_ATTR_CHANGE_REQUEST), &u32), 0);
	ck_assert_uint_eq(u32, 6);
	ck_assert_int_eq(stun_attr_u32(stun_find(&msg, STUN_ATTR_RESPONSE_PORT),
	    &u32), 0);
	ck_assert_uint_eq(u32, 0xdeadbeef);
	ck_assert_int_eq(stun_attr_u64(stun_find(&msg, 0x802a), &u64), 0);
	ck_assert(u64 == 0x0123456789abcdefULL);
	xor_address_is(&msg, STUN_ATTR_XOR_MAPPED_ADDRESS, "203.0.113.7:3478");
	address_is(&msg, STUN_ATTR_MAPPED_ADDRESS, "203.0.113.7:3478");
	xor_address_is(&msg, 0x8020, "[2001:db8::42]:65535");
	address_is(&msg, STUN_ATTR_OTHER_ADDRESS, "[2001:db8::42]:65535");
	address_is(&msg, STUN_ATTR_RESPONSE_ORIGIN, "198.51.100.9:1");
	xor_address_is(&msg, STUN_ATTR_ALTERNATE_SERVER, "198.51.100.9:1");
	ck_assert_uint_eq(stun_find(&msg, STUN_ATTR_RESPONSE_ORIGIN)->len, 8);
	ck_assert_int_eq(msg.has_fingerprint, 1);
	ck_assert_int_eq(stun_check_fingerprint(&msg), 0);
	ck_assert_int_eq(stun_check_integrity_sha256(&msg, KEY, KEYLEN), 0);
}
END_TEST

/* The builder matches a MAC and CRC computed elsewhere, and the checker
 * accepts them. */
START_TEST(test_known_answer)
{
	struct stun_builder b;
	struct stun_msg msg;
	uint8_t buf[128];

	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_REQUEST,
	    kat_tid);
	ck_assert_int_eq(stun_put(&b, STUN_ATTR_SOFTWARE, "treecast", 8), 0);
	ck_assert_int_eq(stun_put_integrity_sha256(&b, KEY, KEYLEN), 0);
	ck_assert_int_eq(stun_put_fingerprint(&b), 0);
	ck_assert_int_eq(stun_build_finish(&b), (int)sizeof kat_sha256);
	ck_assert(memcmp(buf, kat_sha256, sizeof kat_sha256) == 0);

	parse_ok(kat_sha256, sizeof kat_sha256, &msg);
	ck_assert_int_eq(msg.has_fingerprint, 1);
	ck_assert_int_eq(stun_check_integrity_sha256(&msg, KEY, KEYLEN), 0);
}
END_TEST

START_TEST(test_error_code)
{
	struct stun_builder b;
	struct stun_msg msg;
	uint8_t buf[1024], tid[12] = { 0 };
	char toolong[STUN_REASON_MAX + 2], longest[STUN_REASON_MAX + 1];
	const struct {
		int		 code;
		const char	*reason;
		int		 ok;
	} put[] = {
		{ 300, NULL, 0 }, { 699, "x", 0 }, { 500, longest, 0 },
		{ 299, "x", -1 }, { 700, "x", -1 }, { 500, toolong, -1 },
	};
	const char *reason;
	size_t rlen, i;
	int code, n;
	const uint16_t unknown[2] = { 0x7777, 0x0024 };

	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_ERROR,
	    tid);
	ck_assert_int_eq(stun_put_error_code(&b, 420, "Unknown Attribute"), 0);
	ck_assert_int_eq(stun_put(&b, STUN_ATTR_UNKNOWN_ATTRIBUTES, unknown,
	    sizeof unknown), 0);
	n = stun_build_finish(&b);
	ck_assert_int_gt(n, 0);
	parse_ok(buf, (size_t)n, &msg);
	ck_assert_int_eq(msg.cls, STUN_ERROR);
	ck_assert_int_eq(stun_attr_error_code(stun_find(&msg,
	    STUN_ATTR_ERROR_CODE), &code, &reason, &rlen), 0);
	ck_assert_int_eq(code, 420);
	ck_assert_uint_eq(rlen, 17);
	ck_assert(memcmp(reason, "Unknown Attribute", rlen) == 0);
	/* §14.8: class in byte 2, number in byte 3. */
	ck_assert_uint_eq(buf[26], 4);
	ck_assert_uint_eq(buf[27], 20);

	/* The edges, no reason at all, and codes and reasons the RFC does
	 * not allow (the builder's error sticks: it finishes with -1). */
	memset(toolong, 'a', sizeof toolong - 1);
	toolong[sizeof toolong - 1] = '\0';
	memset(longest, 'a', sizeof longest - 1);
	longest[sizeof longest - 1] = '\0';
	for (i = 0; i < sizeof put / sizeof put[0]; i++) {
		stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING,
		    STUN_ERROR, tid);
		ck_assert_msg(stun_put_error_code(&b, put[i].code,
		    put[i].reason) == put[i].ok, "code %d", put[i].code);
		n = stun_build_finish(&b);
		if (put[i].ok != 0) {
			ck_assert_int_eq(n, -1);
			continue;
		}
		parse_ok(buf, (size_t)n, &msg);
		ck_assert_int_eq(stun_attr_error_code(&msg.attrs[0], &code,
		    &reason, &rlen), 0);
		ck_assert_int_eq(code, put[i].code);
		ck_assert_uint_eq(rlen, put[i].reason != NULL ?
		    strlen(put[i].reason) : 0);
	}
}
END_TEST

/* stun_error: an answer's code and printable reason, 0 and "" without
 * an ERROR-CODE, 0 for a malformed one. */
START_TEST(test_stun_error)
{
	uint8_t buf[256], tid[12] = { 7 }, bad[4] = { 0, 0, 9, 99 };
	struct stun_builder b;
	struct stun_msg msg;
	char why[8];
	int n;

	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_ERROR,
	    tid);
	ck_assert_int_eq(stun_put_error_code(&b, 438, "Stale\x01Nonce"), 0);
	n = stun_build_finish(&b);
	parse_ok(buf, (size_t)n, &msg);
	ck_assert_int_eq(stun_error(&msg, why, sizeof why), 438);
	ck_assert_str_eq(why, "Stale?N");	/* cut to fit, '?' for \x01 */

	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_SUCCESS,
	    tid);
	n = stun_build_finish(&b);
	parse_ok(buf, (size_t)n, &msg);
	strcpy(why, "junk");
	ck_assert_int_eq(stun_error(&msg, why, sizeof why), 0);
	ck_assert_str_eq(why, "");

	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_ERROR,
	    tid);
	ck_assert_int_eq(stun_put(&b, STUN_ATTR_ERROR_CODE, bad, sizeof bad),
	    0);
	n = stun_build_finish(&b);
	parse_ok(buf, (size_t)n, &msg);
	ck_assert_int_eq(stun_error(&msg, why, sizeof why), 0);
	ck_assert_str_eq(why, "");
}
END_TEST

START_TEST(test_attr_readers_reject)
{
	struct stun_msg msg;
	struct stun_attr a;
	struct sockaddr_storage ss;
	uint8_t v[24];
	uint32_t u32;
	uint64_t u64;
	int code;

	memset(&msg, 0, sizeof msg);
	memset(v, 0, sizeof v);
	a.type = STUN_ATTR_MAPPED_ADDRESS;
	a.value = v;
	a.offset = 20;

	v[1] = 0x01;
	a.len = 8;
	ck_assert_int_eq(stun_attr_address(&a, &ss, NULL), 0);
	ck_assert_int_eq(stun_attr_xor_address(&msg, &a, &ss, NULL), 0);
	a.len = 20;			/* IPv4 with IPv6's length */
	ck_assert_int_eq(stun_attr_address(&a, &ss, NULL), -1);
	v[1] = 0x02;
	ck_assert_int_eq(stun_attr_address(&a, &ss, NULL), 0);
	a.len = 8;			/* IPv6 with IPv4's length */
	ck_assert_int_eq(stun_attr_address(&a, &ss, NULL), -1);
	ck_assert_int_eq(stun_attr_xor_address(&msg, &a, &ss, NULL), -1);
	v[1] = 0x03;			/* no such family */
	ck_assert_int_eq(stun_attr_address(&a, &ss, NULL), -1);
	v[1] = 0x00;
	ck_assert_int_eq(stun_attr_address(&a, &ss, NULL), -1);
	v[1] = 0x01;
	a.len = 3;
	ck_assert_int_eq(stun_attr_address(&a, &ss, NULL), -1);
	a.len = 0;
	ck_assert_int_eq(stun_attr_address(&a, &ss, NULL), -1);
	ck_assert_int_eq(stun_attr_address(NULL, &ss, NULL), -1);
	ck_assert_int_eq(stun_attr_xor_address(&msg, NULL, &ss, NULL), -1);

	a.len = 3;
	ck_assert_int_eq(stun_attr_u32(&a, &u32), -1);
	a.len = 8;
	ck_assert_int_eq(stun_attr_u32(&a, &u32), -1);
	ck_assert_int_eq(stun_attr_u64(&a, &u64), 0);
	a.len = 4;
	ck_assert_int_eq(stun_attr_u64(&a, &u64), -1);
	ck_assert_int_eq(stun_attr_u32(NULL, &u32), -1);

	a.len = 3;
	ck_assert_int_eq(stun_attr_error_code(&a, &code, NULL, NULL), -1);
	a.len = 4;
	v[2] = 2;			/* class 2 */
	v[3] = 0;
	ck_assert_int_eq(stun_attr_error_code(&a, &code, NULL, NULL), -1);
	v[2] = 7;
	ck_assert_int_eq(stun_attr_error_code(&a, &code, NULL, NULL), -1);
	v[2] = 4;
	v[3] = 100;			/* number over 99 */
	ck_assert_int_eq(stun_attr_error_code(&a, &code, NULL, NULL), -1);
	v[2] = 0xfc;			/* reserved bits are ignored */
	v[3] = 1;
	ck_assert_int_eq(stun_attr_error_code(&a, &code, NULL, NULL), 0);
	ck_assert_int_eq(code, 401);
}
END_TEST

int
main(void)
{
	struct check_case cases[] = {
		{ .name = "core", .tests = { test_crc32, test_type_encoding,
		    test_rfc5769_request, test_rfc5769_long_term,
		    test_rfc5769_fingerprint_flip,
		    test_rfc5769_build_xor_address, test_round_trip,
		    test_known_answer, test_error_code,
		    test_stun_error, test_attr_readers_reject },
		    .loops = { { test_rfc5769_response, 2 } } },
	};

	if (sodium_init() < 0) {
		fprintf(stderr, "sodium_init failed\n");
		return EXIT_FAILURE;
	}
	return check_run_cases("stun", cases, sizeof cases / sizeof cases[0]);
}
