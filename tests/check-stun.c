/* Unit tests for wire/stun: RFC 5769's vectors, round trips through the
 * builder, integrity, every parse error, and the builder's bounds; and
 * wire/sha256 against FIPS 180-4's and RFC 4231's vectors and libsodium. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "wire/sha256.h"
#include "wire/stun.h"
#include "tests/check-run.h"

/* RFC 5769 §2.1: a Binding request with SOFTWARE, PRIORITY,
 * ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY and FINGERPRINT. The
 * USERNAME is padded with spaces, as the RFC does. */
static const uint8_t rfc5769_request[] = {
	0x00, 0x01, 0x00, 0x58,	/* Request type and message length */
	0x21, 0x12, 0xa4, 0x42,	/* Magic cookie */
	0xb7, 0xe7, 0xa7, 0x01,	/* Transaction ID */
	0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x10,	/* SOFTWARE attribute header */
	0x53, 0x54, 0x55, 0x4e,	/* "STUN test client" */
	0x20, 0x74, 0x65, 0x73,
	0x74, 0x20, 0x63, 0x6c,
	0x69, 0x65, 0x6e, 0x74,
	0x00, 0x24, 0x00, 0x04,	/* PRIORITY attribute header */
	0x6e, 0x00, 0x01, 0xff,	/* ICE priority value */
	0x80, 0x29, 0x00, 0x08,	/* ICE-CONTROLLED attribute header */
	0x93, 0x2f, 0xf9, 0xb1,	/* Pseudo-random tie breaker */
	0x51, 0x26, 0x3b, 0x36,
	0x00, 0x06, 0x00, 0x09,	/* USERNAME attribute header */
	0x65, 0x76, 0x74, 0x6a,	/* "evtj:h6vY" and padding */
	0x3a, 0x68, 0x36, 0x76,
	0x59, 0x20, 0x20, 0x20,
	0x00, 0x08, 0x00, 0x14,	/* MESSAGE-INTEGRITY attribute header */
	0x9a, 0xea, 0xa7, 0x0c,	/* HMAC-SHA1 */
	0xbf, 0xd8, 0xcb, 0x56,
	0x78, 0x1e, 0xf2, 0xb5,
	0xb2, 0xd3, 0xf2, 0x49,
	0xc1, 0xb5, 0x71, 0xa2,
	0x80, 0x28, 0x00, 0x04,	/* FINGERPRINT attribute header */
	0xe5, 0x7a, 0x3b, 0xcf,	/* CRC32 fingerprint */
};

/* RFC 5769 §2.2: success response, XOR-MAPPED-ADDRESS 192.0.2.1:32853. */
static const uint8_t rfc5769_ipv4[] = {
	0x01, 0x01, 0x00, 0x3c,	/* Response type and message length */
	0x21, 0x12, 0xa4, 0x42,	/* Magic cookie */
	0xb7, 0xe7, 0xa7, 0x01,	/* Transaction ID */
	0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x0b,	/* SOFTWARE attribute header */
	0x74, 0x65, 0x73, 0x74,	/* "test vector", padded with a space */
	0x20, 0x76, 0x65, 0x63,
	0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x08,	/* XOR-MAPPED-ADDRESS attribute header */
	0x00, 0x01, 0xa1, 0x47,	/* IPv4, xor'd port */
	0xe1, 0x12, 0xa6, 0x43,	/* xor'd IPv4 address */
	0x00, 0x08, 0x00, 0x14,	/* MESSAGE-INTEGRITY attribute header */
	0x2b, 0x91, 0xf5, 0x99,	/* HMAC-SHA1 */
	0xfd, 0x9e, 0x90, 0xc3,
	0x8c, 0x74, 0x89, 0xf9,
	0x2a, 0xf9, 0xba, 0x53,
	0xf0, 0x6b, 0xe7, 0xd7,
	0x80, 0x28, 0x00, 0x04,	/* FINGERPRINT attribute header */
	0xc0, 0x7d, 0x4c, 0x96,	/* CRC32 fingerprint */
};

/* RFC 5769 §2.3: success response, XOR-MAPPED-ADDRESS
 * [2001:db8:1234:5678:11:2233:4455:6677]:32853. */
