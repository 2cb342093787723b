/* STUN messages (RFC 8489, compatible with RFC 5389; RFC 5780 attributes):
 * a pure codec over the caller's buffers. Nothing here allocates, logs or
 * touches a socket; every function checks its bounds and returns -1 (or
 * NULL) on bad input. */
#ifndef TREECAST_STUN_H
#define TREECAST_STUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define STUN_HEADER_LEN		20
#define STUN_ATTR_HEADER_LEN	4
#define STUN_MAGIC_COOKIE	0x2112A442u
#define STUN_MAX_MSG		1500	/* we reject larger datagrams */
#define STUN_MAX_ATTRS		32
#define STUN_FINGERPRINT_XOR	0x5354554eu	/* "STUN", RFC 8489 §14.7 */
#define STUN_INTEGRITY_SHA256_MIN 16	/* RFC 8489 §14.6 */
#define STUN_INTEGRITY_SHA256_MAX 32
/* RFC 8489 §14.8: reason phrases of fewer than 128 characters. */
#define STUN_REASON_MAX		509

#define STUN_METHOD_BINDING	0x001

enum stun_class {
	STUN_REQUEST = 0,
	STUN_INDICATION = 1,
	STUN_SUCCESS = 2,
	STUN_ERROR = 3
};

/* Attributes, one row each: X(NAME, code, name, rfc) (rfc: where it is
 * defined): the enum, stun_attr_name() and the fuzzers' dictionary. */
#define STUN_ATTRS(X)							\
	X(MAPPED_ADDRESS, 0x0001, "MAPPED-ADDRESS", 8489)		\
	X(CHANGE_REQUEST, 0x0003, "CHANGE-REQUEST", 5780)		\
	X(USERNAME, 0x0006, "USERNAME", 8489)				\
	X(MESSAGE_INTEGRITY, 0x0008, "MESSAGE-INTEGRITY", 8489)		\
	X(ERROR_CODE, 0x0009, "ERROR-CODE", 8489)			\
	X(UNKNOWN_ATTRIBUTES, 0x000A, "UNKNOWN-ATTRIBUTES", 8489)	\
	X(REALM, 0x0014, "REALM", 8489)					\
	X(NONCE, 0x0015, "NONCE", 8489)					\
	X(MESSAGE_INTEGRITY_SHA256, 0x001C, "MESSAGE-INTEGRITY-SHA256", 8489) \
	X(PASSWORD_ALGORITHM, 0x001D, "PASSWORD-ALGORITHM", 8489)	\
	X(USERHASH, 0x001E, "USERHASH", 8489)				\
	X(XOR_MAPPED_ADDRESS, 0x0020, "XOR-MAPPED-ADDRESS", 8489)	\
	X(PADDING, 0x0026, "PADDING", 5780)				\
	X(RESPONSE_PORT, 0x0027, "RESPONSE-PORT", 5780)			\
	X(PASSWORD_ALGORITHMS, 0x8002, "PASSWORD-ALGORITHMS", 8489)	\
	X(ALTERNATE_DOMAIN, 0x8003, "ALTERNATE-DOMAIN", 8489)		\
	X(SOFTWARE, 0x8022, "SOFTWARE", 8489)				\
	X(ALTERNATE_SERVER, 0x8023, "ALTERNATE-SERVER", 8489)		\
	X(FINGERPRINT, 0x8028, "FINGERPRINT", 8489)			\
	X(RESPONSE_ORIGIN, 0x802B, "RESPONSE-ORIGIN", 5780)		\
	X(OTHER_ADDRESS, 0x802C, "OTHER-ADDRESS", 5780)

enum stun_attr_type {
#define STUN_ATTR_ENUM(NAME, code, name, rfc)	STUN_ATTR_##NAME = code,
	STUN_ATTRS(STUN_ATTR_ENUM)
#undef STUN_ATTR_ENUM
};

enum stun_parse_error {
	STUN_OK = 0,
	STUN_E_TRUNCATED,	/* shorter than the header or its length */
	STUN_E_TOO_BIG,		/* over STUN_MAX_MSG */
	STUN_E_NOT_STUN,	/* top bits set, length not a multiple of 4,
				   or bytes after the message */
	STUN_E_COOKIE,
	STUN_E_ATTR_OVERRUN,	/* an attribute runs past the end */
	STUN_E_TOO_MANY_ATTRS,
	STUN_E_AFTER_FINGERPRINT, /* anything after FINGERPRINT */
	STUN_E_BAD_FINGERPRINT,	/* wrong CRC or wrong length */
	STUN_E_COUNT
};

struct stun_attr {
	uint16_t	 type;
	uint16_t	 len;		/* of the value, padding excluded */
	const uint8_t	*value;		/* into the message buffer */
	size_t		 offset;	/* of the attribute header */
};

struct stun_msg {
	uint16_t	 method;	/* 12 bits */
	enum stun_class	 cls;
	uint8_t		 tid[12];
	size_t		 length;	/* whole message, header included */
	size_t		 nattrs;
	struct stun_attr attrs[STUN_MAX_ATTRS];
	int		 has_fingerprint; /* present and correct */
	const uint8_t	*buf;		/* the caller's buffer, not copied */
};

/* Short snake_case names for counters ("truncated"); "unknown" if out of
 * range. */
