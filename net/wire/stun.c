/* STUN messages (RFC 8489): parsing, building, MESSAGE-INTEGRITY-SHA256
 * and FINGERPRINT. A pure codec: the caller owns every buffer. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>

#include <sodium.h>

#include "net/wire/sha256.h"
#include "net/wire/stun.h"

static const char *stun_parse_error_names[STUN_E_COUNT] = {
	[STUN_OK] = "ok",
	[STUN_E_TRUNCATED] = "truncated",
	[STUN_E_TOO_BIG] = "too_big",
	[STUN_E_NOT_STUN] = "not_stun",
	[STUN_E_COOKIE] = "cookie",
	[STUN_E_ATTR_OVERRUN] = "attr_overrun",
	[STUN_E_TOO_MANY_ATTRS] = "too_many_attrs",
	[STUN_E_AFTER_FINGERPRINT] = "after_fingerprint",
	[STUN_E_BAD_FINGERPRINT] = "bad_fingerprint",
};

static const struct {
	uint16_t	 type;
	const char	*name;
} stun_attr_table[] = {
#define STUN_ATTR_ROW(NAME, code, name, rfc)	{ STUN_ATTR_##NAME, name },
	STUN_ATTRS(STUN_ATTR_ROW)
#undef STUN_ATTR_ROW
};

static uint16_t
stun_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t
stun_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | p[3];
}

static void
stun_set16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void
stun_set32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

/* Attribute values are padded to a multiple of 4 bytes (RFC 8489 §14). */
static size_t
stun_pad(size_t len)
{
	return (len + 3) & ~(size_t)3;
}

const char *
stun_parse_error_name(enum stun_parse_error e)
{
	if ((unsigned)e >= STUN_E_COUNT)
		return "unknown";
	return stun_parse_error_names[e];
}

const char *
stun_attr_name(uint16_t type)
{
	size_t i;

	for (i = 0; i < sizeof stun_attr_table / sizeof stun_attr_table[0];
	    i++) {
		if (stun_attr_table[i].type == type)
			return stun_attr_table[i].name;
	}
	return NULL;
}

/*
 * The reflected CRC-32 of RFC 1952 §8 (polynomial 0xedb88320), eight bytes
 * a step ("slicing by 8": row k is the CRC of a byte followed by k zero
 * bytes), five times faster than a byte a step on STUN's short messages.
 * The rows are derived from the polynomial once.
 */
static uint32_t stun_crc_rows[8][256];
static pthread_once_t stun_crc_once = PTHREAD_ONCE_INIT;

