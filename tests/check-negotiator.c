/*
 * Black-box tests of treecast-negotiator: the real daemon on loopback, fed
 * well-formed and hostile datagrams; its answers and its /api/stats
 * counters must say what it did with each.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "client/ctl.h"
#include "client/session.h"
#include "util/addr.h"
#include "wire/key.h"
#include "wire/nat.h"
#include "wire/proto.h"
#include "wire/stun.h"
#include "tests/check-daemon.h"
#include "tests/check-run.h"

/* The test channel's key pair, made in setup; its key in hex names the
 * channel the helpers register on. */
static struct key_pair chan_kp;
static char chan_hex[KEY_HEX_LEN + 1];
static pid_t nego_pid;
static uint16_t nego_port, http_port;
static int sock;
static struct sockaddr_in nego;

/* GET path from the negotiator's HTTP API; the body, or NULL. */
static char *
http_get(const char *path)
{
	return http_get_at(http_port, path);
}

/* A number from a JSON API page ("name":N, its first one), or -1. */
static long
json_of(const char *path, const char *name)
{
	char key[64], *p, *body = http_get(path);

	if (body == NULL)
		return -1;
	snprintf(key, sizeof key, "\"%s\":", name);
	if ((p = strstr(body, key)) == NULL)
		return -1;
	return strtol(p + strlen(key), NULL, 10);
}

static long
stat_of(const char *name)
{
	return json_of("/api/stats", name);
}

/* Registered nodes, the negotiator's own verifier aside. */
static long
nodes(void)
{
	return stat_of("nodes") - 1;
}

/* The negotiator's address and its options beyond the usual ones, for
 * a fixture's setup to change before start_negotiator. */
static const char *nego_ip = "127.0.0.1";
static const char *nego_extra[8];
static uint16_t alt_port;

/* Starts the daemon on nego_port, alt_port and http_port; waits for it. */
static void
spawn_negotiator(void)
{
	char listen[64], http[32], alt[8];
	const char *argv[24];
	int i, n = 0;

	snprintf(alt, sizeof alt, "%u", alt_port);
	snprintf(listen, sizeof listen, "%s:%u", nego_ip, nego_port);
	snprintf(http, sizeof http, "127.0.0.1:%u", http_port);
	argv[n++] = "treecast-negotiator";
	argv[n++] = "--listen";
	argv[n++] = listen;
	argv[n++] = "--alt-port";
	argv[n++] = alt;
	argv[n++] = "--http";
	argv[n++] = http;
	argv[n++] = "--stats";
	argv[n++] = "0";
	argv[n++] = "--log-level";
	argv[n++] = "warn";
	for (i = 0; nego_extra[i] != NULL; i++)
		argv[n++] = nego_extra[i];
	argv[n] = NULL;
	nego_pid = fork();
	if (nego_pid == 0) {
		execv("./treecast-negotiator", (char *const *)argv);
		_exit(127);
	}
	for (i = 0; i < 100 && stat_of("nodes") < 1; i++)
		usleep(50000);	/* up, and its verifier registered */
}

static void
start_negotiator(void)
{
	nego_port = free_port(SOCK_DGRAM);
	alt_port = free_port(SOCK_DGRAM);
	http_port = free_port(SOCK_STREAM);
	spawn_negotiator();
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&nego, 0, sizeof nego);
	nego.sin_family = AF_INET;
	nego.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	nego.sin_port = htons(nego_port);
}

static void
setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	crypto_sign_keypair(chan_kp.pk, chan_kp.sk);
	key_hex(chan_kp.pk, chan_hex);
	start_negotiator();
}

/* A budget small enough to see cut: 5 a second, 20 at once. */
static void
setup_budget(void)
{
	static const char *opts[] = { "--unauth-rate", "5", "--unauth-burst",
	    "20", NULL };

	memcpy(nego_extra, opts, sizeof opts);
	setup();
}

/* RFC 5780: a second address, 127.0.0.2. */
static void
setup_rfc5780(void)
{
	static const char *opts[] = { "--alt-address", "127.0.0.2", NULL };

	memcpy(nego_extra, opts, sizeof opts);
	setup();
}

/* The negotiator keeps a silent node a minute: a node that lost its
 * session is still registered when it comes back. */
static void
setup_long_expiry(void)
{
	static const char *opts[] = { "--expire", "60", NULL };

	memcpy(nego_extra, opts, sizeof opts);
	setup();
}

static void
setup_ipv6(void)
{
	nego_ip = "[::1]";
	setup();
}

static void
teardown(void)
{
	daemon_stop(nego_pid, "the negotiator");
	close(sock);
}

/* Waits up to ms for a datagram on fd; its length or 0. */
static size_t
receive_on(int fd, uint8_t *ans, size_t cap, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, ms) <= 0)
		return 0;
	n = recv(fd, ans, cap, 0);
	return n > 0 ? (size_t)n : 0;
}

/* Sends buf from fd and returns the answer's length (0: none within ms). */
static size_t
exchange_on(int fd, const uint8_t *buf, size_t len, uint8_t *ans, size_t cap,
    int ms)
{
	size_t n;
	int i;

	sendto(fd, buf, len, 0, (struct sockaddr *)&nego, sizeof nego);
	/* Skips the negotiator's own requests (the verifier's INSTRUCT to
	 * a node that joined): the answer has the request's id. */
	for (i = 0; i < 100; i++) {
		n = receive_on(fd, ans, cap, ms);
		if (n < 20 || len < 20 || memcmp(ans + 8, buf + 8, 12) == 0)
			return n;
	}
	return 0;
}

static size_t
exchange(const uint8_t *buf, size_t len, uint8_t *ans, size_t cap, int ms)
{
	return exchange_on(sock, buf, len, ans, cap, ms);
}


/* What a REGISTER carries beyond the basics; zeroes: a peer of the test
 * channel, unpadded, with nothing to prove. */
struct reg_opts {
	enum tc_role		 role;		/* 0: a peer */
	const char		*channel;	/* NULL: chan_hex */
	const char		*label;		/* an origin's; NULL: none */
	const uint8_t		*challenge;	/* signed with kp */
	const struct key_pair	*kp;		/* NULL: chan_kp */
	uint64_t		 old_session;	/* proven under old_key */
	const uint8_t		*old_key;
	const uint8_t		*tid;		/* NULL: a fresh one */
};

static int
build_register_opts(uint8_t *buf, size_t cap, uint64_t node_id, size_t pad,
    const struct reg_opts *o)
{
	struct nat_profile p = { NAT_MAPPING_EIM, NAT_ALLOC_PRESERVED,
	    NAT_FILTER_APDF, 0, 0, 0 };
	const struct key_pair *kp = o->kp != NULL ? o->kp : &chan_kp;
	const char *channel = o->channel != NULL ? o->channel : chan_hex;
	struct stun_builder b;
	struct sockaddr_in in;
	uint8_t tid[12], prof[NAT_PROFILE_WIRE_LEN], proof[TC_PROOF_MAX];
	uint8_t sig[KEY_SIG_LEN];
	size_t llen = o->label != NULL ? strlen(o->label) : 0, plen;

	if (o->tid != NULL)
		memcpy(tid, o->tid, sizeof tid);
	else
		stun_random_tid(tid);
	stun_build_init(&b, buf, cap, TC_METHOD_REGISTER, STUN_REQUEST, tid);
	stun_put_u64(&b, TC_ATTR_NODE_ID, node_id);
	stun_put(&b, TC_ATTR_CHANNEL, channel, (uint16_t)strlen(channel));
	stun_put_u32(&b, TC_ATTR_ROLE, o->role != 0 ? o->role : TC_ROLE_PEER);
	memset(&in, 0, sizeof in);
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(0x0a000002);
	in.sin_port = htons(40000);
	stun_put_xor_address(&b, TC_ATTR_XOR_INTERNAL, (struct sockaddr *)&in);
	nat_profile_encode(&p, prof);
	stun_put(&b, TC_ATTR_NAT_PROFILE, prof, sizeof prof);
	if (llen > 0)
		stun_put(&b, TC_ATTR_LABEL, o->label, (uint16_t)llen);
	if (o->challenge != NULL) {
		plen = tc_origin_proof(proof, o->challenge, node_id, kp->pk,
		    o->label, llen);
		crypto_sign_detached(sig, NULL, proof, plen, kp->sk);
		stun_put(&b, TC_ATTR_CHALLENGE, o->challenge,
		    TC_CHALLENGE_LEN);
		stun_put(&b, TC_ATTR_SIGNATURE, sig, sizeof sig);
	}
	if (o->old_session != 0)
		stun_put_u64(&b, TC_ATTR_SESSION, o->old_session);
	if (pad > 0)
		ctl_put_padding(&b, pad);
	if (o->old_session != 0)
		stun_put_integrity_sha256(&b, o->old_key, TC_KEY_LEN);
	stun_put_fingerprint(&b);
	return stun_build_finish(&b);
}

static int
build_register(uint8_t *buf, size_t cap, uint64_t node_id, size_t pad)
{
	struct reg_opts o;

	memset(&o, 0, sizeof o);
	return build_register_opts(buf, cap, node_id, pad, &o);
}

static int
build_auth(uint8_t *buf, size_t cap, uint16_t method, uint64_t session,
    uint32_t seq, const uint8_t *key)
{
	struct stun_builder b;
	uint8_t tid[12];

	stun_random_tid(tid);
	stun_build_init(&b, buf, cap, method, STUN_REQUEST, tid);
	stun_put_u64(&b, TC_ATTR_SESSION, session);
	stun_put_u32(&b, TC_ATTR_SEQ, seq);
	stun_put_integrity_sha256(&b, key, TC_KEY_LEN);
	stun_put_fingerprint(&b);
	return stun_build_finish(&b);
}

static int error_code(const uint8_t *, size_t);

/*
 * Sends a REGISTER built with o from fd and returns the answer's length
 * in ans (0: none); an origin's first, unsigned, is answered 401 with a
 * challenge, which it then signs (with o->kp) as an origin does.
 */
