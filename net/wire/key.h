/* The broadcaster's key: an Ed25519 key pair (libsodium) that names a
 * channel and signs its chunks. The public half, in hex, is the channel's
 * name on the wire; the secret half stays in a file only its owner can
 * read. */
#ifndef TREECAST_KEY_H
#define TREECAST_KEY_H

#include <stddef.h>
#include <stdint.h>

#define KEY_PUBLIC_LEN	32	/* crypto_sign_PUBLICKEYBYTES */
#define KEY_SECRET_LEN	64	/* crypto_sign_SECRETKEYBYTES */
#define KEY_SEED_LEN	32	/* crypto_sign_SEEDBYTES */
#define KEY_SIG_LEN	64	/* crypto_sign_BYTES */
#define KEY_HEX_LEN	(2 * KEY_PUBLIC_LEN)	/* without the NUL */

struct key_pair {
	uint8_t	pk[KEY_PUBLIC_LEN];
	uint8_t	sk[KEY_SECRET_LEN];
};

/*
 * Loads the key pair kept in path: one line, the 32-byte seed in hex. If
 * the file does not exist and create is non-zero, makes a new pair and
 * writes it with mode 0600 (*created = 1). A file that others may read or
 * write is refused, as ssh refuses one. Returns 0, or -1 with a sentence
 * naming the file and what is wrong with it in err.
 */
int	key_load(const char *path, int create, struct key_pair *kp,
	    int *created, char *err, size_t errlen);
/* Wipes the secret half. */
void	key_clear(struct key_pair *kp);
/* The public key in lowercase hex; out holds KEY_HEX_LEN + 1 bytes. */
char	*key_hex(const uint8_t pk[KEY_PUBLIC_LEN], char *out);
/* Parses exactly KEY_HEX_LEN hex digits (either case): 0, or -1. */
int	key_parse_hex(const char *text, size_t len,
	    uint8_t pk[KEY_PUBLIC_LEN]);

#endif