static const uint8_t rfc5769_ipv6[] = {
	0x01, 0x01, 0x00, 0x48,	/* Response type and message length */
	0x21, 0x12, 0xa4, 0x42,	/* Magic cookie */
	0xb7, 0xe7, 0xa7, 0x01,	/* Transaction ID */
	0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x0b,	/* SOFTWARE attribute header */
	0x74, 0x65, 0x73, 0x74,	/* "test vector", padded with a space */
	0x20, 0x76, 0x65, 0x63,
	0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x14,	/* XOR-MAPPED-ADDRESS attribute header */
	0x00, 0x02, 0xa1, 0x47,	/* IPv6, xor'd port */
	0x01, 0x13, 0xa9, 0xfa,	/* xor'd IPv6 address */
	0xa5, 0xd3, 0xf1, 0x79,
	0xbc, 0x25, 0xf4, 0xb5,
	0xbe, 0xd2, 0xb9, 0xd9,
	0x00, 0x08, 0x00, 0x14,	/* MESSAGE-INTEGRITY attribute header */
	0xa3, 0x82, 0x95, 0x4e,	/* HMAC-SHA1 */
	0x4b, 0xe6, 0x7b, 0xf1,
	0x17, 0x84, 0xc9, 0x7c,
	0x82, 0x92, 0xc2, 0x75,
	0xbf, 0xe3, 0xed, 0x41,
	0x80, 0x28, 0x00, 0x04,	/* FINGERPRINT attribute header */
	0xc8, 0xfb, 0x0b, 0x4c,	/* CRC32 fingerprint */
};

/* RFC 5769 §2.4: request with long-term authentication, no FINGERPRINT. */
static const uint8_t rfc5769_long_term[] = {
	0x00, 0x01, 0x00, 0x60,	/* Request type and message length */
	0x21, 0x12, 0xa4, 0x42,	/* Magic cookie */
	0x78, 0xad, 0x34, 0x33,	/* Transaction ID */
	0xc6, 0xad, 0x72, 0xc0,
	0x29, 0xda, 0x41, 0x2e,
	0x00, 0x06, 0x00, 0x12,	/* USERNAME attribute header */
	0xe3, 0x83, 0x9e, 0xe3,	/* U+30DE U+30C8 U+30EA U+30C3 U+30AF */
	0x83, 0x88, 0xe3, 0x83,	/* U+30B9 (18 bytes) and padding */
	0xaa, 0xe3, 0x83, 0x83,
	0xe3, 0x82, 0xaf, 0xe3,
	0x82, 0xb9, 0x00, 0x00,
	0x00, 0x15, 0x00, 0x1c,	/* NONCE attribute header */
	0x66, 0x2f, 0x2f, 0x34,	/* "f//499k954d6OL34oL9FSTvy64sA" */
	0x39, 0x39, 0x6b, 0x39,
	0x35, 0x34, 0x64, 0x36,
	0x4f, 0x4c, 0x33, 0x34,
	0x6f, 0x4c, 0x39, 0x46,
	0x53, 0x54, 0x76, 0x79,
	0x36, 0x34, 0x73, 0x41,
	0x00, 0x14, 0x00, 0x0b,	/* REALM attribute header */
	0x65, 0x78, 0x61, 0x6d,	/* "example.org" and padding */
	0x70, 0x6c, 0x65, 0x2e,
	0x6f, 0x72, 0x67, 0x00,
	0x00, 0x08, 0x00, 0x14,	/* MESSAGE-INTEGRITY attribute header */
	0xf6, 0x70, 0x24, 0x65,	/* HMAC-SHA1 */
	0x6d, 0xd6, 0x4a, 0x3e,
	0x02, 0xb8, 0xe0, 0x71,
	0x2e, 0x85, 0xc9, 0xa2,
	0x8c, 0xa8, 0x96, 0x66,
};

static const uint8_t rfc5769_tid[12] = {
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae
};

/*
 * A known answer computed apart from this code (Python's hmac and zlib):
 * Binding request, transaction ID 01..0c, SOFTWARE "treecast",
 * MESSAGE-INTEGRITY-SHA256 keyed with "secret", FINGERPRINT.
 */
static const uint8_t kat_sha256[] = {
	0x00, 0x01, 0x00, 0x38, 0x21, 0x12, 0xa4, 0x42,
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	0x09, 0x0a, 0x0b, 0x0c, 0x80, 0x22, 0x00, 0x08,
	0x74, 0x72, 0x65, 0x65, 0x63, 0x61, 0x73, 0x74,
	0x00, 0x1c, 0x00, 0x20, 0xc0, 0x30, 0xf3, 0x81,
	0x26, 0x29, 0x9b, 0x0e, 0x67, 0xb3, 0x90, 0x83,
	0x19, 0xa6, 0x53, 0x40, 0xc2, 0x15, 0xc2, 0x15,
	0x08, 0x99, 0x7f, 0xbb, 0x57, 0xbc, 0x00, 0x0c,
	0x79, 0xbd, 0x4a, 0xe7, 0x80, 0x28, 0x00, 0x04,
	0xff, 0xa0, 0xcb, 0x27,
};

