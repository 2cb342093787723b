/* The broadcaster's Ed25519 key file (net/wire/key.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "net/wire/key.h"

#define KEY_LINE_MAX	(2 * KEY_SEED_LEN + 2)	/* hex, newline, NUL */

static int
key_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly 2 * n hex digits into n bytes: 0, or -1. */
static int
key_unhex(const char *text, size_t len, uint8_t *out, size_t n)
{
	size_t i;
	int hi, lo;

	if (len != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		if ((hi = key_hexval(text[2 * i])) < 0 ||
		    (lo = key_hexval(text[2 * i + 1])) < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
key_parse_hex(const char *text, size_t len, uint8_t pk[KEY_PUBLIC_LEN])
{
	return key_unhex(text, len, pk, KEY_PUBLIC_LEN);
}

char *
key_hex(const uint8_t pk[KEY_PUBLIC_LEN], char *out)
{
	return sodium_bin2hex(out, KEY_HEX_LEN + 1, pk, KEY_PUBLIC_LEN);
}

void
key_clear(struct key_pair *kp)
{
	sodium_memzero(kp->sk, sizeof kp->sk);
}

/* A new pair, its seed written to a new file path (mode 0600). */
static int
key_create(const char *path, struct key_pair *kp, char *err, size_t errlen)
{
	uint8_t seed[KEY_SEED_LEN];
	char line[KEY_LINE_MAX];
	size_t len;
	int fd, rc = -1;

	randombytes_buf(seed, sizeof seed);
	crypto_sign_seed_keypair(kp->pk, kp->sk, seed);
	sodium_bin2hex(line, sizeof line, seed, sizeof seed);
	len = strlen(line);
	line[len++] = '\n';
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		snprintf(err, errlen, "cannot create key file %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (write(fd, line, len) != (ssize_t)len || fsync(fd) != 0) {
		snprintf(err, errlen, "cannot write key file %s: %s", path,
		    strerror(errno));
		close(fd);
		unlink(path);
		goto out;
	}
	close(fd);
	rc = 0;
out:
	sodium_memzero(seed, sizeof seed);
	sodium_memzero(line, sizeof line);
	return rc;
}

int
key_load(const char *path, int create, struct key_pair *kp, int *created,
    char *err, size_t errlen)
{
	uint8_t seed[KEY_SEED_LEN];
	char line[KEY_LINE_MAX + 1];
	struct stat sb;
	ssize_t n;
	size_t len;
	int fd, rc = -1;

	*created = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT && create) {
			if (key_create(path, kp, err, errlen) != 0)
				return -1;
			*created = 1;
			return 0;
		}
		snprintf(err, errlen, "cannot open key file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "key file %s is not a regular file",
		    path);
		goto out;
	}
	if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "key file %s is open to others (mode "
		    "%04o): chmod 600 %s", path,
		    (unsigned)(sb.st_mode & 07777), path);
		goto out;
	}
	n = read(fd, line, sizeof line - 1);
	if (n < 0) {
		snprintf(err, errlen, "cannot read key file %s: %s", path,
		    strerror(errno));
		goto out;
	}
	line[n] = '\0';
	len = (size_t)n;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (key_unhex(line, len, seed, sizeof seed) != 0) {
		snprintf(err, errlen, "key file %s: expected one line of %d "
		    "hex digits (an Ed25519 seed)", path, 2 * KEY_SEED_LEN);
		goto out;
	}
	crypto_sign_seed_keypair(kp->pk, kp->sk, seed);
	rc = 0;
out:
	close(fd);
	sodium_memzero(seed, sizeof seed);
	sodium_memzero(line, sizeof line);
	return rc;
}
