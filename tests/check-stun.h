/* What the net/wire/stun suites share: RFC 5769's test vectors, a known
 * answer, and helpers that parse, compare and write messages by hand. */
#ifndef TREECAST_CHECK_STUN_H
#define TREECAST_CHECK_STUN_H

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "net/util/addr.h"
#include "net/wire/stun.h"

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

static inline void
parse_ok(const uint8_t *buf, size_t len, struct stun_msg *msg)
{
	enum stun_parse_error why = STUN_E_COUNT;

	ck_assert_msg(stun_parse(buf, len, msg, &why) == 0, "parse: %s",
	    stun_parse_error_name(why));
	ck_assert_int_eq(why, STUN_OK);
}

static inline void
parse_err(const uint8_t *buf, size_t len, enum stun_parse_error expect)
{
	struct stun_msg msg;
	enum stun_parse_error why = STUN_OK;

	ck_assert_int_eq(stun_parse(buf, len, &msg, &why), -1);
	ck_assert_msg(why == expect, "got %s, expected %s",
	    stun_parse_error_name(why), stun_parse_error_name(expect));
}

/* The attribute's value is exactly s. */
static inline void
attr_is(const struct stun_msg *msg, uint16_t type, const char *s)
{
	const struct stun_attr *a = stun_find(msg, type);

	ck_assert_msg(a != NULL, "no attribute 0x%04x", type);
	ck_assert_uint_eq(a->len, strlen(s));
	ck_assert(memcmp(a->value, s, a->len) == 0);
}

/* ss holds ip (a numeric IPv4 or IPv6 address, no brackets) and port. */
static inline void
make_addr(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct addr a;
	char err[128];

	ck_assert_msg(addr_parse(ip, port, 0, &a, err, sizeof err) == 0, "%s",
	    err);
	memcpy(ss, &a.ss, sizeof *ss);
}

/* The address attribute of type, XOR'd, is expect ("IP:PORT"). */
static inline void
xor_address_is(const struct stun_msg *msg, uint16_t type, const char *expect)
{
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	char buf[ADDR_STRLEN];

	ck_assert_int_eq(stun_attr_xor_address(msg, stun_find(msg, type), &ss,
	    &sslen), 0);
	ck_assert_str_eq(addr_format((struct sockaddr *)&ss, buf, sizeof buf),
	    expect);
	ck_assert_uint_eq(sslen, addr_sslen(&ss));
}

/* The address attribute of type, plain, is expect. */
static inline void
address_is(const struct stun_msg *msg, uint16_t type, const char *expect)
{
	struct sockaddr_storage ss;
	char buf[ADDR_STRLEN];

	ck_assert_int_eq(stun_attr_address(stun_find(msg, type), &ss, NULL), 0);
	ck_assert_str_eq(addr_format((struct sockaddr *)&ss, buf, sizeof buf),
	    expect);
}

/* Sets the header's length from the bytes written so far. */
static inline void
set_length(uint8_t *buf, size_t len)
{
	buf[2] = (uint8_t)((len - STUN_HEADER_LEN) >> 8);
	buf[3] = (uint8_t)(len - STUN_HEADER_LEN);
}

/* Appends a raw attribute (no checks, zero padding); returns the new
 * length and updates the header. */
static inline size_t
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

/* Appends a FINGERPRINT by hand, its CRC computed with the header's
 * length saying total bytes; returns the new length. */
static inline size_t
append_fingerprint_for(uint8_t *buf, size_t len, size_t total)
{
	uint8_t v[4];
	uint32_t crc;

	set_length(buf, total);
	crc = stun_crc32(buf, len) ^ STUN_FINGERPRINT_XOR;
	v[0] = crc >> 24;
	v[1] = (crc >> 16) & 0xff;
	v[2] = (crc >> 8) & 0xff;
	v[3] = crc & 0xff;
	return append_attr(buf, len, STUN_ATTR_FINGERPRINT, v, 4);
}

/* Appends a correct FINGERPRINT by hand. */
static inline size_t
append_fingerprint(uint8_t *buf, size_t len)
{
	return append_fingerprint_for(buf, len, len + 8);
}

/* Appends MESSAGE-INTEGRITY-SHA256 holding the first vlen bytes of the
 * HMAC (zeros past 32), computed here as RFC 8489 §14.6 says. */
static inline size_t
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
static inline size_t
start_msg(uint8_t *buf, uint16_t method, enum stun_class cls)
{
	struct stun_builder b;

	stun_build_init(&b, buf, STUN_HEADER_LEN, method, cls, kat_tid);
	ck_assert_int_eq(stun_build_finish(&b), STUN_HEADER_LEN);
	return STUN_HEADER_LEN;
}

#endif