static void
stun_crc_init(void)
{
	uint32_t c;
	int i, j;

	for (i = 0; i < 256; i++) {
		for (c = (uint32_t)i, j = 0; j < 8; j++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		stun_crc_rows[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (j = 1; j < 8; j++)
			stun_crc_rows[j][i] = (stun_crc_rows[j - 1][i] >> 8) ^
			    stun_crc_rows[0][stun_crc_rows[j - 1][i] & 0xff];
}

static uint32_t
stun_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

uint32_t
stun_crc32(const uint8_t *p, size_t len)
{
	const uint32_t (*t)[256] = stun_crc_rows;
	uint32_t crc = 0xffffffffu, lo, hi;

	pthread_once(&stun_crc_once, stun_crc_init);
	for (; len >= 8; p += 8, len -= 8) {
		lo = stun_le32(p) ^ crc;
		hi = stun_le32(p + 4);
		crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^
		    t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
		    t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^
		    t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
	}
	for (; len > 0; p++, len--)
		crc = t[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
	return crc ^ 0xffffffffu;
}

/*
 * RFC 8489 §5: the 14-bit type interleaves the class bits C1 and C0 with
 * the method bits, M11..M7 C1 M6..M4 C0 M3..M0.
 */
uint16_t
stun_type(uint16_t method, enum stun_class cls)
{
	unsigned int	m = method & 0xfff, c = (unsigned int)cls & 3;

	return (uint16_t)((m & 0x00f) | ((m & 0x070) << 1) |
	    ((m & 0xf80) << 2) | ((c & 1) << 4) | ((c & 2) << 7));
}

void
stun_type_split(uint16_t type, uint16_t *method, enum stun_class *cls)
{
	*method = (uint16_t)((type & 0x000f) | ((type >> 1) & 0x0070) |
	    ((type >> 2) & 0x0f80));
	*cls = (enum stun_class)(((type >> 4) & 1) | ((type >> 7) & 2));
}

int
stun_is_stun(const uint8_t *buf, size_t len)
{
	if (buf == NULL || len < STUN_HEADER_LEN)
		return 0;
	return (buf[0] & 0xc0) == 0 && stun_get32(buf + 4) == STUN_MAGIC_COOKIE;
}

/* The FINGERPRINT value for a message whose attribute starts at off. */
static uint32_t
stun_fingerprint(const uint8_t *buf, size_t off)
{
	return stun_crc32(buf, off) ^ STUN_FINGERPRINT_XOR;
}

int
stun_parse(const uint8_t *buf, size_t len, struct stun_msg *msg,
    enum stun_parse_error *why)
{
	enum stun_parse_error	 e = STUN_OK;
	struct stun_attr	*a;
	size_t			 off, padded;
	uint16_t		 type, alen, hlen;
	int			 seen_mi = 0, seen_mi256 = 0, seen_fp = 0;

	memset(msg, 0, sizeof *msg);
	if (len > STUN_MAX_MSG) {
		e = STUN_E_TOO_BIG;
		goto fail;
	}
	if (buf == NULL || len < STUN_HEADER_LEN) {
		e = STUN_E_TRUNCATED;
		goto fail;
	}
	/* §6: "The most significant 2 bits of every STUN message MUST be
	 * zeroes"; that is what tells STUN from ChannelData, RTP or DTLS. */
	if ((buf[0] & 0xc0) != 0) {
		e = STUN_E_NOT_STUN;
		goto fail;
	}
	if (stun_get32(buf + 4) != STUN_MAGIC_COOKIE) {
		e = STUN_E_COOKIE;
		goto fail;
	}
	/* §6: every attribute is padded, so "the last 2 bits of this field
	 * are always zero". */
	hlen = stun_get16(buf + 2);
	if ((hlen & 3) != 0) {
		e = STUN_E_NOT_STUN;
		goto fail;
	}
	if (STUN_HEADER_LEN + (size_t)hlen > len) {
		e = STUN_E_TRUNCATED;
		goto fail;
	}
	/* Over UDP the datagram is the message: bytes after it mean this is
	 * something else that happens to start like STUN. */
	if (STUN_HEADER_LEN + (size_t)hlen < len) {
		e = STUN_E_NOT_STUN;
		goto fail;
	}

	stun_type_split(stun_get16(buf), &msg->method, &msg->cls);
	memcpy(msg->tid, buf + 8, sizeof msg->tid);
	msg->length = len;
	msg->buf = buf;

	for (off = STUN_HEADER_LEN; off < len;
	    off += STUN_ATTR_HEADER_LEN + padded) {
		if (len - off < STUN_ATTR_HEADER_LEN) {
			e = STUN_E_ATTR_OVERRUN;
			goto fail;
		}
		type = stun_get16(buf + off);
		alen = stun_get16(buf + off + 2);
		padded = stun_pad(alen);
		if (padded > len - off - STUN_ATTR_HEADER_LEN) {
			e = STUN_E_ATTR_OVERRUN;
			goto fail;
		}

		/*
		 * §14.5: only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT may
		 * follow MESSAGE-INTEGRITY; §14.6: only FINGERPRINT may follow
		 * MESSAGE-INTEGRITY-SHA256; "agents MUST ignore all other
		 * attributes". They are not listed, so nothing can read them
		 * as if they were protected.
		 */
		if (seen_mi256 && type != STUN_ATTR_FINGERPRINT)
			continue;
		if (seen_mi && type != STUN_ATTR_MESSAGE_INTEGRITY_SHA256 &&
		    type != STUN_ATTR_FINGERPRINT)
			continue;

		if (msg->nattrs == STUN_MAX_ATTRS) {
			e = STUN_E_TOO_MANY_ATTRS;
			goto fail;
		}
		a = &msg->attrs[msg->nattrs++];
		a->type = type;
		a->len = alen;
		a->value = buf + off + STUN_ATTR_HEADER_LEN;
		a->offset = off;

		switch (type) {
		case STUN_ATTR_MESSAGE_INTEGRITY:
			seen_mi = 1;
			break;
		case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
			seen_mi256 = 1;
			break;
		case STUN_ATTR_FINGERPRINT:
			/* §14.7: it "MUST be the last attribute". */
			if (off + STUN_ATTR_HEADER_LEN + padded != len) {
				e = STUN_E_AFTER_FINGERPRINT;
				goto fail;
			}
			/* The CRC-32 of the message up to the attribute; the
			 * header's length already ends after it. */
			if (alen != 4 || stun_get32(a->value) !=
			    stun_fingerprint(buf, off)) {
				e = STUN_E_BAD_FINGERPRINT;
				goto fail;
			}
			seen_fp = 1;
			break;
		}
	}
	msg->has_fingerprint = seen_fp;
	if (why != NULL)
		*why = STUN_OK;
	return 0;

fail:
	if (why != NULL)
		*why = e;
	return -1;
}

const struct stun_attr *
stun_find(const struct stun_msg *msg, uint16_t type)
{
	size_t	i;

	for (i = 0; i < msg->nattrs && i < STUN_MAX_ATTRS; i++) {
		if (msg->attrs[i].type == type)
			return &msg->attrs[i];
	}
	return NULL;
}

size_t
stun_unknown_required(const struct stun_msg *msg, const uint16_t *known,
    size_t nknown, uint16_t *out, size_t max)
{
	size_t		i, j, n = 0;
	uint16_t	type;

	for (i = 0; i < msg->nattrs && i < STUN_MAX_ATTRS && n < max; i++) {
		type = msg->attrs[i].type;
		/* §14: 0x0000-0x7FFF are comprehension-required. */
		if (type >= 0x8000)
			continue;
		for (j = 0; j < nknown; j++) {
			if (known[j] == type)
				break;
		}
		if (j < nknown)
			continue;
		for (j = 0; j < n; j++) {
			if (out[j] == type)
				break;
		}
		if (j == n)
			out[n++] = type;
	}
	return n;
}

/*
 * MAPPED-ADDRESS and XOR-MAPPED-ADDRESS share a layout (§14.1, §14.2): a
 * reserved byte, the family, the port, then 4 or 16 address bytes. mask is
 * NULL, or the cookie followed by the transaction ID to XOR with.
 */
static int
stun_addr_decode(const struct stun_attr *a, const uint8_t *mask,
    struct sockaddr_storage *out, socklen_t *outlen)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	uint8_t			 ip[16];
	uint16_t		 port;
	size_t			 n, i;

	if (a == NULL || a->value == NULL || a->len < 4 || out == NULL)
		return -1;
	switch (a->value[1]) {
	case 0x01:
		n = 4;
		break;
	case 0x02:
		n = 16;
		break;
	default:
		return -1;
	}
	if (a->len != 4 + n)
		return -1;
	port = stun_get16(a->value + 2);
	memcpy(ip, a->value + 4, n);
	if (mask != NULL) {
		/* §14.2: X-Port is XORed with the cookie's top 16 bits. */
		port ^= STUN_MAGIC_COOKIE >> 16;
		for (i = 0; i < n; i++)
			ip[i] ^= mask[i];
	}

	memset(out, 0, sizeof *out);
	if (n == 4) {
		memset(&sin, 0, sizeof sin);
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		memcpy(&sin.sin_addr, ip, 4);
		memcpy(out, &sin, sizeof sin);
		if (outlen != NULL)
			*outlen = sizeof sin;
	} else {
		memset(&sin6, 0, sizeof sin6);
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(port);
		memcpy(&sin6.sin6_addr, ip, 16);
		memcpy(out, &sin6, sizeof sin6);
		if (outlen != NULL)
			*outlen = sizeof sin6;
	}
	return 0;
}

int
stun_attr_xor_address(const struct stun_msg *msg, const struct stun_attr *a,
    struct sockaddr_storage *out, socklen_t *outlen)
{
	uint8_t	mask[16];

	if (msg == NULL)
		return -1;
	/* §14.2: IPv4 is XORed with the cookie, IPv6 with the cookie and
	 * the transaction ID. */
	stun_set32(mask, STUN_MAGIC_COOKIE);
	memcpy(mask + 4, msg->tid, sizeof msg->tid);
	return stun_addr_decode(a, mask, out, outlen);
}

int
stun_attr_address(const struct stun_attr *a, struct sockaddr_storage *out,
    socklen_t *outlen)
{
	return stun_addr_decode(a, NULL, out, outlen);
}

int
stun_attr_u32(const struct stun_attr *a, uint32_t *out)
{
	if (a == NULL || a->value == NULL || a->len != 4)
		return -1;
	*out = stun_get32(a->value);
	return 0;
}

int
stun_attr_u64(const struct stun_attr *a, uint64_t *out)
{
	if (a == NULL || a->value == NULL || a->len != 8)
		return -1;
	*out = ((uint64_t)stun_get32(a->value) << 32) |
	    stun_get32(a->value + 4);
	return 0;
}

int
stun_attr_error_code(const struct stun_attr *a, int *code,
    const char **reason, size_t *reason_len)
{
	unsigned int	cls, number;

	if (a == NULL || a->value == NULL || a->len < 4)
		return -1;
	/* §14.8: 21 reserved bits, the class (3 bits, "between 3 and 6"),
	 * then the number ("between 0 and 99"). */
	cls = a->value[2] & 0x07;
	number = a->value[3];
	if (cls < 3 || cls > 6 || number > 99)
		return -1;
	*code = (int)(cls * 100 + number);
	if (reason != NULL)
		*reason = (const char *)a->value + 4;
	if (reason_len != NULL)
		*reason_len = a->len - 4u;
	return 0;
}

int
stun_error(const struct stun_msg *m, char *why, size_t whylen)
{
	const struct stun_attr *a = stun_find(m, STUN_ATTR_ERROR_CODE);
	const char *reason;
	size_t len, i;
	int code;

	why[0] = '\0';
	if (a == NULL || stun_attr_error_code(a, &code, &reason, &len) != 0)
		return 0;
	for (i = 0; i < len && i < whylen - 1; i++)
		why[i] = reason[i] >= 0x20 && reason[i] < 0x7f ? reason[i] :
		    '?';
	why[i] = '\0';
	return code;
}

int
stun_check_integrity_sha256(const struct stun_msg *msg, const uint8_t *key,
    size_t keylen)
{
	struct hmac_sha256	 st;
	const struct stun_attr	*a;
	uint8_t			 hdr[STUN_HEADER_LEN];
	uint8_t			 mac[SHA256_LEN];

	if (msg == NULL || msg->buf == NULL || (key == NULL && keylen != 0))
		return -1;
	a = stun_find(msg, STUN_ATTR_MESSAGE_INTEGRITY_SHA256);
	if (a == NULL)
		return -1;
	/* §14.6: "at least 16 bytes", at most 32, "a multiple of 4". */
	if (a->len < STUN_INTEGRITY_SHA256_MIN ||
	    a->len > STUN_INTEGRITY_SHA256_MAX || (a->len & 3) != 0)
		return -1;
	if (a->offset < STUN_HEADER_LEN || a->offset > msg->length)
		return -1;

	/* §14.6: the HMAC covers the message up to the attribute, with the
	 * header's length "adjusted to point to the end of" it, so whatever
	 * follows (FINGERPRINT) is outside. */
	memcpy(hdr, msg->buf, STUN_HEADER_LEN);
	stun_set16(hdr + 2, (uint16_t)(a->offset + STUN_ATTR_HEADER_LEN +
	    stun_pad(a->len) - STUN_HEADER_LEN));
	hmac_sha256_init(&st, key, keylen);
	hmac_sha256_update(&st, hdr, sizeof hdr);
	hmac_sha256_update(&st, msg->buf + STUN_HEADER_LEN,
	    a->offset - STUN_HEADER_LEN);
	hmac_sha256_final(&st, mac);
	/* Truncated MACs compare their first a->len bytes (§14.6). */
	if (sodium_memcmp(mac, a->value, a->len) == 0) {
		sodium_memzero(mac, sizeof mac);
		return 0;
	}
	sodium_memzero(mac, sizeof mac);
	return -1;
}

int
stun_check_fingerprint(const struct stun_msg *msg)
{
	const struct stun_attr	*a;

	if (msg == NULL || msg->buf == NULL)
		return -1;
	a = stun_find(msg, STUN_ATTR_FINGERPRINT);
	if (a == NULL || a->len != 4 || a->offset < STUN_HEADER_LEN ||
	    a->offset + STUN_ATTR_HEADER_LEN + 4 != msg->length)
		return -1;
	if (stun_get32(a->value) != stun_fingerprint(msg->buf, a->offset))
		return -1;
	return 0;
}

void
stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap,
    uint16_t method, enum stun_class cls, const uint8_t tid[12])
{
	memset(b, 0, sizeof *b);
	b->buf = buf;
	b->cap = cap;
	if (buf == NULL || cap < STUN_HEADER_LEN) {
		b->err = 1;
		return;
	}
	stun_set16(buf, stun_type(method, cls));
	stun_set16(buf + 2, 0);
	stun_set32(buf + 4, STUN_MAGIC_COOKIE);
	if (tid != NULL)
		memcpy(buf + 8, tid, 12);
	else
		memset(buf + 8, 0, 12);
	b->len = STUN_HEADER_LEN;
}

/*
 * Whether an attribute of this type and value length may come next and
 * fits; if not, the builder goes into error.
 */
static int
stun_build_room(struct stun_builder *b, uint16_t type, size_t len)
{
	size_t		need = STUN_ATTR_HEADER_LEN + stun_pad(len);
	uint16_t	prev;

	if (b->err)
		return -1;
	if (b->last != 0) {
		/* §14.7: FINGERPRINT is last. §14.6: only FINGERPRINT after
		 * MESSAGE-INTEGRITY-SHA256. §14.5: only those two after
		 * MESSAGE-INTEGRITY. A receiver would ignore anything else. */
		prev = stun_get16(b->buf + b->last);
		if (prev == STUN_ATTR_FINGERPRINT)
			goto fail;
		if (prev == STUN_ATTR_MESSAGE_INTEGRITY_SHA256 &&
		    type != STUN_ATTR_FINGERPRINT)
			goto fail;
		if (prev == STUN_ATTR_MESSAGE_INTEGRITY &&
		    type != STUN_ATTR_MESSAGE_INTEGRITY_SHA256 &&
		    type != STUN_ATTR_FINGERPRINT)
			goto fail;
	}
	if (len > 0xffff || b->len > b->cap || need > b->cap - b->len ||
	    b->len - STUN_HEADER_LEN + need > 0xffff)
		goto fail;
	return 0;

fail:
	b->err = 1;
	return -1;
}

/* Writes an attribute stun_build_room said fits, and the new length. */
static void
stun_build_append(struct stun_builder *b, uint16_t type, const void *value,
    size_t len)
{
	uint8_t	*p = b->buf + b->len;
	size_t	 padded = stun_pad(len);

	stun_set16(p, type);
	stun_set16(p + 2, (uint16_t)len);
	if (len != 0)
		memcpy(p + STUN_ATTR_HEADER_LEN, value, len);
	/* §14: padding "MUST be set to zero on sending". */
	memset(p + STUN_ATTR_HEADER_LEN + len, 0, padded - len);
	b->last = b->len;
	b->len += STUN_ATTR_HEADER_LEN + padded;
	stun_set16(b->buf + 2, (uint16_t)(b->len - STUN_HEADER_LEN));
}

int
stun_put(struct stun_builder *b, uint16_t type, const void *value,
    uint16_t len)
{
	if (value == NULL && len != 0) {
		b->err = 1;
		return -1;
	}
	if (stun_build_room(b, type, len) != 0)
		return -1;
	stun_build_append(b, type, value, len);
	return 0;
}

int
stun_put_u32(struct stun_builder *b, uint16_t type, uint32_t v)
{
	uint8_t	val[4];

	stun_set32(val, v);
	return stun_put(b, type, val, sizeof val);
}

int
stun_put_u64(struct stun_builder *b, uint16_t type, uint64_t v)
{
	uint8_t	val[8];

	stun_set32(val, (uint32_t)(v >> 32));
	stun_set32(val + 4, (uint32_t)v);
	return stun_put(b, type, val, sizeof val);
}

/* The encoding stun_addr_decode reads; xor as in §14.2. */
static int
stun_build_address(struct stun_builder *b, uint16_t type,
    const struct sockaddr *sa, int xor)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	const uint8_t		*ip;
	uint8_t			 val[20], mask[16];
	uint16_t		 port;
	size_t			 n, i;

	if (b->err)
		return -1;
	if (sa == NULL)
		goto fail;
	if (sa->sa_family == AF_INET) {
		memcpy(&sin, sa, sizeof sin);
		ip = (const uint8_t *)&sin.sin_addr;
		n = 4;
		port = ntohs(sin.sin_port);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(&sin6, sa, sizeof sin6);
		ip = sin6.sin6_addr.s6_addr;
		n = 16;
		port = ntohs(sin6.sin6_port);
		/* A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d;
		 * they are told their IPv4 address, as they would expect. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
			ip += 12;
			n = 4;
		}
	} else
		goto fail;

	val[0] = 0;
	val[1] = n == 4 ? 0x01 : 0x02;
	memset(mask, 0, sizeof mask);
	if (xor) {
		/* The cookie and transaction ID, already in the header. */
		memcpy(mask, b->buf + 4, sizeof mask);
		port ^= STUN_MAGIC_COOKIE >> 16;
	}
	stun_set16(val + 2, port);
	for (i = 0; i < n; i++)
		val[4 + i] = ip[i] ^ mask[i];
	return stun_put(b, type, val, (uint16_t)(4 + n));

fail:
	b->err = 1;
	return -1;
}

int
stun_put_xor_address(struct stun_builder *b, uint16_t type,
    const struct sockaddr *sa)
{
	return stun_build_address(b, type, sa, 1);
}

int
stun_put_address(struct stun_builder *b, uint16_t type,
    const struct sockaddr *sa)
{
	return stun_build_address(b, type, sa, 0);
}

int
stun_put_error_code(struct stun_builder *b, int code, const char *reason)
{
	uint8_t	val[4 + STUN_REASON_MAX];
	size_t	rlen = 0;

	if (b->err)
		return -1;
	if (reason != NULL)
		rlen = strnlen(reason, STUN_REASON_MAX + 1);
	/* §14.8: class 3 to 6, number 0 to 99; a short reason phrase. */
	if (code < 300 || code > 699 || rlen > STUN_REASON_MAX) {
		b->err = 1;
		return -1;
	}
	val[0] = 0;
	val[1] = 0;
	val[2] = (uint8_t)(code / 100);
	val[3] = (uint8_t)(code % 100);
	if (rlen != 0)
		memcpy(val + 4, reason, rlen);
	return stun_put(b, STUN_ATTR_ERROR_CODE, val, (uint16_t)(4 + rlen));
}

int
stun_put_integrity_sha256(struct stun_builder *b, const uint8_t *key,
    size_t keylen)
{
	struct hmac_sha256	st;
	uint8_t			mac[SHA256_LEN];

	if (key == NULL && keylen != 0) {
		b->err = 1;
		return -1;
	}
	if (stun_build_room(b, STUN_ATTR_MESSAGE_INTEGRITY_SHA256,
	    sizeof mac) != 0)
		return -1;
	/* §14.6: while hashing, the length already counts this attribute. */
	stun_set16(b->buf + 2, (uint16_t)(b->len - STUN_HEADER_LEN +
	    STUN_ATTR_HEADER_LEN + sizeof mac));
	hmac_sha256_init(&st, key, keylen);
	hmac_sha256_update(&st, b->buf, b->len);
	hmac_sha256_final(&st, mac);
	stun_build_append(b, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, mac,
	    sizeof mac);
	sodium_memzero(mac, sizeof mac);
	return 0;
}

int
stun_put_fingerprint(struct stun_builder *b)
{
	uint8_t	val[4];

	if (stun_build_room(b, STUN_ATTR_FINGERPRINT, sizeof val) != 0)
		return -1;
	/* §14.7: the CRC covers the header with its final length. */
	stun_set16(b->buf + 2, (uint16_t)(b->len - STUN_HEADER_LEN +
	    STUN_ATTR_HEADER_LEN + sizeof val));
	stun_set32(val, stun_fingerprint(b->buf, b->len));
	stun_build_append(b, STUN_ATTR_FINGERPRINT, val, sizeof val);
	return 0;
}

int
stun_build_finish(struct stun_builder *b)
{
	if (b->err || b->len < STUN_HEADER_LEN || b->len > b->cap)
		return -1;
	return (int)b->len;
}

void
stun_random_tid(uint8_t tid[12])
{
	randombytes_buf(tid, 12);
}