static size_t
register_exchange(int fd, uint64_t node_id, const struct reg_opts *o,
    uint8_t *ans, size_t cap)
{
	uint8_t req[STUN_MAX_MSG], chal[TC_CHALLENGE_LEN];
	const struct stun_attr *a;
	struct reg_opts signed_o = *o;
	struct stun_msg m;
	size_t n;
	int len;

	len = build_register_opts(req, sizeof req, node_id, TC_REGISTER_MIN,
	    o);
	n = exchange_on(fd, req, (size_t)len, ans, cap, 10000);
	ck_assert_uint_le(n, (size_t)len);	/* no amplification */
	if (o->role != TC_ROLE_ORIGIN ||
	    o->challenge != NULL || error_code(ans, n) != 401)
		return n;
	ck_assert_int_eq(stun_parse(ans, n, &m, NULL), 0);
	ck_assert_ptr_nonnull(a = stun_find(&m, TC_ATTR_CHALLENGE));
	ck_assert_uint_eq(a->len, TC_CHALLENGE_LEN);
	memcpy(chal, a->value, sizeof chal);
	signed_o.challenge = chal;
	len = build_register_opts(req, sizeof req, node_id, TC_REGISTER_MIN,
	    &signed_o);
	/* An origin's first registration makes its channel's tree, for
	 * a million nodes: it may take a while on a loaded machine. */
	n = exchange_on(fd, req, (size_t)len, ans, cap, 10000);
	ck_assert_uint_le(n, (size_t)len);
	return n;
}

/* Takes a successful REGISTER's answer: fills session and key, checks
 * the channel's key it names (NULL: none expected). */
static void
register_answer(const uint8_t *ans, size_t n, uint64_t *session,
    uint8_t key[TC_KEY_LEN], const uint8_t *chkey)
{
	const struct stun_attr *a;
	struct stun_msg m;

	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(stun_parse(ans, n, &m, NULL), 0);
	ck_assert_int_eq(m.cls, STUN_SUCCESS);
	a = stun_find(&m, TC_ATTR_SESSION_KEY);
	ck_assert_ptr_nonnull(a);
	memcpy(key, a->value, TC_KEY_LEN);
	ck_assert_int_eq(stun_check_integrity_sha256(&m, key, TC_KEY_LEN), 0);
	ck_assert_int_eq(stun_attr_u64(stun_find(&m, TC_ATTR_SESSION),
	    session), 0);
	a = stun_find(&m, TC_ATTR_CHANNEL_KEY);
	if (chkey == NULL) {
		ck_assert_ptr_null(a);
		return;
	}
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->len, KEY_PUBLIC_LEN);
	ck_assert_int_eq(memcmp(a->value, chkey, KEY_PUBLIC_LEN), 0);
}

static void
do_register_opts(int fd, uint64_t node_id, const struct reg_opts *o,
    uint64_t *session, uint8_t key[TC_KEY_LEN])
{
	uint8_t ans[STUN_MAX_MSG];
	size_t n = register_exchange(fd, node_id, o, ans, sizeof ans);

	register_answer(ans, n, session, key, o->kp != NULL ? o->kp->pk :
	    chan_kp.pk);
}

static void
do_register_on(int fd, uint64_t node_id, uint64_t *session,
    uint8_t key[TC_KEY_LEN])
{
	struct reg_opts o;

	memset(&o, 0, sizeof o);
	do_register_opts(fd, node_id, &o, session, key);
}

/* Registers; fills session and key. */
static void
do_register(uint64_t node_id, uint64_t *session, uint8_t key[TC_KEY_LEN])
{
	do_register_on(sock, node_id, session, key);
}

static int
error_code(const uint8_t *ans, size_t n)
{
	struct stun_msg m;
	const char *reason;
	size_t rlen;
	int code = 0;

	if (stun_parse(ans, n, &m, NULL) != 0 || m.cls != STUN_ERROR)
		return -1;
	stun_attr_error_code(stun_find(&m, STUN_ATTR_ERROR_CODE), &code,
	    &reason, &rlen);
	return code;
}

START_TEST(test_binding)
{
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG];
	struct sockaddr_storage mapped;
	struct sockaddr_in local;
	socklen_t llen = sizeof local;
	struct stun_msg m;
	size_t n;
	int len;

	/* Padded: room for the whole answer. */
	len = ctl_build_binding(req, sizeof req, 0, 128);
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_le(n, (size_t)len);
	ck_assert_int_eq(stun_parse(ans, n, &m, NULL), 0);
	ck_assert_int_eq(m.cls, STUN_SUCCESS);
	ck_assert_int_eq(stun_attr_xor_address(&m, stun_find(&m,
	    STUN_ATTR_XOR_MAPPED_ADDRESS), &mapped, NULL), 0);
	getsockname(sock, (struct sockaddr *)&local, &llen);
	ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&mapped)->sin_port),
	    ntohs(local.sin_port));
	ck_assert(m.has_fingerprint);

	/* A bare 20-byte request, as most STUN clients send: its own
	 * address in XOR-MAPPED-ADDRESS, and FINGERPRINT, in 40 bytes. */
	memcpy(req, "\x00\x01\x00\x00\x21\x12\xa4\x42" "abcdefghijkl", 20);
	n = exchange(req, 20, ans, sizeof ans, 2000);
	ck_assert_uint_eq(n, 40);
	ck_assert_int_eq(stun_parse(ans, n, &m, NULL), 0);
	ck_assert_int_eq(m.cls, STUN_SUCCESS);
	ck_assert_int_eq(memcmp(m.tid, "abcdefghijkl", 12), 0);
	ck_assert_int_eq(stun_attr_xor_address(&m, stun_find(&m,
	    STUN_ATTR_XOR_MAPPED_ADDRESS), &mapped, NULL), 0);
	ck_assert_uint_eq(((struct sockaddr_in *)&mapped)->sin_addr.s_addr,
	    htonl(INADDR_LOOPBACK));
	ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&mapped)->sin_port),
	    ntohs(local.sin_port));
	ck_assert(m.has_fingerprint);
	ck_assert_int_eq(stat_of("binding"), 2);
	ck_assert_int_eq(stat_of("drop_amplify"), 0);
}
END_TEST

/* A socket bound to ip (port 0), for a source of another prefix. */
static int
socket_on(const char *ip)
{
	struct sockaddr_in in;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&in, 0, sizeof in);
	in.sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, ip, &in.sin_addr), 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&in, sizeof in), 0);
	return fd;
}

/* A Binding request of exactly len bytes (20, 28, or 32 and more: SOFTWARE
 * of len - 32 bytes, a multiple of 4, then FINGERPRINT). */
static int
build_binding_of(uint8_t *buf, size_t cap, size_t len)
{
	struct stun_builder b;
	uint8_t tid[12], pad[STUN_MAX_MSG];

	stun_random_tid(tid);
	stun_build_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_REQUEST, tid);
	memset(pad, 'p', sizeof pad);
	if (len >= 32)
		stun_put(&b, STUN_ATTR_SOFTWARE, pad, (uint16_t)(len - 32));
	if (len > 20)
		stun_put_fingerprint(&b);
	return stun_build_finish(&b);
}

/*
 * Every answer to an unauthenticated request, of every method and size,
 * is at most twice the request: Bindings, their errors, REGISTER's
 * answer, and the errors to requests that fail to authenticate.
 */
START_TEST(test_amplification)
{
	static const size_t sizes[] = { 20, 28, 36, 40, 52, 100, 300 };
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG], key[TC_KEY_LEN];
	uint8_t tid[12];
	struct stun_builder b;
	uint64_t session;
	size_t i, n;
	int len, answered = 0;

	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		len = build_binding_of(req, sizeof req, sizes[i]);
		ck_assert_int_eq(len, (int)sizes[i]);
		n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
		ck_assert_uint_gt(n, 0);
		ck_assert_uint_le(n, 2 * (size_t)len);
		answered++;
	}
	ck_assert_int_eq(stat_of("binding"), answered);
	/* CHANGE-REQUEST with no second address: 420 and UNKNOWN-ATTRIBUTES
	 * (36 bytes to a 28-byte request); malformed: 400. */
	stun_random_tid(tid);
	stun_build_init(&b, req, sizeof req, STUN_METHOD_BINDING,
	    STUN_REQUEST, tid);
	stun_put_u32(&b, STUN_ATTR_CHANGE_REQUEST, 0x6);
	len = stun_build_finish(&b);
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_int_eq(error_code(ans, n), 420);
	ck_assert_uint_le(n, 2 * (size_t)len);
	stun_build_init(&b, req, sizeof req, STUN_METHOD_BINDING,
	    STUN_REQUEST, tid);
	stun_put(&b, STUN_ATTR_CHANGE_REQUEST, "ab", 2);
	len = stun_build_finish(&b);
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_int_eq(error_code(ans, n), 400);
	ck_assert_uint_le(n, 2 * (size_t)len);
	/* An unknown comprehension-required attribute, empty: 420. */
	stun_build_init(&b, req, sizeof req, STUN_METHOD_BINDING,
	    STUN_REQUEST, tid);
	stun_put(&b, 0x7ABC, NULL, 0);
	len = stun_build_finish(&b);
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_int_eq(error_code(ans, n), 420);
	ck_assert_uint_le(n, 2 * (size_t)len);
	/* An unknown method, bare: 400. */
	stun_build_init(&b, req, sizeof req, 0x0FF, STUN_REQUEST, tid);
	ck_assert_int_eq(stun_build_finish(&b), 20);
	n = exchange(req, 20, ans, sizeof ans, 2000);
	ck_assert_int_eq(error_code(ans, n), 400);
	ck_assert_uint_le(n, 40);
	/* REGISTER's answer, at the smallest request taken. */
	do_register(0x77, &session, key);
	/* A keepalive with no session (400), an unknown one and a forged
	 * one (401). */
	stun_build_init(&b, req, sizeof req, TC_METHOD_KEEPALIVE,
	    STUN_REQUEST, tid);
	ck_assert_int_eq(stun_build_finish(&b), 20);
	n = exchange(req, 20, ans, sizeof ans, 2000);
	ck_assert_int_eq(error_code(ans, n), 400);
	ck_assert_uint_le(n, 40);
	len = build_auth(req, sizeof req, TC_METHOD_KEEPALIVE,
	    session + (1ULL << 32), 1, key);
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_int_eq(error_code(ans, n), 401);
	ck_assert_uint_le(n, 2 * (size_t)len);
	key[0] ^= 1;
	len = build_auth(req, sizeof req, TC_METHOD_KEEPALIVE, session, 1,
	    key);
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_int_eq(error_code(ans, n), 401);
	ck_assert_uint_le(n, 2 * (size_t)len);
	ck_assert_int_eq(stat_of("drop_amplify"), 0);
	ck_assert_int_eq(stat_of("drop_unauth_rate"), 0);
}
END_TEST

