/*
 * The chunk: the unit the origin cuts from its MPEG-TS stream and that every
 * node relays and keeps in its ring. A fixed header, then whole 188-byte TS
 * packets. Pure codec over caller buffers; network byte order.
 *
 *   off  len  field
 *     0    2  magic "TC" (0x54 0x43)
 *     2    1  version (CHUNK_VERSION)
 *     3    1  flags (CHUNK_F_*); other bits must be zero
 *     4    8  sequence number
 *    12    8  origin timestamp, microseconds since the epoch (CLOCK_REALTIME)
 *    20    4  payload length: a multiple of 188, 188..CHUNK_MAX_PAYLOAD
 *    24   64  signature: the origin's Ed25519 signature (chunk_sign)
 *    88    -  payload: TS packets, each starting with the sync byte 0x47
 *
 * Version 2 signs every chunk: Ed25519 (RFC 8032, libsodium's
 * crypto_sign_detached) by the channel's key over CHUNK_SIG_CONTEXT (16
 * bytes, "treecast chunk" and two zero bytes), then bytes 0-23 of the
 * header (every field but the signature), then the payload. A node checks
 * it before it plays or relays the chunk; one that fails is dropped.
 */
#ifndef TREECAST_CHUNK_H
#define TREECAST_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define CHUNK_MAGIC0		0x54	/* 'T' */
#define CHUNK_MAGIC1		0x43	/* 'C' */
#define CHUNK_VERSION		2	/* 1: the signature unused */
#define CHUNK_HEADER_LEN	88
#define CHUNK_SIG_LEN		64
#define CHUNK_SIGNED_LEN	24	/* header bytes under the signature */
#define CHUNK_SIG_CONTEXT	"treecast chunk\0"	/* and its NUL: 16 */
#define CHUNK_SIG_CONTEXT_LEN	16
#define CHUNK_PUBLIC_LEN	32	/* Ed25519 keys, as in net/wire/key.h */
#define CHUNK_SECRET_LEN	64
#define CHUNK_TS_PACKET		188
#define CHUNK_TS_SYNC		0x47
#define CHUNK_MAX_PACKETS	64
#define CHUNK_MAX_PAYLOAD	(CHUNK_TS_PACKET * CHUNK_MAX_PACKETS)
#define CHUNK_MAX_LEN		(CHUNK_HEADER_LEN + CHUNK_MAX_PAYLOAD)

/* The chunk starts with a video keyframe (preceded by PAT and PMT): a new
 * viewer's player can start here. */
#define CHUNK_F_KEYFRAME	0x01
#define CHUNK_F_ALL		CHUNK_F_KEYFRAME

struct chunk {
	uint8_t		 flags;		/* CHUNK_F_* */
	uint64_t	 seq;
	uint64_t	 timestamp_us;	/* origin's CLOCK_REALTIME */
	uint8_t		 signature[CHUNK_SIG_LEN];
	const uint8_t	*payload;	/* not owned: points into some buffer */
	size_t		 len;		/* payload bytes */
};

/*
 * Writes the CHUNK_HEADER_LEN-byte header of c into out (the payload is not
 * copied: send it after the header). Returns CHUNK_HEADER_LEN, or -1 if
 * outlen is too small or c's flags or payload length are not valid.
 */
int	chunk_encode_header(const struct chunk *c, uint8_t *out, size_t outlen);
/* Header and payload into out; returns the bytes written or -1 as above
 * (the payload is not checked packet by packet). */
int	chunk_encode(const struct chunk *c, uint8_t *out, size_t outlen);

/*
 * Parses one chunk from the first len bytes of in and fills c, whose payload
 * then points into in. Checks the magic, version and flags, that the payload
 * length is a non-zero multiple of 188 no larger than CHUNK_MAX_PAYLOAD and
 * present in full, and that every TS packet starts with 0x47. Returns the
 * bytes used (header and payload; any trailing bytes are the caller's), or
 * -1 with a sentence naming the rejected value in err (err may be NULL).
 */
int	chunk_decode(const uint8_t *in, size_t len, struct chunk *c,
	    char *err, size_t errlen);

/* Checks a payload as chunk_decode does; 0 or -1 with a reason. */
int	chunk_check_payload(const uint8_t *p, size_t len, char *err,
	    size_t errlen);

/*
 * Signs c with the channel's Ed25519 secret key sk (libsodium's 64-byte
 * form): fills c->signature over the message above. 0, or -1 if c's
 * flags or payload length are not valid (as chunk_encode_header).
 */
int	chunk_sign(struct chunk *c, const uint8_t sk[CHUNK_SECRET_LEN]);
/* Whether c (decoded, or about to be encoded) carries a valid signature
 * by the public key pk: 0, or -1 if it does not or c is not valid. */
int	chunk_verify(const struct chunk *c, const uint8_t pk[CHUNK_PUBLIC_LEN]);

/* The 13-bit PID of a TS packet, and whether it starts a PES or section
 * (payload_unit_start_indicator). p must hold at least 4 bytes. */
uint16_t chunk_ts_pid(const uint8_t *p);
int	chunk_ts_pusi(const uint8_t *p);
/* Whether a TS packet's adaptation field sets random_access_indicator
 * (ISO/IEC 13818-1, 2.4.3.5). p must hold CHUNK_TS_PACKET bytes. */
int	chunk_ts_random_access(const uint8_t *p);

/*
 * A digest of the stream, for checking that every node got what the origin
 * sent: BLAKE2b over the chunks of each window of CHUNK_DIGEST_WINDOW
 * sequence numbers (header fields and payload). Feed every chunk in order;
 * chunk_digest_add returns 1 when it completed a window the node saw from
 * its start, with its first sequence number in *first and the digest in
 * hex in out, else 0.
 */
#define CHUNK_DIGEST_WINDOW	64
#define CHUNK_DIGEST_HEX	33	/* 16 bytes in hex, and the NUL */
struct chunk_digest {
	crypto_generichash_state state;
	uint64_t	 next;		/* the sequence number expected */
	int		 whole;		/* this window seen from its start */
};
void	chunk_digest_init(struct chunk_digest *d);
int	chunk_digest_add(struct chunk_digest *d, const struct chunk *c,
	    uint64_t *first, char out[CHUNK_DIGEST_HEX]);

#endif