const char *stun_parse_error_name(enum stun_parse_error e);
/* The attribute's RFC name ("XOR-MAPPED-ADDRESS"), or NULL if not ours. */
const char *stun_attr_name(uint16_t type);

/* The 14-bit message type from method and class, and back (RFC 8489 §5). */
uint16_t stun_type(uint16_t method, enum stun_class cls);
void	stun_type_split(uint16_t type, uint16_t *method, enum stun_class *cls);

/*
 * Parses one message: len is the whole datagram and must equal 20 plus the
 * header's length. Attributes after MESSAGE-INTEGRITY or
 * MESSAGE-INTEGRITY-SHA256 other than those allowed to follow (RFC 8489
 * §14.5, §14.6) are skipped and not listed in msg->attrs. A FINGERPRINT is
 * verified here. Returns 0, or -1 with the reason in *why (why may be
 * NULL). msg points into buf afterwards.
 */
int	stun_parse(const uint8_t *buf, size_t len, struct stun_msg *msg,
	    enum stun_parse_error *why);
/* Quick test before parsing: first two bits 0, cookie right, len >= 20. */
int	stun_is_stun(const uint8_t *buf, size_t len);
/* First attribute of that type, or NULL. */
const struct stun_attr *stun_find(const struct stun_msg *msg, uint16_t type);
/*
 * Comprehension-required attributes (type < 0x8000) that are not in known:
 * writes up to max of them, each once, to out and returns how many (for a
 * 420 answer's UNKNOWN-ATTRIBUTES, RFC 8489 §6.3.1 and §14.9).
 */
size_t	stun_unknown_required(const struct stun_msg *msg,
	    const uint16_t *known, size_t nknown, uint16_t *out, size_t max);

/* Attribute readers: 0, or -1 for a wrong length or unknown family. The
 * address is written as a sockaddr_in or sockaddr_in6; outlen may be NULL. */
int	stun_attr_xor_address(const struct stun_msg *msg,
	    const struct stun_attr *a, struct sockaddr_storage *out,
	    socklen_t *outlen);
int	stun_attr_address(const struct stun_attr *a,
	    struct sockaddr_storage *out, socklen_t *outlen);
int	stun_attr_u32(const struct stun_attr *a, uint32_t *out);
int	stun_attr_u64(const struct stun_attr *a, uint64_t *out);
/* The reason is UTF-8 in the message, not NUL-terminated. Codes outside
 * 300..699 are rejected. */
int	stun_attr_error_code(const struct stun_attr *a, int *code,
	    const char **reason, size_t *reason_len);
/* The one ERROR-CODE reader for answers: m's code (0 when it carries none
 * or a malformed one), its reason copied into why (whylen > 0) with
 * unprintable bytes as '?', "" when absent. */
int	stun_error(const struct stun_msg *m, char *why, size_t whylen);

/*
 * Checks the first MESSAGE-INTEGRITY-SHA256 with key (RFC 8489 §14.6): an
 * HMAC-SHA256 over the message up to that attribute, with the header's
 * length ending after it, possibly truncated to 16..32 bytes (a multiple of
 * 4). 0 if valid, -1 if absent or invalid.
 */
int	stun_check_integrity_sha256(const struct stun_msg *msg,
	    const uint8_t *key, size_t keylen);
/* Recomputes the FINGERPRINT: 0 if present and right, else -1. */
int	stun_check_fingerprint(const struct stun_msg *msg);
/* CRC-32 of ISO/IEC 3309 and RFC 1952 (check value 0xcbf43926). */
uint32_t stun_crc32(const uint8_t *p, size_t len);

/*
 * Building into the caller's buffer, never past cap. Every put returns 0 or
 * -1; after -1 (no room, bad argument, or an attribute where RFC 8489 §14.5
 * to §14.7 allow none) the builder stays in error and finish returns -1.
 */
struct stun_builder {
	uint8_t	*buf;
	size_t	 cap;
	size_t	 len;
	int	 err;
	size_t	 last;	/* offset of the last attribute, 0 if none */
};

void	stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap,
	    uint16_t method, enum stun_class cls, const uint8_t tid[12]);
/* Pads the value to 4 bytes with zeros. */
int	stun_put(struct stun_builder *b, uint16_t type, const void *value,
	    uint16_t len);
int	stun_put_u32(struct stun_builder *b, uint16_t type, uint32_t v);
int	stun_put_u64(struct stun_builder *b, uint16_t type, uint64_t v);
/* IPv4 or IPv6; an IPv4-mapped IPv6 address is written as IPv4. */
int	stun_put_xor_address(struct stun_builder *b, uint16_t type,
	    const struct sockaddr *sa);
int	stun_put_address(struct stun_builder *b, uint16_t type,
	    const struct sockaddr *sa);
/* code 300..699; reason may be NULL (RFC 8489 §14.8). */
int	stun_put_error_code(struct stun_builder *b, int code,
	    const char *reason);
/* The full 32-byte HMAC; only FINGERPRINT may follow. */
int	stun_put_integrity_sha256(struct stun_builder *b, const uint8_t *key,
	    size_t keylen);
/* Must be the last attribute. */
int	stun_put_fingerprint(struct stun_builder *b);
/* The message's total length, or -1. */
int	stun_build_finish(struct stun_builder *b);
/* 96 random bits from libsodium (call sodium_init() first). */
void	stun_random_tid(uint8_t tid[12]);

#endif