/*
 * With RFC 5780's second address, a Binding's answer takes what fits in
 * twice the request: XOR-MAPPED-ADDRESS, FINGERPRINT, OTHER-ADDRESS,
 * RESPONSE-ORIGIN, in that order.
 */
START_TEST(test_binding_rfc5780)
{
	static const struct {
		size_t	 len;		/* request */
		size_t	 ans;		/* answer */
		int	 fp, other, origin;
	} want[] = {
		{ 20, 40, 1, 0, 0 },
		{ 28, 52, 1, 1, 0 },
		{ 32, 64, 1, 1, 1 },
		{ 128, 64, 1, 1, 1 },
	};
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG];
	struct sockaddr_storage a;
	struct stun_msg m;
	size_t i, n;
	int len;

	for (i = 0; i < sizeof want / sizeof want[0]; i++) {
		len = build_binding_of(req, sizeof req, want[i].len);
		ck_assert_int_eq(len, (int)want[i].len);
		n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
		ck_assert_uint_eq(n, want[i].ans);
		ck_assert_uint_le(n, 2 * (size_t)len);
		ck_assert_int_eq(stun_parse(ans, n, &m, NULL), 0);
		ck_assert_ptr_nonnull(stun_find(&m,
		    STUN_ATTR_XOR_MAPPED_ADDRESS));
		ck_assert_int_eq(m.has_fingerprint, want[i].fp);
		ck_assert_int_eq(stun_find(&m, STUN_ATTR_OTHER_ADDRESS) !=
		    NULL, want[i].other);
		ck_assert_int_eq(stun_find(&m, STUN_ATTR_RESPONSE_ORIGIN) !=
		    NULL, want[i].origin);
	}
	/* OTHER-ADDRESS is the second address, on the other port. */
	ck_assert_int_eq(stun_attr_address(stun_find(&m,
	    STUN_ATTR_OTHER_ADDRESS), &a, NULL), 0);
	ck_assert_uint_eq(((struct sockaddr_in *)&a)->sin_addr.s_addr,
	    htonl(0x7f000002));
}
END_TEST

/*
 * Over IPv6 XOR-MAPPED-ADDRESS alone makes a 44-byte answer: a bare
 * 20-byte request is left unanswered and counted; with FINGERPRINT
 * (28 bytes) it fits.
 */
START_TEST(test_binding_ipv6)
{
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG];
	struct sockaddr_in6 to, local;
	struct sockaddr_storage mapped;
	socklen_t llen = sizeof local;
	struct stun_msg m;
	size_t n;
	int fd, len;

	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	memset(&to, 0, sizeof to);
	to.sin6_family = AF_INET6;
	to.sin6_addr = in6addr_loopback;
	to.sin6_port = htons(nego_port);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&to, sizeof to), 0);
	getsockname(fd, (struct sockaddr *)&local, &llen);
	len = build_binding_of(req, sizeof req, 20);
	send(fd, req, (size_t)len, 0);
	ck_assert_uint_eq(receive_on(fd, ans, sizeof ans, 500), 0);
	ck_assert_int_eq(stat_of("drop_amplify"), 1);
	len = build_binding_of(req, sizeof req, 28);
	send(fd, req, (size_t)len, 0);
	n = receive_on(fd, ans, sizeof ans, 2000);
	ck_assert_uint_eq(n, 52);
	ck_assert_int_eq(stun_parse(ans, n, &m, NULL), 0);
	ck_assert_int_eq(stun_attr_xor_address(&m, stun_find(&m,
	    STUN_ATTR_XOR_MAPPED_ADDRESS), &mapped, NULL), 0);
	ck_assert(addr_equal((struct sockaddr *)&mapped,
	    (struct sockaddr *)&local));
	ck_assert_int_eq(stat_of("binding"), 1);
	close(fd);
}
END_TEST

/*
 * A flood of Bindings from one /24 is cut by its budget (5/s, 20 at once
 * here) and counted; another /24 is still answered, and so are the
 * flooded prefix's authenticated keepalives, which pay nothing.
 */
START_TEST(test_flood)
{
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG], key[TC_KEY_LEN];
	struct sockaddr_storage mapped;
	struct sockaddr_in local;
	socklen_t llen = sizeof local;
	struct timespec t0, t1;
	struct stun_msg m;
	uint64_t session;
	long before;
	double secs;
	size_t n;
	int i, len, other, got = 0, sent = 300, ka = 0;

	do_register(0x99, &session, key);
	before = stat_of("binding");
	/* From two addresses of one /24, in turn: one budget. */
	other = socket_on("127.0.0.9");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < sent; i++) {
		len = build_binding_of(req, sizeof req, 28);
		sendto(i % 2 ? other : sock, req, (size_t)len, 0,
		    (struct sockaddr *)&nego, sizeof nego);
	}
	while (receive_on(sock, ans, sizeof ans, 500) > 0)
		got++;
	while (receive_on(other, ans, sizeof ans, 100) > 0)
		got++;
	close(other);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* What is left of the burst (the verifier's REGISTER and ours took
	 * 2), then 5 a second at most, however long it took. */
	ck_assert_int_gt(got, 0);
	ck_assert_msg(got <= 20 + (int)(5 * secs) + 1, "%d answers in %.1f s",
	    got, secs);
	ck_assert_int_eq(stat_of("binding") - before, got);
	ck_assert_int_eq(stat_of("drop_unauth_rate"), sent - got);

	/* Another /24: answered, with its own address. */
	other = socket_on("127.0.1.1");
	len = build_binding_of(req, sizeof req, 20);
	n = exchange_on(other, req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_uint_eq(n, 40);
	ck_assert_int_eq(stun_parse(ans, n, &m, NULL), 0);
	ck_assert_int_eq(stun_attr_xor_address(&m, stun_find(&m,
	    STUN_ATTR_XOR_MAPPED_ADDRESS), &mapped, NULL), 0);
	getsockname(other, (struct sockaddr *)&local, &llen);
	ck_assert(addr_equal((struct sockaddr *)&mapped,
	    (struct sockaddr *)&local));
	close(other);
	/* The flooded prefix's node keeps its keepalives answered, more of
	 * them than its budget would give. */
	for (i = 1; i <= 30; i++) {
		len = build_auth(req, sizeof req, TC_METHOD_KEEPALIVE, session,
		    (uint32_t)i, key);
		n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
		if (n > 0 && stun_parse(ans, n, &m, NULL) == 0 &&
		    m.cls == STUN_SUCCESS)
			ka++;
	}
	ck_assert_int_eq(ka, 30);
	ck_assert_int_eq(stat_of("keepalive"), 30);
	/* In the figures under its name. */
	ck_assert_ptr_nonnull(strstr(http_get("/metrics"),
	    "treecast_drop_unauth_rate_total "));
}
END_TEST

START_TEST(test_hostile)
{
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG], big[2000];
	struct stun_builder b;
	uint8_t tid[12] = "0123456789ab";
	size_t n;
	int len;

	/* Not STUN at all. */
	ck_assert_uint_eq(exchange((const uint8_t *)"hello", 5, ans,
	    sizeof ans, 200), 0);
	/* Wrong cookie. */
	len = ctl_build_binding(req, sizeof req, 0, 128);
	req[4] ^= 0xff;
	ck_assert_uint_eq(exchange(req, (size_t)len, ans, sizeof ans, 200), 0);
	/* Bad fingerprint. */
	len = ctl_build_binding(req, sizeof req, 0, 128);
	req[len - 1] ^= 0x01;
	ck_assert_uint_eq(exchange(req, (size_t)len, ans, sizeof ans, 200), 0);
	/* Truncated: the header claims more than came. */
	len = ctl_build_binding(req, sizeof req, 0, 128);
	ck_assert_uint_eq(exchange(req, (size_t)len - 8, ans, sizeof ans,
	    200), 0);
	/* Oversized. */
	memset(big, 0, sizeof big);
	memcpy(big, "\x00\x01\x07\xc0\x21\x12\xa4\x42", 8);
	ck_assert_uint_eq(exchange(big, sizeof big, ans, sizeof ans, 200), 0);
	/* An unknown comprehension-required attribute: 420 naming it, and
	 * no larger than the request. */
	stun_build_init(&b, req, sizeof req, STUN_METHOD_BINDING,
	    STUN_REQUEST, tid);
	stun_put_u32(&b, 0x7ABC, 1);
	ctl_put_padding(&b, 64);
	stun_put_fingerprint(&b);
	len = stun_build_finish(&b);
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_le(n, (size_t)len);
	ck_assert_int_eq(error_code(ans, n), 420);
	/* A register request under the minimum size: dropped. */
	len = build_register(req, sizeof req, 42, 0);
	ck_assert_int_lt(len, TC_REGISTER_MIN);
	ck_assert_uint_eq(exchange(req, (size_t)len, ans, sizeof ans, 300), 0);

	ck_assert_int_eq(stat_of("drop_not_stun"), 2);	/* hello, cookie */
	ck_assert_int_eq(stat_of("drop_parse"), 3);
	ck_assert_int_eq(stat_of("err_unknown_attr"), 1);
	ck_assert_int_eq(stat_of("drop_unpadded"), 1);
	ck_assert_ptr_nonnull(strstr(http_get("/api/stats"),
	    "\"bad_fingerprint\":1"));
	ck_assert_ptr_nonnull(strstr(http_get("/api/stats"),
	    "\"truncated\":1"));
	ck_assert_ptr_nonnull(strstr(http_get("/api/stats"),
	    "\"too_big\":1"));
	ck_assert_int_eq(nodes(), 0);
}
END_TEST