static const uint8_t kat_tid[12] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c
};

#define KEY	((const uint8_t *)"secret")
#define KEYLEN	6

static void
parse_ok(const uint8_t *buf, size_t len, struct stun_msg *msg)
{
	enum stun_parse_error why = STUN_E_COUNT;

	ck_assert_msg(stun_parse(buf, len, msg, &why) == 0, "parse: %s",
	    stun_parse_error_name(why));
	ck_assert_int_eq(why, STUN_OK);
}

static void
parse_err(const uint8_t *buf, size_t len, enum stun_parse_error expect)
{
	struct stun_msg msg;
	enum stun_parse_error why = STUN_OK;

	ck_assert_int_eq(stun_parse(buf, len, &msg, &why), -1);
	ck_assert_msg(why == expect, "got %s, expected %s",
	    stun_parse_error_name(why), stun_parse_error_name(expect));
}

/* The attribute's value is exactly s. */
static void
attr_is(const struct stun_msg *msg, uint16_t type, const char *s)
{
	const struct stun_attr *a = stun_find(msg, type);

	ck_assert_msg(a != NULL, "no attribute 0x%04x", type);
	ck_assert_uint_eq(a->len, strlen(s));
	ck_assert(memcmp(a->value, s, a->len) == 0);
}

/* "IP:PORT" or "[IP6]:PORT". */
static const char *
fmt(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
		snprintf(buf, len, "%s:%u", ip, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
		snprintf(buf, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else
		snprintf(buf, len, "(family %d)", ss->ss_family);
	return buf;
}

static void
make_addr(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
	}
}

static void
xor_address_is(const struct stun_msg *msg, uint16_t type, const char *expect)
{
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	char buf[80];

	ck_assert_int_eq(stun_attr_xor_address(msg, stun_find(msg, type), &ss,
	    &sslen), 0);
	ck_assert_str_eq(fmt(&ss, buf, sizeof buf), expect);
	ck_assert_uint_eq(sslen, ss.ss_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
}

static void
address_is(const struct stun_msg *msg, uint16_t type, const char *expect)
{
	struct sockaddr_storage ss;
	char buf[80];

	ck_assert_int_eq(stun_attr_address(stun_find(msg, type), &ss, NULL), 0);
	ck_assert_str_eq(fmt(&ss, buf, sizeof buf), expect);
}

/* Sets the header's length from the bytes written so far. */
static void
set_length(uint8_t *buf, size_t len)
{
	buf[2] = (uint8_t)((len - STUN_HEADER_LEN) >> 8);
	buf[3] = (uint8_t)(len - STUN_HEADER_LEN);
}

/* Appends a raw attribute (no checks, zero padding); returns the new
 * length and updates the header. */
static size_t
append_attr(uint8_t *buf, size_t len, uint16_t type, const void *value,
    uint16_t vlen)
{
	size_t padded = (vlen + 3u) & ~3u;

	buf[len] = type >> 8;
	buf[len + 1] = type & 0xff;
	buf[len + 2] = vlen >> 8;
	buf[len + 3] = vlen & 0xff;
	memset(buf + len + 4, 0, padded);
	if (vlen != 0)
		memcpy(buf + len + 4, value, vlen);
	len += 4 + padded;
	set_length(buf, len);
	return len;
}

/* Appends a correct FINGERPRINT by hand. */
static size_t
append_fingerprint(uint8_t *buf, size_t len)
{
	uint8_t v[4];
	uint32_t crc;

	set_length(buf, len + 8);
	crc = stun_crc32(buf, len) ^ STUN_FINGERPRINT_XOR;
	v[0] = crc >> 24;
	v[1] = (crc >> 16) & 0xff;
	v[2] = (crc >> 8) & 0xff;
	v[3] = crc & 0xff;
	return append_attr(buf, len, STUN_ATTR_FINGERPRINT, v, 4);
}

/* Appends MESSAGE-INTEGRITY-SHA256 holding the first vlen bytes of the
 * HMAC (zeros past 32), computed here as RFC 8489 §14.6 says. */
static size_t
append_integrity(uint8_t *buf, size_t len, uint16_t vlen)
{
	crypto_auth_hmacsha256_state st;
	uint8_t mac[64];

	memset(mac, 0, sizeof mac);
	set_length(buf, len + 4 + ((vlen + 3u) & ~3u));
	crypto_auth_hmacsha256_init(&st, KEY, KEYLEN);
	crypto_auth_hmacsha256_update(&st, buf, len);
	crypto_auth_hmacsha256_final(&st, mac);
	return append_attr(buf, len, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, mac,
	    vlen);
}

/* A header with no attributes. */
static size_t
start_msg(uint8_t *buf, uint16_t method, enum stun_class cls)
{
	struct stun_builder b;

	stun_build_init(&b, buf, STUN_HEADER_LEN, method, cls, kat_tid);
	ck_assert_int_eq(stun_build_finish(&b), STUN_HEADER_LEN);
	return STUN_HEADER_LEN;
}

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

START_TEST(test_rfc5769_ipv4_response)
{
	struct stun_msg msg;
	const struct stun_attr *a;

	parse_ok(rfc5769_ipv4, sizeof rfc5769_ipv4, &msg);
	ck_assert_uint_eq(msg.method, STUN_METHOD_BINDING);
	ck_assert_int_eq(msg.cls, STUN_SUCCESS);
	ck_assert(memcmp(msg.tid, rfc5769_tid, 12) == 0);
	ck_assert_uint_eq(msg.nattrs, 4);
	ck_assert_int_eq(msg.has_fingerprint, 1);
	ck_assert_int_eq(stun_check_fingerprint(&msg), 0);
	attr_is(&msg, STUN_ATTR_SOFTWARE, "test vector");
	xor_address_is(&msg, STUN_ATTR_XOR_MAPPED_ADDRESS, "192.0.2.1:32853");
	a = stun_find(&msg, STUN_ATTR_MESSAGE_INTEGRITY);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->len, 20);
	ck_assert_uint_eq(a->value[0], 0x2b);
}
END_TEST

START_TEST(test_rfc5769_ipv6_response)
{
	struct stun_msg msg;
	const struct stun_attr *a;

	parse_ok(rfc5769_ipv6, sizeof rfc5769_ipv6, &msg);
	ck_assert_uint_eq(msg.method, STUN_METHOD_BINDING);
	ck_assert_int_eq(msg.cls, STUN_SUCCESS);
	ck_assert_uint_eq(msg.nattrs, 4);
	ck_assert_int_eq(msg.has_fingerprint, 1);
	ck_assert_int_eq(stun_check_fingerprint(&msg), 0);
	attr_is(&msg, STUN_ATTR_SOFTWARE, "test vector");
	xor_address_is(&msg, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
	a = stun_find(&msg, STUN_ATTR_MESSAGE_INTEGRITY);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->len, 20);
	ck_assert_uint_eq(a->value[19], 0x41);
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

/* Our builder writes the RFC's XOR-MAPPED-ADDRESS bytes (§2.2, §2.3). */
START_TEST(test_rfc5769_build_xor_address)
{
	struct stun_builder b;
	struct sockaddr_storage ss;
	uint8_t buf[128];

	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_SUCCESS,
	    rfc5769_tid);
	ck_assert_int_eq(stun_put(&b, STUN_ATTR_SOFTWARE, "test vector", 11),
	    0);
	make_addr(&ss, "192.0.2.1", 32853);
	ck_assert_int_eq(stun_put_xor_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    (struct sockaddr *)&ss), 0);
	ck_assert_int_eq(stun_build_finish(&b), 48);
	ck_assert(memcmp(buf, rfc5769_ipv4, 2) == 0);
	ck_assert(memcmp(buf + 4, rfc5769_ipv4 + 4, 31) == 0);
	/* We pad with a zero where the RFC has a space. */
	ck_assert_uint_eq(buf[35], 0);
	ck_assert(memcmp(buf + 36, rfc5769_ipv4 + 36, 12) == 0);

	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_SUCCESS,
	    rfc5769_tid);
	ck_assert_int_eq(stun_put(&b, STUN_ATTR_SOFTWARE, "test vector", 11),
	    0);
	make_addr(&ss, "2001:db8:1234:5678:11:2233:4455:6677", 32853);
	ck_assert_int_eq(stun_put_xor_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    (struct sockaddr *)&ss), 0);
	ck_assert_int_eq(stun_build_finish(&b), 60);
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
	char longreason[STUN_REASON_MAX + 2];
	const char *reason;
	size_t rlen;
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

	/* The edges, and no reason at all. */
	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_ERROR,
	    tid);
	ck_assert_int_eq(stun_put_error_code(&b, 300, NULL), 0);
	n = stun_build_finish(&b);
	parse_ok(buf, (size_t)n, &msg);
	ck_assert_int_eq(stun_attr_error_code(&msg.attrs[0], &code, &reason,
	    &rlen), 0);
	ck_assert_int_eq(code, 300);
	ck_assert_uint_eq(rlen, 0);
	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_ERROR,
	    tid);
	ck_assert_int_eq(stun_put_error_code(&b, 699, "x"), 0);
	n = stun_build_finish(&b);
	parse_ok(buf, (size_t)n, &msg);
	ck_assert_int_eq(stun_attr_error_code(&msg.attrs[0], &code, NULL,
	    NULL), 0);
	ck_assert_int_eq(code, 699);

	/* Codes and reasons the RFC does not allow. */
	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_ERROR,
	    tid);
	ck_assert_int_eq(stun_put_error_code(&b, 299, "x"), -1);
	ck_assert_int_eq(stun_build_finish(&b), -1);
	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_ERROR,
	    tid);
	ck_assert_int_eq(stun_put_error_code(&b, 700, "x"), -1);
	ck_assert_int_eq(stun_build_finish(&b), -1);
	memset(longreason, 'a', sizeof longreason - 1);
	longreason[sizeof longreason - 1] = '\0';
	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_ERROR,
	    tid);
	ck_assert_int_eq(stun_put_error_code(&b, 500, longreason), -1);
	longreason[STUN_REASON_MAX] = '\0';
	stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_ERROR,
	    tid);
	ck_assert_int_eq(stun_put_error_code(&b, 500, longreason), 0);
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
	{
		uint32_t crc;
		uint8_t v[4];

		len = start_msg(buf, STUN_METHOD_BINDING, STUN_REQUEST);
		set_length(buf, STUN_HEADER_LEN + 8 + 8);
		crc = stun_crc32(buf, len) ^ STUN_FINGERPRINT_XOR;
		v[0] = crc >> 24;
		v[1] = (crc >> 16) & 0xff;
		v[2] = (crc >> 8) & 0xff;
		v[3] = crc & 0xff;
		len = append_attr(buf, len, STUN_ATTR_FINGERPRINT, v, 4);
		len = append_attr(buf, len, STUN_ATTR_SOFTWARE, "x", 1);
		ck_assert_uint_eq(len, STUN_HEADER_LEN + 8 + 8);
		parse_err(buf, len, STUN_E_AFTER_FINGERPRINT);
		/* Without what follows, that CRC is wrong. */
		set_length(buf, STUN_HEADER_LEN + 8);
		parse_err(buf, STUN_HEADER_LEN + 8, STUN_E_BAD_FINGERPRINT);
	}

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
START_TEST(test_sha256_vectors)
{
	static const struct {
		const char	*msg;
		size_t		 repeat;
		const char	*digest;
	} v[] = {
		{ "abc", 1, "ba7816bf8f01cfea414140de5dae2223"
		    "b00361a396177a9cb410ff61f20015ad" },
		{ "", 1, "e3b0c44298fc1c149afbf4c8996fb924"
		    "27ae41e4649b934ca495991b7852b855" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		    1, "248d6a61d20638b8e5c026930c3e6039"
		    "a33ce45964ff2167f6ecedd419db06c1" },
		{ "a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67"
		    "f1809a48a497200e046d39ccc7112cd0" },
	};
	uint8_t md[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];
	struct sha256 s;
	size_t i, r;
	int portable;

	for (portable = 0; portable <= 1; portable++) {
		sha256_force_portable(portable);
		for (i = 0; i < sizeof v / sizeof v[0]; i++) {
			sha256_init(&s);
			for (r = 0; r < v[i].repeat; r++)
				sha256_update(&s, v[i].msg, strlen(v[i].msg));
			sha256_final(&s, md);
			sodium_bin2hex(hex, sizeof hex, md, sizeof md);
			ck_assert_msg(strcmp(hex, v[i].digest) == 0,
			    "%s vector %zu: %s", sha256_impl(), i, hex);
		}
	}
	sha256_force_portable(0);
}
END_TEST

