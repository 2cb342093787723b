/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) for STUN's
 * MESSAGE-INTEGRITY-SHA256: every authenticated control message is hashed
 * twice (checked, then answered), so this is the negotiator's hottest code.
 * libsodium's SHA-256 is portable C only; this one uses the CPU's SHA
 * extensions where it has them (x86 SHA-NI) and portable C elsewhere, and
 * is tested byte for byte against libsodium. Pure: no allocation, no I/O. */
#ifndef TREECAST_SHA256_H
#define TREECAST_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN	32
#define SHA256_BLOCK	64

struct sha256 {
	uint32_t	h[8];
	uint64_t	len;		/* bytes hashed so far */
	uint8_t		buf[SHA256_BLOCK];
	size_t		n;		/* bytes waiting in buf */
};

struct hmac_sha256 {
	struct sha256	inner;
	uint32_t	outer[8];	/* the state after key ^ opad */
};

void	sha256_init(struct sha256 *);
void	sha256_update(struct sha256 *, const void *, size_t);
void	sha256_final(struct sha256 *, uint8_t[SHA256_LEN]);

void	hmac_sha256_init(struct hmac_sha256 *, const uint8_t *, size_t);
void	hmac_sha256_update(struct hmac_sha256 *, const void *, size_t);
void	hmac_sha256_final(struct hmac_sha256 *, uint8_t[SHA256_LEN]);

/* Which compression function runs here: "sha-ni" or "portable". */
const char *sha256_impl(void);
/* Forces the portable one (tests compare both); returns the previous. */
int	sha256_force_portable(int);

#endif