START_TEST(test_session)
{
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG], key[TC_KEY_LEN],
	    wrong[TC_KEY_LEN], key2[TC_KEY_LEN];
	uint64_t session, session2;
	struct reg_opts o;
	struct stun_msg m;
	size_t n;
	int len;

	do_register(0x1234, &session, key);
	ck_assert_int_eq(nodes(), 1);
	ck_assert_ptr_nonnull(strstr(http_get("/api/nodes?id=1234"),
	    "\"class\":\"eim-preserved\""));

	/* A keepalive under the credential is answered, authenticated. */
	len = build_auth(req, sizeof req, TC_METHOD_KEEPALIVE, session, 1, key);
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(stun_parse(ans, n, &m, NULL), 0);
	ck_assert_int_eq(m.cls, STUN_SUCCESS);
	ck_assert_int_eq(stun_check_integrity_sha256(&m, key, TC_KEY_LEN), 0);
	/* The same request again is a retransmission: answered again. */
	ck_assert_uint_gt(exchange(req, (size_t)len, ans, sizeof ans, 2000), 0);
	ck_assert_int_eq(stat_of("retransmits"), 1);
	/* Seq 3, then 2, overtaken on the way: taken. Then 20, and 5 is
	 * too far behind: a replay, dropped. */
	len = build_auth(req, sizeof req, TC_METHOD_KEEPALIVE, session, 3, key);
	ck_assert_uint_gt(exchange(req, (size_t)len, ans, sizeof ans, 2000), 0);
	len = build_auth(req, sizeof req, TC_METHOD_KEEPALIVE, session, 2, key);
	ck_assert_uint_gt(exchange(req, (size_t)len, ans, sizeof ans, 2000), 0);
	ck_assert_int_eq(stat_of("retransmits"), 1);
	len = build_auth(req, sizeof req, TC_METHOD_KEEPALIVE, session, 20,
	    key);
	ck_assert_uint_gt(exchange(req, (size_t)len, ans, sizeof ans, 2000), 0);
	len = build_auth(req, sizeof req, TC_METHOD_KEEPALIVE, session, 5, key);
	ck_assert_uint_eq(exchange(req, (size_t)len, ans, sizeof ans, 300), 0);
	ck_assert_int_eq(stat_of("drop_replay"), 1);
	/* A forged credential: wrong key. 401, never larger. */
	memcpy(wrong, key, sizeof wrong);
	wrong[0] ^= 1;
	len = build_auth(req, sizeof req, TC_METHOD_KEEPALIVE, session, 21,
	    wrong);
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_int_eq(error_code(ans, n), 401);
	ck_assert_uint_le(n, (size_t)len);
	ck_assert_int_eq(stat_of("drop_bad_integrity"), 1);
	/* A session that does not exist. */
	len = build_auth(req, sizeof req, TC_METHOD_KEEPALIVE,
	    session + (1ULL << 32), 9, key);
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_int_eq(error_code(ans, n), 401);
	ck_assert_int_eq(stat_of("drop_unknown_session"), 1);
	ck_assert_int_eq(stat_of("keepalive"), 4);

	/* Registering again, proving the old session, voids the old
	 * credential. */
	memset(&o, 0, sizeof o);
	o.old_session = session;
	o.old_key = key;
	do_register_opts(sock, 0x1234, &o, &session2, key2);
	ck_assert_int_eq(stat_of("reregistered"), 1);
	len = build_auth(req, sizeof req, TC_METHOD_KEEPALIVE, session, 10,
	    key);
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_int_eq(error_code(ans, n), 401);

	/* Leave. */
	len = build_auth(req, sizeof req, TC_METHOD_LEAVE, session2, 1, key2);
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(stun_parse(ans, n, &m, NULL), 0);
	ck_assert_int_eq(m.cls, STUN_SUCCESS);
	ck_assert_int_eq(nodes(), 0);
	ck_assert_int_eq(stat_of("left"), 1);
}
END_TEST

START_TEST(test_expiry)
{
	uint8_t key[TC_KEY_LEN];
	uint64_t session;
	int i;

	/* This negotiator expires after 10 s: register, wait, gone. */
	do_register(0x77, &session, key);
	ck_assert_int_eq(nodes(), 1);
	for (i = 0; i < 130 && nodes() != 0; i++)
		usleep(100000);
	ck_assert_int_eq(nodes(), 0);
	ck_assert_int_eq(stat_of("expired"), 1);
}
END_TEST


/* A LINK's endpoint: external address, internal 10.0.0.2, port 40001. */
static void
link_endpoint(struct tc_endpoint *ep, uint32_t external)
{
	struct sockaddr_in *in;

	memset(ep, 0, sizeof *ep);
	in = (struct sockaddr_in *)&ep->external;
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(external);
	in->sin_port = htons(40001);
	in = (struct sockaddr_in *)&ep->internal;
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(0x0a000002);
	in->sin_port = htons(40001);
	ep->ports[0] = 40001;
	ep->nports = 1;
}

/* A LINK request from session to peer, with an endpoint. */
static int
build_link(uint8_t *buf, size_t cap, uint64_t session, uint32_t seq,
    const uint8_t *key, uint64_t peer)
{
	struct stun_builder b;
	struct tc_endpoint ep;
	uint8_t tid[12];

	link_endpoint(&ep, 0xc6336407);
	stun_random_tid(tid);
	stun_build_init(&b, buf, cap, TC_METHOD_LINK, STUN_REQUEST, tid);
	stun_put_u64(&b, TC_ATTR_SESSION, session);
	stun_put_u32(&b, TC_ATTR_SEQ, seq);
	stun_put_u64(&b, TC_ATTR_PEER_NODE, peer);
	tc_put_endpoint(&b, &ep);
	stun_put_integrity_sha256(&b, key, TC_KEY_LEN);
	stun_put_fingerprint(&b);
	return stun_build_finish(&b);
}

/* The broker (flow 3) against raw sockets: A asks for B, B is instructed
 * and acknowledges, A gets the GO with B's endpoint and the same link key;
 * a retransmitted LINK gets the same answer; an unknown node is a 404, a
 * forged ACK is ignored, a silent peer a 480; A's REPORT is counted by
 * the pair's classes. */
START_TEST(test_link)
{
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG], ins[STUN_MAX_MSG],
	    ack[STUN_MAX_MSG], ka[TC_KEY_LEN], kb[TC_KEY_LEN], kc[TC_KEY_LEN];
	uint64_t sa, sb, sc, id, peer, id2;
	const struct stun_attr *key_i, *key_g;
	struct stun_builder b;
	struct stun_msg m, mi;
	struct tc_endpoint ep;
	struct tc_outcome o = { 1, 0, LINK_PATH_DIRECT, 120 };
	size_t n, ni;
	int len, rlen, bs = socket(AF_INET, SOCK_DGRAM, 0),
	    cs = socket(AF_INET, SOCK_DGRAM, 0);

	do_register(0xa, &sa, ka);
	do_register_on(bs, 0xb, &sb, kb);
	do_register_on(cs, 0xc, &sc, kc);

	/* No such node: an authenticated 404. */
	len = build_link(req, sizeof req, sa, 1, ka, 0xdead);
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_int_eq(error_code(ans, n), 404);
	ck_assert_int_eq(stun_parse(ans, n, &m, NULL), 0);
	ck_assert_int_eq(stun_check_integrity_sha256(&m, ka, TC_KEY_LEN), 0);

	/* A asks for B: B gets INSTRUCT under its own key. */
	rlen = build_link(req, sizeof req, sa, 2, ka, 0xb);
	sendto(sock, req, (size_t)rlen, 0, (struct sockaddr *)&nego,
	    sizeof nego);
	ni = receive_on(bs, ins, sizeof ins, 2000);
	ck_assert_uint_gt(ni, 0);
	ck_assert_int_eq(stun_parse(ins, ni, &mi, NULL), 0);
	ck_assert_int_eq(mi.method, TC_METHOD_INSTRUCT);
	ck_assert_int_eq(mi.cls, STUN_REQUEST);
	ck_assert_int_eq(stun_check_integrity_sha256(&mi, kb, TC_KEY_LEN), 0);
	ck_assert_int_eq(stun_attr_u64(stun_find(&mi, TC_ATTR_PEER_NODE),
	    &peer), 0);
	ck_assert_uint_eq(peer, 0xa);
	ck_assert_int_eq(stun_attr_u64(stun_find(&mi, TC_ATTR_LINK), &id), 0);
	ck_assert_int_eq(tc_get_endpoint(&mi, &ep), 0);
	ck_assert_uint_eq(ep.nports, 1);
	ck_assert_uint_eq(ep.ports[0], 40001);
	ck_assert_ptr_nonnull(key_i = stun_find(&mi, TC_ATTR_LINK_KEY));
	/* Nothing for A yet: the GO waits for B's ACK. */
	ck_assert_uint_eq(receive_on(sock, ans, sizeof ans, 300), 0);

	/* A forged ACK (A's key, not B's) changes nothing. */
	ep.ports[0] = 50001;
	stun_build_init(&b, ack, sizeof ack, TC_METHOD_INSTRUCT, STUN_SUCCESS,
	    mi.tid);
	tc_put_endpoint(&b, &ep);
	stun_put_integrity_sha256(&b, ka, TC_KEY_LEN);
	stun_put_fingerprint(&b);
	len = stun_build_finish(&b);
	sendto(bs, ack, (size_t)len, 0, (struct sockaddr *)&nego, sizeof nego);
	ck_assert_uint_eq(receive_on(sock, ans, sizeof ans, 300), 0);

	/* B's ACK: A gets the GO, with B's ports and the same link key. */
	stun_build_init(&b, ack, sizeof ack, TC_METHOD_INSTRUCT, STUN_SUCCESS,
	    mi.tid);
	tc_put_endpoint(&b, &ep);
	stun_put_integrity_sha256(&b, kb, TC_KEY_LEN);
	stun_put_fingerprint(&b);
	len = stun_build_finish(&b);
	sendto(bs, ack, (size_t)len, 0, (struct sockaddr *)&nego, sizeof nego);
	n = receive_on(sock, ans, sizeof ans, 2000);
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(stun_parse(ans, n, &m, NULL), 0);
	ck_assert_int_eq(m.method, TC_METHOD_LINK);
	ck_assert_int_eq(m.cls, STUN_SUCCESS);
	ck_assert_int_eq(stun_check_integrity_sha256(&m, ka, TC_KEY_LEN), 0);
	ck_assert_int_eq(stun_attr_u64(stun_find(&m, TC_ATTR_LINK), &id2), 0);
	ck_assert_uint_eq(id, id2);
	ck_assert_ptr_nonnull(key_g = stun_find(&m, TC_ATTR_LINK_KEY));
	ck_assert_int_eq(memcmp(key_i->value, key_g->value, TC_KEY_LEN), 0);
	ck_assert_int_eq(tc_get_endpoint(&m, &ep), 0);
	ck_assert_uint_eq(ep.ports[0], 50001);
	/* Both sides were predictable: no relay. */
	ck_assert_ptr_null(stun_find(&m, TC_ATTR_XOR_RELAY));

	/* A retransmits its LINK: the same answer, no second link. */
	n = exchange(req, (size_t)rlen, ack, sizeof ack, 2000);
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(stun_parse(ack, n, &m, NULL), 0);
	ck_assert_int_eq(stun_attr_u64(stun_find(&m, TC_ATTR_LINK), &id2), 0);
	ck_assert_uint_eq(id, id2);
	ck_assert_int_eq(json_of("/api/links", "links"), 1);

	/* A reports: counted for the pair of classes. */
	stun_random_tid(ack + 8);
	stun_build_init(&b, req, sizeof req, TC_METHOD_REPORT, STUN_REQUEST,
	    ack + 8);
	stun_put_u64(&b, TC_ATTR_SESSION, sa);
	stun_put_u32(&b, TC_ATTR_SEQ, 3);
	stun_put_u64(&b, TC_ATTR_LINK, id);
	tc_put_outcome(&b, &o);
	stun_put_integrity_sha256(&b, ka, TC_KEY_LEN);
	stun_put_fingerprint(&b);
	len = stun_build_finish(&b);
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_uint_gt(n, 0);
	ck_assert_ptr_nonnull(strstr(http_get("/api/links"),
	    "{\"a\":\"eim-preserved\",\"b\":\"eim-preserved\",\"attempts\":1,"
	    "\"connected\":1,\"mean_ms\":120,\"direct\":1}"));

	/* C never answers INSTRUCT: A hears 480 once the broker gives up. */
	len = build_link(req, sizeof req, sa, 4, ka, 0xc);
	n = exchange(req, (size_t)len, ans, sizeof ans, 12000);
	ck_assert_int_eq(error_code(ans, n), 480);
	ck_assert_int_eq(json_of("/api/links", "peer_silent"), 1);
	close(bs);
	close(cs);
}
END_TEST