/* RFC 4231 §4.2, §4.3 and §4.7: a short key, a short key with a short
 * text, and a key longer than a block (hashed first). */
START_TEST(test_hmac_sha256_rfc4231)
{
	static const char *mac1 = "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7";
	static const char *mac2 = "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843";
	static const char *mac6 = "60e431591ee0b67f0d8a26aacbf5b77f"
	    "8e0bc6213728c5140546040f0ee37f54";
	uint8_t key[131], md[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];
	struct hmac_sha256 h;
	const char *t;
	int portable;

	for (portable = 0; portable <= 1; portable++) {
		sha256_force_portable(portable);
		memset(key, 0x0b, 20);
		t = "Hi There";
		hmac_sha256_init(&h, key, 20);
		hmac_sha256_update(&h, t, strlen(t));
		hmac_sha256_final(&h, md);
		sodium_bin2hex(hex, sizeof hex, md, sizeof md);
		ck_assert_str_eq(hex, mac1);

		t = "what do ya want for nothing?";
		hmac_sha256_init(&h, (const uint8_t *)"Jefe", 4);
		hmac_sha256_update(&h, t, strlen(t));
		hmac_sha256_final(&h, md);
		sodium_bin2hex(hex, sizeof hex, md, sizeof md);
		ck_assert_str_eq(hex, mac2);

		memset(key, 0xaa, sizeof key);
		t = "Test Using Larger Than Block-Size Key - Hash Key First";
		hmac_sha256_init(&h, key, sizeof key);
		hmac_sha256_update(&h, t, strlen(t));
		hmac_sha256_final(&h, md);
		sodium_bin2hex(hex, sizeof hex, md, sizeof md);
		ck_assert_str_eq(hex, mac6);
	}
	sha256_force_portable(0);
}
END_TEST

