/* Unit tests for net/wire/sha256 against FIPS 180-4's and RFC 4231's vectors
 * and libsodium, on both compression functions. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "net/wire/sha256.h"
#include "tests/check-run.h"

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
	struct check_case cases[] = {
		{ .name = "core", .tests = { test_sha256_vectors,
		    test_hmac_sha256_rfc4231, test_hmac_sha256_libsodium } },
	};

	if (sodium_init() < 0) {
		fprintf(stderr, "sodium_init failed\n");
		return EXIT_FAILURE;
	}
	return check_run_cases("sha256", cases, sizeof cases / sizeof cases[0]);
}