static uint64_t
join(int fd, uint64_t session, uint32_t seq, const uint8_t *key, int *code)
{
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG];
	struct stun_builder b;
	struct stun_msg m;
	uint8_t tid[12];
	uint64_t parent = 0;
	size_t n;
	int len;

	stun_random_tid(tid);
	stun_build_init(&b, req, sizeof req, TC_METHOD_JOIN, STUN_REQUEST, tid);
	stun_put_u64(&b, TC_ATTR_SESSION, session);
	stun_put_u32(&b, TC_ATTR_SEQ, seq);
	stun_put_integrity_sha256(&b, key, TC_KEY_LEN);
	stun_put_fingerprint(&b);
	len = stun_build_finish(&b);
	n = exchange_on(fd, req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(stun_parse(ans, n, &m, NULL), 0);
	ck_assert_int_eq(stun_check_integrity_sha256(&m, key, TC_KEY_LEN), 0);
	*code = m.cls == STUN_ERROR ? error_code(ans, n) : 0;
	if (m.cls == STUN_SUCCESS)
		ck_assert_int_eq(stun_attr_u64(stun_find(&m, TC_ATTR_PEER_NODE),
		    &parent), 0);
	return parent;
}

/* A padded keepalive's answer: the node's parent in the tree (TC_ATTR_
 * PARENT), or -1 when the answer names none. */
static long long
keepalive_parent(int fd, uint64_t session, uint32_t seq, const uint8_t *key)
{
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG], pad[16] = { 0 };
	struct stun_builder b;
	struct stun_msg m;
	uint8_t tid[12];
	uint64_t parent;
	size_t n;
	int len;

	stun_random_tid(tid);
	stun_build_init(&b, req, sizeof req, TC_METHOD_KEEPALIVE, STUN_REQUEST,
	    tid);
	stun_put_u64(&b, TC_ATTR_SESSION, session);
	stun_put_u32(&b, TC_ATTR_SEQ, seq);
	stun_put(&b, STUN_ATTR_PADDING, pad, sizeof pad);
	stun_put_integrity_sha256(&b, key, TC_KEY_LEN);
	stun_put_fingerprint(&b);
	len = stun_build_finish(&b);
	n = exchange_on(fd, req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_le(n, (size_t)len);
	ck_assert_int_eq(stun_parse(ans, n, &m, NULL), 0);
	ck_assert_int_eq(m.cls, STUN_SUCCESS);
	if (stun_attr_u64(stun_find(&m, TC_ATTR_PARENT), &parent) != 0)
		return -1;
	return (long long)parent;
}

/* JOIN through the tree manager: the origin's slots go first; a candidate
 * offers none until verified; the verifier tries every new candidate, and
 * one that never answers its link is a non-repeater; keepalives name the
 * parent, and a departure places the node that waited. */
START_TEST(test_join)
{
	uint8_t k[5][TC_KEY_LEN];
	uint64_t s[5];
	struct reg_opts o;
	const char *tree;
	char want[160];
	int fd[5], i, j, code;

	for (i = 0; i < 5; i++)
		fd[i] = socket(AF_INET, SOCK_DGRAM, 0);
	/* No origin yet: 404. */
	do_register_on(fd[1], 0x11, &s[1], k[1]);
	ck_assert_uint_eq(join(fd[1], s[1], 1, k[1], &code), 0);
	ck_assert_int_eq(code, 404);
	memset(&o, 0, sizeof o);
	o.role = TC_ROLE_ORIGIN;
	o.label = "test";
	do_register_opts(fd[0], 0x10, &o, &s[0], k[0]);
	for (i = 2; i < 5; i++)
		do_register_on(fd[i], 0x10 + (uint64_t)i, &s[i], k[i]);
	/* Not joined: a keepalive names no parent. */
	ck_assert_int_eq(keepalive_parent(fd[2], s[2], 1, k[2]), -1);
	/* The origin takes two. */
	ck_assert_uint_eq(join(fd[1], s[1], 2, k[1], &code), 0x10);
	ck_assert_uint_eq(join(fd[2], s[2], 2, k[2], &code), 0x10);
	/* Candidates have no slot to give: 503, and it waits, joined. */
	ck_assert_uint_eq(join(fd[3], s[3], 1, k[3], &code), 0);
	ck_assert_int_eq(code, 503);
	ck_assert_int_eq(keepalive_parent(fd[3], s[3], 2, k[3]), 0);
	ck_assert_int_eq(keepalive_parent(fd[1], s[1], 3, k[1]), 0x10);
	/* A retransmitted JOIN gets the same answer. */
	ck_assert_uint_eq(join(fd[1], s[1], 3, k[1], &code), 0x10);
	/* /api/nodes and /api/tree show the tree. */
	ck_assert_ptr_nonnull(strstr(http_get("/api/nodes?id=10"),
	    "\"parent\":null,\"children\":2}"));
	ck_assert_ptr_nonnull(strstr(http_get("/api/nodes?id=11"),
	    "\"parent\":\"0000000000000010\""));
	tree = http_get("/api/tree");
	snprintf(want, sizeof want, "\"name\":\"test\",\"key\":\"%s\","
	    "\"label\":\"test\"", chan_hex);
	ck_assert_ptr_nonnull(strstr(tree, want));
	ck_assert_ptr_nonnull(strstr(tree, "{\"id\":\"0000000000000010\","
	    "\"role\":\"origin\""));
	ck_assert_ptr_nonnull(strstr(tree, "\"unplaced\":1"));
	/* The verifier links to each candidate; these never answer, so at
	 * its deadline (9 s) they become non-repeaters, with the reason.
	 * Everyone keeps alive meanwhile: the deadline is near the
	 * negotiator's 10 s expiry, and an expired origin takes its tree. */
	for (i = 0; i < 150; i++) {
		if (i % 10 == 0)
			for (j = 0; j < 5; j++)
				keepalive_parent(fd[j], s[j],
				    100 + (uint32_t)i / 10, k[j]);
		tree = http_get("/api/tree");
		if (strstr(tree, "\"nonrepeaters\":3") != NULL)
			break;
		usleep(100000);
	}
	ck_assert_msg(strstr(tree, "{\"id\":\"0000000000000011\","
	    "\"role\":\"nonrepeater\",\"reason\":\"did not answer the "
	    "verifier's link\"") != NULL, "/api/tree: %s", tree);
	ck_assert_int_eq(json_of("/api/stats", "tree_verify_failed"), 3);
	/* The verifier's links are counted apart from the viewers'. */
	ck_assert_ptr_nonnull(strstr(http_get("/api/links"),
	    "\"verifier\":{\"up\":0,\"failed\":3},\"pairs\":[]"));
	/* 0x11 leaves: 0x13, waiting, takes its slot under the origin. */
	{
		uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG];
		int len = build_auth(req, sizeof req, TC_METHOD_LEAVE, s[1],
		    1000, k[1]);

		ck_assert_uint_gt(exchange_on(fd[1], req, (size_t)len, ans,
		    sizeof ans, 2000), 0);
	}
	ck_assert_int_eq(keepalive_parent(fd[3], s[3], 1000, k[3]), 0x10);
	/* The origin cannot join. */
	ck_assert_uint_eq(join(fd[0], s[0], 1000, k[0], &code), 0);
	ck_assert_int_eq(code, 400);
	ck_assert_int_eq(stat_of("joined"), 3);
	ck_assert_int_eq(json_of("/api/stats", "tree_departures"), 1);
	for (i = 0; i < 5; i++)
		close(fd[i]);
}
END_TEST

/* ACCUSE of node accused with evidence bad chunks (none if -1): the
 * answer's error code, 0 for success. */
static int
accuse(int fd, uint64_t session, uint32_t seq, const uint8_t *key,
    uint64_t accused, long evidence)
{
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG];
	struct stun_builder b;
	struct stun_msg m;
	uint8_t tid[12];
	size_t n;
	int len;

	stun_random_tid(tid);
	stun_build_init(&b, req, sizeof req, TC_METHOD_ACCUSE, STUN_REQUEST,
	    tid);
	stun_put_u64(&b, TC_ATTR_SESSION, session);
	stun_put_u32(&b, TC_ATTR_SEQ, seq);
	stun_put_u64(&b, TC_ATTR_PEER_NODE, accused);
	if (evidence >= 0)
		stun_put_u32(&b, TC_ATTR_EVIDENCE, (uint32_t)evidence);
	stun_put_integrity_sha256(&b, key, TC_KEY_LEN);
	stun_put_fingerprint(&b);
	len = stun_build_finish(&b);
	n = exchange_on(fd, req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_le(n, (size_t)len);
	ck_assert_int_eq(stun_parse(ans, n, &m, NULL), 0);
	ck_assert_int_eq(stun_check_integrity_sha256(&m, key, TC_KEY_LEN), 0);
	return m.cls == STUN_ERROR ? error_code(ans, n) : 0;
}

/* ACCUSE is believed only from the accused's own child in the tree: a
 * node's word about a stranger, about the origin or about an unknown
 * node is answered alike but refused (counted), and moves nobody; one
 * without its evidence is malformed. (The believed case, which needs a
 * verified repeater, is check-forest's and tests/tamper-lab.sh's.) */