/* Every text length 0..300 and key length 0..140, fed in random pieces,
 * on both compression functions, equal to libsodium's HMAC-SHA256. */
START_TEST(test_hmac_sha256_libsodium)
{
	uint8_t key[140], text[300], ours[SHA256_LEN];
	uint8_t theirs[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	struct hmac_sha256 h;
	size_t len, klen, off, piece;
	int portable;

	randombytes_buf(key, sizeof key);
	randombytes_buf(text, sizeof text);
	for (portable = 0; portable <= 1; portable++) {
		sha256_force_portable(portable);
		for (len = 0; len <= sizeof text; len++) {
			klen = len % (sizeof key + 1);
			crypto_auth_hmacsha256_init(&st, key, klen);
			crypto_auth_hmacsha256_update(&st, text, len);
			crypto_auth_hmacsha256_final(&st, theirs);
			hmac_sha256_init(&h, key, klen);
			for (off = 0; off < len; off += piece) {
				piece = 1 + randombytes_uniform(80);
				if (piece > len - off)
					piece = len - off;
				hmac_sha256_update(&h, text + off, piece);
			}
			hmac_sha256_final(&h, ours);
			ck_assert_msg(memcmp(ours, theirs, sizeof ours) == 0,
			    "%s: text %zu key %zu", sha256_impl(), len, klen);
		}
	}
	sha256_force_portable(0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("stun");
	TCase *tc = tcase_create("core");

	if (sodium_init() < 0) {
		fprintf(stderr, "sodium_init failed\n");
		return EXIT_FAILURE;
	}
	tcase_add_test(tc, test_crc32);
	tcase_add_test(tc, test_type_encoding);
	tcase_add_test(tc, test_rfc5769_request);
	tcase_add_test(tc, test_rfc5769_ipv4_response);
	tcase_add_test(tc, test_rfc5769_ipv6_response);
	tcase_add_test(tc, test_rfc5769_long_term);
	tcase_add_test(tc, test_rfc5769_fingerprint_flip);
	tcase_add_test(tc, test_rfc5769_build_xor_address);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_known_answer);
	tcase_add_test(tc, test_error_code);
	tcase_add_test(tc, test_stun_error);
	tcase_add_test(tc, test_attr_readers_reject);
	tcase_add_test(tc, test_integrity);
	tcase_add_test(tc, test_integrity_truncated);
	tcase_add_test(tc, test_after_integrity_ignored);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_parse_error_names);
	tcase_add_test(tc, test_is_stun);
	tcase_add_test(tc, test_unknown_required);
	tcase_add_test(tc, test_builder_overflow);
	tcase_add_test(tc, test_builder_order);
	tcase_add_test(tc, test_random_tid);
	tcase_add_test(tc, test_sha256_vectors);
	tcase_add_test(tc, test_hmac_sha256_rfc4231);
	tcase_add_test(tc, test_hmac_sha256_libsodium);
	suite_add_tcase(s, tc);
	return check_run(s);
}