START_TEST(test_accuse)
{
	uint8_t k[3][TC_KEY_LEN];
	uint64_t s[3];
	struct reg_opts o;
	int fd[3], i, code;

	for (i = 0; i < 3; i++)
		fd[i] = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&o, 0, sizeof o);
	o.role = TC_ROLE_ORIGIN;
	o.label = "test";
	do_register_opts(fd[0], 0x20, &o, &s[0], k[0]);
	do_register_on(fd[1], 0x21, &s[1], k[1]);
	do_register_on(fd[2], 0x22, &s[2], k[2]);
	ck_assert_uint_eq(join(fd[1], s[1], 1, k[1], &code), 0x20);
	ck_assert_uint_eq(join(fd[2], s[2], 1, k[2], &code), 0x20);
	ck_assert_int_eq(accuse(fd[1], s[1], 2, k[1], 0x22, 1), 0);
	ck_assert_int_eq(accuse(fd[1], s[1], 3, k[1], 0x20, 5), 0);
	ck_assert_int_eq(accuse(fd[1], s[1], 4, k[1], 0x99, 5), 0);
	/* A retransmission is answered again, not counted again. */
	ck_assert_int_eq(accuse(fd[1], s[1], 4, k[1], 0x99, 5), 0);
	ck_assert_int_eq(accuse(fd[1], s[1], 5, k[1], 0x20, -1), 400);
	ck_assert_int_eq(accuse(fd[1], s[1], 6, k[1], 0x20, 0), 400);
	ck_assert_int_eq(stat_of("accusations"), 3);
	ck_assert_int_eq(stat_of("accuse_refused"), 3);
	ck_assert_int_eq(stat_of("parents_cut"), 0);
	ck_assert_int_eq(keepalive_parent(fd[2], s[2], 10, k[2]), 0x20);
	ck_assert_int_eq(keepalive_parent(fd[1], s[1], 10, k[1]), 0x20);
	for (i = 0; i < 3; i++)
		close(fd[i]);
}
END_TEST

/*
 * A crowd of candidates at once, more than the verifier tries at a time
 * (VERIFIER_INFLIGHT), none of which answers: each gets its verdict, and
 * the verifier's own session holds throughout (its keepalives and its
 * links' requests share one socket's transactions).
 */
#define CROWD 20

/* An error answer's reason ("" if none). */
static const char *
error_reason(const uint8_t *ans, size_t n)
{
	static char text[STUN_REASON_MAX + 1];
	struct stun_msg m;
	const char *reason;
	size_t rlen;
	int code;

	text[0] = '\0';
	if (stun_parse(ans, n, &m, NULL) == 0 && m.cls == STUN_ERROR &&
	    stun_attr_error_code(stun_find(&m, STUN_ATTR_ERROR_CODE), &code,
	    &reason, &rlen) == 0)
		snprintf(text, sizeof text, "%.*s", (int)rlen, reason);
	return text;
}

/* Issue 15: nothing unauthenticated takes over a node id, and only the
 * channel's key registers its origin or claims its label. */
START_TEST(test_hijack)
{
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG], k[3][TC_KEY_LEN];
	uint8_t forged[TC_KEY_LEN];
	uint64_t s[3], s2;
	struct reg_opts o;
	size_t n;
	int fd[3], evil, i, len, code;
	char *tree;

	for (i = 0; i < 3; i++)
		fd[i] = socket(AF_INET, SOCK_DGRAM, 0);
	evil = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&o, 0, sizeof o);
	o.role = TC_ROLE_ORIGIN;
	o.label = "trust";
	do_register_opts(fd[0], 0x20, &o, &s[0], k[0]);
	do_register_on(fd[1], 0x21, &s[1], k[1]);
	ck_assert_uint_eq(join(fd[1], s[1], 1, k[1], &code), 0x20);

	/* One unauthenticated REGISTER with a known id, from anywhere:
	 * refused, counted; the node keeps its session and its place. */
	len = build_register(req, sizeof req, 0x21, TC_REGISTER_MIN);
	n = exchange_on(evil, req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_int_eq(error_code(ans, n), 403);
	ck_assert_str_eq(error_reason(ans, n), "node id in use");
	ck_assert_int_eq(stat_of("drop_hijack"), 1);
	ck_assert_int_eq(keepalive_parent(fd[1], s[1], 2, k[1]), 0x20);
	/* Its session id (public enough) under a guessed key: the same. */
	memset(forged, 7, sizeof forged);
	memset(&o, 0, sizeof o);
	o.old_session = s[1];
	o.old_key = forged;
	len = build_register_opts(req, sizeof req, 0x21, TC_REGISTER_MIN, &o);
	n = exchange_on(evil, req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_int_eq(error_code(ans, n), 403);
	ck_assert_int_eq(stat_of("drop_hijack"), 2);
	/* The origin's id, as a peer: refused; the tree stays. */
	len = build_register(req, sizeof req, 0x20, TC_REGISTER_MIN);
	n = exchange_on(evil, req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_int_eq(error_code(ans, n), 403);
	ck_assert_int_eq(stat_of("drop_hijack"), 3);
	ck_assert_int_eq(keepalive_parent(fd[1], s[1], 3, k[1]), 0x20);
	ck_assert_int_eq(keepalive_parent(fd[0], s[0], 1, k[0]), -1);
	ck_assert_int_eq(stat_of("reregistered"), 0);
	tree = http_get("/api/tree");
	ck_assert_ptr_nonnull(strstr(tree, "\"label\":\"trust\",\"origin\":"
	    "\"0000000000000020\""));

	/* The node itself, proving its session, registers again. */
	memset(&o, 0, sizeof o);
	o.old_session = s[1];
	o.old_key = k[1];
	do_register_opts(fd[1], 0x21, &o, &s2, k[1]);
	ck_assert_uint_ne(s2, s[1]);
	ck_assert_int_eq(stat_of("reregistered"), 1);
	ck_assert_int_eq(stat_of("drop_hijack"), 3);
	/* So does the origin, with its channel's key: its tree stays. */
	memset(&o, 0, sizeof o);
	o.role = TC_ROLE_ORIGIN;
	o.label = "trust";
	do_register_opts(fd[0], 0x20, &o, &s[0], k[0]);
	ck_assert_int_eq(stat_of("reregistered"), 2);
	ck_assert_uint_eq(join(fd[1], s2, 1, k[1], &code), 0x20);
	for (i = 0; i < 3; i++)
		close(fd[i]);
	close(evil);
}
END_TEST

/* An origin registers only by signing a fresh challenge with the channel's
 * key; a label is held by one key; a peer naming it is told that key. */
START_TEST(test_origin_proof)
{
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG], chal[TC_CHALLENGE_LEN];
	uint8_t k[TC_KEY_LEN];
	const struct stun_attr *a;
	struct key_pair other;
	struct reg_opts o;
	struct stun_msg m;
	uint64_t s;
	size_t n;
	int len, fd = socket(AF_INET, SOCK_DGRAM, 0);
	char *tree;

	crypto_sign_keypair(other.pk, other.sk);
	/* Unsigned: 401 with a challenge, no larger than the request. */
	memset(&o, 0, sizeof o);
	o.role = TC_ROLE_ORIGIN;
	o.label = "news";
	len = build_register_opts(req, sizeof req, 0x40, TC_REGISTER_MIN, &o);
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_int_eq(error_code(ans, n), 401);
	ck_assert_uint_le(n, (size_t)len);
	ck_assert_int_eq(stun_parse(ans, n, &m, NULL), 0);
	ck_assert_ptr_nonnull(a = stun_find(&m, TC_ATTR_CHALLENGE));
	ck_assert_uint_eq(a->len, TC_CHALLENGE_LEN);
	memcpy(chal, a->value, sizeof chal);
	ck_assert_int_eq(stat_of("challenges"), 1);
	/* Signed by another key than the channel's: refused. */
	o.challenge = chal;
	o.kp = &other;
	len = build_register_opts(req, sizeof req, 0x40, TC_REGISTER_MIN, &o);
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_int_eq(error_code(ans, n), 403);
	ck_assert_int_eq(stat_of("drop_bad_signature"), 1);
	ck_assert_int_eq(nodes(), 0);
	/* The challenge from another address: a new challenge, no more. */
	o.kp = NULL;
	len = build_register_opts(req, sizeof req, 0x40, TC_REGISTER_MIN, &o);
	n = exchange_on(fd, req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_int_eq(error_code(ans, n), 401);
	ck_assert_int_eq(stat_of("challenges"), 2);
	/* A forged challenge: the same. */
	chal[5] ^= 1;
	len = build_register_opts(req, sizeof req, 0x40, TC_REGISTER_MIN, &o);
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_int_eq(error_code(ans, n), 401);
	ck_assert_int_eq(nodes(), 0);
	/* The channel's own key signing its challenge: registered, the
	 * label taken. */
	chal[5] ^= 1;
	len = build_register_opts(req, sizeof req, 0x40, TC_REGISTER_MIN, &o);
	n = exchange(req, (size_t)len, ans, sizeof ans, 10000);
	ck_assert_uint_le(n, (size_t)len);
	register_answer(ans, n, &s, k, chan_kp.pk);
	/* Sent again unchanged (its answer lost): the same credential. */
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	register_answer(ans, n, &s, k, chan_kp.pk);
	ck_assert_int_eq(stat_of("retransmits"), 1);
	ck_assert_int_eq(stat_of("registered"), 2);	/* and the verifier */
	ck_assert_int_eq(keepalive_parent(sock, s, 1, k), -1);

	/* Another key claiming the label, properly signed: refused, and
	 * no tree for it. */
	memset(&o, 0, sizeof o);
	o.role = TC_ROLE_ORIGIN;
	o.label = "news";
	o.kp = &other;
	key_hex(other.pk, (char *)req);
	o.channel = (const char *)req;
	n = register_exchange(fd, 0x41, &o, ans, sizeof ans);
	ck_assert_int_eq(error_code(ans, n), 403);
	ck_assert_str_eq(error_reason(ans, n), "label held by another key");
	ck_assert_int_eq(stat_of("err_label_taken"), 1);
	ck_assert_int_eq(nodes(), 1);
	tree = http_get("/api/tree");
	ck_assert_ptr_null(strstr(tree, (const char *)req));
	/* A peer naming the label is bound to the key that holds it. */
	memset(&o, 0, sizeof o);
	o.channel = "news";
	do_register_opts(fd, 0x42, &o, &s, k);
	ck_assert_ptr_nonnull(strstr(http_get("/api/nodes?id=42"),
	    "\"channel\":\"news\""));
	ck_assert_ptr_nonnull(strstr(http_get("/api/nodes?id=42"),
	    chan_hex));
	/* A label no origin holds: 404, with the reason. */
	o.channel = "nobody";
	n = register_exchange(fd, 0x43, &o, ans, sizeof ans);
	ck_assert_int_eq(error_code(ans, n), 404);
	ck_assert_int_eq(stat_of("err_no_channel"), 1);
	close(fd);
}
END_TEST

/* A bad channel name is a bad request (400, with the reason), not a full
 * table; and a lone node registering again keeps its channel's name. */
START_TEST(test_channel_names)
{
	uint8_t ans[STUN_MAX_MSG], k[TC_KEY_LEN];
	struct key_pair lone;
	struct reg_opts o;
	char hex[KEY_HEX_LEN + 1], want[KEY_HEX_LEN + 16];
	uint64_t s;
	size_t n;

	memset(&o, 0, sizeof o);
	o.channel = "a b";
	n = register_exchange(sock, 0x50, &o, ans, sizeof ans);
	ck_assert_int_eq(error_code(ans, n), 400);
	ck_assert_str_eq(error_reason(ans, n), "bad channel name");
	o.role = TC_ROLE_PROBE;
	o.channel = "a\"b";
	n = register_exchange(sock, 0x50, &o, ans, sizeof ans);
	ck_assert_int_eq(error_code(ans, n), 400);
	ck_assert_str_eq(error_reason(ans, n), "bad channel name");
	ck_assert_int_eq(stat_of("err_full"), 0);
	ck_assert_int_eq(stat_of("err_bad_request"), 2);
	/* An origin's channel must be its key. */
	o.role = TC_ROLE_ORIGIN;
	o.channel = "lab";
	n = register_exchange(sock, 0x50, &o, ans, sizeof ans);
	ck_assert_int_eq(error_code(ans, n), 400);

	/* The only node on its channel registers again. */
	crypto_sign_keypair(lone.pk, lone.sk);
	key_hex(lone.pk, hex);
	memset(&o, 0, sizeof o);
	o.channel = hex;
	o.kp = &lone;
	do_register_opts(sock, 0x51, &o, &s, k);
	o.old_session = s;
	o.old_key = k;
	do_register_opts(sock, 0x51, &o, &s, k);
	snprintf(want, sizeof want, "\"channel\":\"%s\"", hex);
	ck_assert_ptr_nonnull(strstr(http_get("/api/nodes?id=51"), want));
}
END_TEST

START_TEST(test_verifier_crowd)
{
	uint8_t k[CROWD + 1][TC_KEY_LEN];
	uint64_t s[CROWD + 1];
	struct reg_opts o;
	const char *tree = "";
	char want[32];
	int fd[CROWD + 1], i, j, code;

	for (i = 0; i <= CROWD; i++)
		fd[i] = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&o, 0, sizeof o);
	o.role = TC_ROLE_ORIGIN;
	do_register_opts(fd[0], 0x100, &o, &s[0], k[0]);
	for (i = 1; i <= CROWD; i++) {
		do_register_on(fd[i], 0x100 + (uint64_t)i, &s[i], k[i]);
		join(fd[i], s[i], 1, k[i], &code);
	}
	snprintf(want, sizeof want, "\"nonrepeaters\":%d", CROWD);
	for (i = 0; i < 500; i++) {
		if (i % 10 == 0)
			for (j = 0; j <= CROWD; j++)
				keepalive_parent(fd[j], s[j],
				    100 + (uint32_t)i / 10, k[j]);
		tree = http_get("/api/tree");
		if (strstr(tree, want) != NULL)
			break;
		usleep(100000);
	}
	ck_assert_msg(strstr(tree, want) != NULL, "/api/tree: %s", tree);
	ck_assert_int_eq(stat_of("tree_verify_failed"), CROWD);
	/* The verifier never lost its session (and registered again). */
	ck_assert_int_eq(stat_of("reregistered"), 0);
	for (i = 0; i <= CROWD; i++)
		close(fd[i]);
}
END_TEST

/*
 * Leaving waits for the session's other requests: A (client/session.c, as
 * every program has it) asks for a link to B, a raw socket that answers
 * its INSTRUCT half a second late, and leaves at once. The LINK must get
 * its GO before the session says it has left; the negotiator could not
 * have checked it after the LEAVE (a link's REPORT, sent as it came up,
 * was lost this way when a program left right after).
 */
struct drain {
	struct event_base	*base;
	struct session		*s;
	int			 bs;
	uint8_t			 kb[TC_KEY_LEN];
	uint8_t			 ack[STUN_MAX_MSG];
	int			 acklen;
	int			 go;	/* A's LINK was answered with its GO */
	int			 left;	/* SESSION_LEFT came */
	int			 go_before_left;
};

static void
drain_ack_late(evutil_socket_t fd, short what, void *arg)
{
	struct drain *d = arg;

	(void)fd;
	(void)what;
	sendto(d->bs, d->ack, (size_t)d->acklen, 0, (struct sockaddr *)&nego,
	    sizeof nego);
}

/* B: an INSTRUCT, answered 500 ms later. */
static void
drain_b_readable(evutil_socket_t fd, short what, void *arg)
{
	struct drain *d = arg;
	struct timeval late = { 0, 500000 };
	uint8_t in[STUN_MAX_MSG];
	struct stun_builder b;
	struct tc_endpoint ep;
	struct stun_msg m;
	ssize_t n;

	(void)what;
	if ((n = recv(fd, in, sizeof in, 0)) <= 0 ||
	    stun_parse(in, (size_t)n, &m, NULL) != 0 ||
	    m.method != TC_METHOD_INSTRUCT || m.cls != STUN_REQUEST ||
	    d->acklen > 0)
		return;
	ck_assert_int_eq(tc_get_endpoint(&m, &ep), 0);
	stun_build_init(&b, d->ack, sizeof d->ack, TC_METHOD_INSTRUCT,
	    STUN_SUCCESS, m.tid);
	tc_put_endpoint(&b, &ep);
	stun_put_integrity_sha256(&b, d->kb, TC_KEY_LEN);
	stun_put_fingerprint(&b);
	d->acklen = stun_build_finish(&b);
	event_base_once(d->base, -1, EV_TIMEOUT, drain_ack_late, d, &late);
}

static void
drain_link_answered(void *arg, const struct stun_msg *resp,
    const struct sockaddr *from)
{
	struct drain *d = arg;

	(void)from;
	d->go = resp != NULL && resp->cls == STUN_SUCCESS &&
	    session_verify(d->s, resp) == 0;
}

static void
drain_session(void *arg, enum session_event ev, struct session *s)
{
	struct drain *d = arg;
	uint8_t buf[STUN_MAX_MSG];
	struct stun_builder b;
	struct tc_endpoint ep;

	if (ev == SESSION_REGISTERED) {
		link_endpoint(&ep, INADDR_LOOPBACK);
		session_begin(s, &b, buf, sizeof buf, TC_METHOD_LINK);
		stun_put_u64(&b, TC_ATTR_PEER_NODE, 0xb);
		tc_put_endpoint(&b, &ep);
		ck_assert_int_eq(session_send(s, &b, &ctl_timing_default,
		    drain_link_answered, d), 0);
		session_leave(s);
	} else if (ev == SESSION_LEFT) {
		d->left = 1;
		d->go_before_left = d->go;
		event_base_loopexit(d->base, NULL);
	}
}

START_TEST(test_leave_drains)
{
	struct timeval limit = { 10, 0 };
	struct session_config cfg;
	struct event *ev;
	struct drain d;
	uint64_t sb;
	char err[160];

	memset(&d, 0, sizeof d);
	d.bs = socket(AF_INET, SOCK_DGRAM, 0);
	do_register_on(d.bs, 0xb, &sb, d.kb);
	ck_assert_ptr_nonnull(d.base = event_base_new());
	ev = event_new(d.base, d.bs, EV_READ | EV_PERSIST, drain_b_readable,
	    &d);
	event_add(ev, NULL);
	memset(&cfg, 0, sizeof cfg);
	ck_assert_int_eq(addr_parse("127.0.0.1", nego_port, 0, &cfg.server,
	    err, sizeof err), 0);
	cfg.node_id = 0xa;
	strcpy(cfg.channel, chan_hex);
	cfg.role = TC_ROLE_PEER;
	cfg.profile.mapping = NAT_MAPPING_NONE;
	d.s = session_start(d.base, &cfg, drain_session, &d, err, sizeof err);
	ck_assert_msg(d.s != NULL, "session_start: %s", err);
	event_base_loopexit(d.base, &limit);
	event_base_dispatch(d.base);
	ck_assert_msg(d.left, "the session never left");
	ck_assert_msg(d.go, "A's LINK got no GO");
	ck_assert_msg(d.go_before_left, "the session left before its LINK "
	    "was answered");
	ck_assert_int_eq(stat_of("left"), 1);
	session_free(d.s);
	event_free(ev);
	event_base_free(d.base);
	close(d.bs);
}
END_TEST

/*
 * /metrics and /api/tree look at the registry's occupied records under
 * the server's lock, not at every slot ever used: after 2,000 nodes came
 * and all but 10 left (the pool's high water stays at 2,000), serving
 * both must look at a few slots a node still registered.
 */
#define CHURN	2000
START_TEST(test_http_lock_scope)
{
	static uint64_t s[CHURN];
	static uint8_t k[CHURN][TC_KEY_LEN];
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG], key[TC_KEY_LEN];
	uint64_t origin;
	struct reg_opts o;
	long before, after, n;
	char *body;
	int i, len;

	memset(&o, 0, sizeof o);
	o.role = TC_ROLE_ORIGIN;
	o.label = "test";
	do_register_opts(sock, 0x500, &o, &origin, key);
	for (i = 0; i < CHURN; i++)
		do_register(0x10000 + (uint64_t)i, &s[i], k[i]);
	for (i = 10; i < CHURN; i++) {
		len = build_auth(req, sizeof req, TC_METHOD_LEAVE, s[i], 1,
		    k[i]);
		ck_assert_uint_gt(exchange(req, (size_t)len, ans, sizeof ans,
		    2000), 0);
	}
	ck_assert_int_eq(nodes(), 11);
	before = stat_of("http_slots_visited");
	ck_assert_int_ge(before, 0);
	ck_assert_ptr_nonnull(body = http_get("/metrics"));
	ck_assert_ptr_nonnull(strstr(body, "treecast_tree_nodes{channel="
	    "\"test\"} 0\n"));
	ck_assert_ptr_nonnull(body = http_get("/api/tree"));
	ck_assert_ptr_nonnull(strstr(body, "\"origin\":\"0000000000000500\""));
	after = stat_of("http_slots_visited");
	n = nodes() + 1;	/* and the verifier */
	ck_assert_msg(after - before <= 4 * n, "/api/stats, /metrics and "
	    "/api/tree looked at %ld registry slots under the lock, for %ld "
	    "nodes", after - before, n);
}
END_TEST

/* A session naming a label pins the key the negotiator names before it
 * says SESSION_REGISTERED; one that pinned another key refuses the
 * answer and leaves. */
struct pin {
	struct event_base	*base;
	int			 registered, left, had_key;
	uint8_t			 key[KEY_PUBLIC_LEN];
};

static void
pin_session(void *arg, enum session_event ev, struct session *s)
{
	struct pin *p = arg;

	if (ev == SESSION_REGISTERED) {
		p->registered = 1;
		if (session_channel_key(s) != NULL) {
			p->had_key = 1;
			memcpy(p->key, session_channel_key(s), sizeof p->key);
		}
		event_base_loopexit(p->base, NULL);
	} else if (ev == SESSION_LEFT) {
		p->left = 1;
		event_base_loopexit(p->base, NULL);
	}
}

static void
pin_run(struct pin *p, const struct session_config *cfg, int refused)
{
	struct timeval limit = { 10, 0 };
	struct session *s;
	char err[160];

	memset(p, 0, sizeof *p);
	ck_assert_ptr_nonnull(p->base = event_base_new());
	s = session_start(p->base, cfg, pin_session, p, err, sizeof err);
	ck_assert_msg(s != NULL, "session_start: %s", err);
	if (!cfg->has_channel_key)	/* not known before the answer */
		ck_assert_ptr_null(session_channel_key(s));
	event_base_loopexit(p->base, &limit);
	event_base_dispatch(p->base);
	ck_assert_int_eq(session_refused(s), refused);
	session_free(s);
	event_base_free(p->base);
}

START_TEST(test_pin)
{
	struct session_config cfg;
	struct reg_opts o;
	struct pin p;
	uint8_t k[TC_KEY_LEN];
	uint64_t sess;
	char err[160];

	memset(&o, 0, sizeof o);
	o.role = TC_ROLE_ORIGIN;
	o.label = "pinned";
	do_register_opts(sock, 0x60, &o, &sess, k);
	memset(&cfg, 0, sizeof cfg);
	ck_assert_int_eq(addr_parse("127.0.0.1", nego_port, 0, &cfg.server,
	    err, sizeof err), 0);
	strcpy(cfg.channel, "pinned");
	cfg.role = TC_ROLE_PEER;
	cfg.profile.mapping = NAT_MAPPING_NONE;
	pin_run(&p, &cfg, 0);
	ck_assert(p.registered && p.had_key);
	ck_assert_int_eq(memcmp(p.key, chan_kp.pk, sizeof p.key), 0);
	/* Pinned to another key: the answer is refused, and it leaves. */
	cfg.has_channel_key = 1;
	memset(cfg.channel_key, 0x5a, sizeof cfg.channel_key);
	pin_run(&p, &cfg, 1);
	ck_assert(!p.registered && p.left);
	ck_assert_int_eq(stat_of("left"), 1);
}
END_TEST

/* A node whose negotiator restarted (it forgot every session) registers
 * afresh: the old session's proof it sends is no hindrance. */
struct restart {
	struct event_base	*base;
	int			 registered;
};

static void
restart_session(void *arg, enum session_event ev, struct session *s)
{
	struct restart *r = arg;
	int status;

	(void)s;
	if (ev != SESSION_REGISTERED)
		return;
	if (++r->registered == 1) {
		kill(nego_pid, SIGTERM);
		waitpid(nego_pid, &status, 0);
		spawn_negotiator();
	} else
		event_base_loopexit(r->base, NULL);
}

START_TEST(test_restart)
{
	struct timeval limit = { 20, 0 };
	struct session_config cfg;
	struct session *s;
	struct restart r;
	char err[160];

	memset(&r, 0, sizeof r);
	ck_assert_ptr_nonnull(r.base = event_base_new());
	memset(&cfg, 0, sizeof cfg);
	ck_assert_int_eq(addr_parse("127.0.0.1", nego_port, 0, &cfg.server,
	    err, sizeof err), 0);
	strcpy(cfg.channel, chan_hex);
	cfg.role = TC_ROLE_PEER;
	cfg.profile.mapping = NAT_MAPPING_NONE;
	s = session_start(r.base, &cfg, restart_session, &r, err, sizeof err);
	ck_assert_msg(s != NULL, "session_start: %s", err);
	event_base_loopexit(r.base, &limit);
	event_base_dispatch(r.base);
	ck_assert_int_eq(r.registered, 2);
	ck_assert_int_eq(nodes(), 1);
	ck_assert_int_eq(stat_of("drop_hijack"), 0);
	ck_assert_int_eq(stat_of("drop_unknown_session"), 1);
	session_free(s);
	event_base_free(r.base);
}
END_TEST

/*
 * A node whose keepalives went unanswered while the negotiator still
 * holds its session registers again proving that session (its id and its
 * key): accepted, not taken for a hijack. The session talks through a
 * forwarder here that drops everything for a while.
 */
struct relost {
	struct event_base	*base;
	int			 client, upstream;	/* the forwarder's */
	struct sockaddr_storage	 from;
	socklen_t		 fromlen;
	int			 drop, registered, lost;
};

static void
relost_client_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relost *r = arg;
	uint8_t buf[STUN_MAX_MSG];
	ssize_t n;

	(void)what;
	r->fromlen = sizeof r->from;
	if ((n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&r->from,
	    &r->fromlen)) > 0 && !r->drop)
		send(r->upstream, buf, (size_t)n, 0);
}

static void
relost_upstream_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relost *r = arg;
	uint8_t buf[STUN_MAX_MSG];
	ssize_t n;

	(void)what;
	if ((n = recv(fd, buf, sizeof buf, 0)) > 0 && !r->drop &&
	    r->fromlen > 0)
		sendto(r->client, buf, (size_t)n, 0,
		    (struct sockaddr *)&r->from, r->fromlen);
}

static void
relost_session(void *arg, enum session_event ev, struct session *s)
{
	struct relost *r = arg;

	(void)s;
	if (ev == SESSION_REGISTERED && ++r->registered == 1)
		r->drop = 1;	/* the path goes dark */
	else if (ev == SESSION_REGISTERED)
		event_base_loopexit(r->base, NULL);
	else if (ev == SESSION_LOST) {
		r->lost++;
		r->drop = 0;	/* and comes back */
	}
}

START_TEST(test_relost)
{
	struct timeval limit = { 45, 0 };
	struct session_config cfg;
	struct sockaddr_in in;
	socklen_t len = sizeof in;
	struct event *ec, *eu;
	struct session *s;
	struct relost r;
	char err[160];

	memset(&r, 0, sizeof r);
	ck_assert_ptr_nonnull(r.base = event_base_new());
	r.client = socket(AF_INET, SOCK_DGRAM, 0);
	r.upstream = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&in, 0, sizeof in);
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(r.client, (struct sockaddr *)&in, sizeof in), 0);
	ck_assert_int_eq(getsockname(r.client, (struct sockaddr *)&in, &len),
	    0);
	ck_assert_int_eq(connect(r.upstream, (struct sockaddr *)&nego,
	    sizeof nego), 0);
	ec = event_new(r.base, r.client, EV_READ | EV_PERSIST,
	    relost_client_cb, &r);
	eu = event_new(r.base, r.upstream, EV_READ | EV_PERSIST,
	    relost_upstream_cb, &r);
	event_add(ec, NULL);
	event_add(eu, NULL);
	memset(&cfg, 0, sizeof cfg);
	ck_assert_int_eq(addr_parse("127.0.0.1", ntohs(in.sin_port), 0,
	    &cfg.server, err, sizeof err), 0);
	strcpy(cfg.channel, chan_hex);
	cfg.role = TC_ROLE_PEER;
	cfg.profile.mapping = NAT_MAPPING_NONE;
	s = session_start(r.base, &cfg, relost_session, &r, err, sizeof err);
	ck_assert_msg(s != NULL, "session_start: %s", err);
	event_base_loopexit(r.base, &limit);
	event_base_dispatch(r.base);
	ck_assert_int_ge(r.lost, 1);
	ck_assert_int_eq(r.registered, 2);
	ck_assert_int_eq(nodes(), 1);
	ck_assert_int_eq(stat_of("reregistered"), 1);
	ck_assert_int_eq(stat_of("drop_hijack"), 0);
	session_free(s);
	event_free(ec);
	event_free(eu);
	event_base_free(r.base);
	close(r.client);
	close(r.upstream);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("negotiator");
	TCase *tc = tcase_create("daemon");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_binding);
	tcase_add_test(tc, test_amplification);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_session);
	tcase_add_test(tc, test_expiry);
	tcase_add_test(tc, test_link);
	tcase_add_test(tc, test_join);
	tcase_add_test(tc, test_hijack);
	tcase_add_test(tc, test_origin_proof);
	tcase_add_test(tc, test_channel_names);
	tcase_add_test(tc, test_pin);
	tcase_add_test(tc, test_restart);
	tcase_add_test(tc, test_accuse);
	tcase_add_test(tc, test_leave_drains);
	tcase_add_test(tc, test_http_lock_scope);
	suite_add_tcase(s, tc);
	tc = tcase_create("budget");
	tcase_add_checked_fixture(tc, setup_budget, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_flood);
	suite_add_tcase(s, tc);
	tc = tcase_create("rfc5780");
	tcase_add_checked_fixture(tc, setup_rfc5780, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_binding_rfc5780);
	suite_add_tcase(s, tc);
	tc = tcase_create("relost");
	tcase_add_checked_fixture(tc, setup_long_expiry, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_relost);
	suite_add_tcase(s, tc);
	tc = tcase_create("ipv6");
	tcase_add_checked_fixture(tc, setup_ipv6, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_binding_ipv6);
	suite_add_tcase(s, tc);
	tc = tcase_create("crowd");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_verifier_crowd);
	suite_add_tcase(s, tc);
	return check_run(s);
}
