/*
 * What the suites of the real treecast-negotiator share: the daemon on
 * loopback (started per test by a fixture), a socket to it, and the
 * requests a node sends (REGISTER, authenticated ones, JOIN, keepalives)
 * with the checks on their answers. Included by one file of a program.
 */
#ifndef TREECAST_CHECK_NEGOTIATOR_H
#define TREECAST_CHECK_NEGOTIATOR_H

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

#include <sodium.h>

#include "net/client/ctl.h"
#include "net/util/addr.h"
#include "net/wire/key.h"
#include "net/wire/nat.h"
#include "net/wire/proto.h"
#include "net/wire/stun.h"
#include "tests/check-daemon.h"
#include "tests/check-request.h"

/* The test channel's key pair, made in setup; its key in hex names the
 * channel the helpers register on. */
static struct key_pair chan_kp;
static char chan_hex[KEY_HEX_LEN + 1];
static pid_t nego_pid;
static uint16_t nego_port, http_port;
static int sock;
static struct sockaddr_in nego;

/* GET path from the negotiator's HTTP API; the body, or NULL. */
static inline char *
http_get(const char *path)
{
	return http_get_at(http_port, path);
}

/* A number from a JSON API page ("name":N, its first one), or -1. */
static inline long
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

static inline long
stat_of(const char *name)
{
	return json_of("/api/stats", name);
}

/* Registered nodes, the negotiator's own verifier aside. */
static inline long
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
static inline void
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

static inline void
start_negotiator(void)
{
	nego_port = free_port(SOCK_DGRAM);
	alt_port = free_port(SOCK_DGRAM);
	http_port = free_port(SOCK_STREAM);
	spawn_negotiator();
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	loopback_in(&nego, nego_port);
}

static inline void
setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	crypto_sign_keypair(chan_kp.pk, chan_kp.sk);
	key_hex(chan_kp.pk, chan_hex);
	start_negotiator();
}

/* A budget small enough to see cut: 5 a second, 20 at once. */
static inline void
setup_budget(void)
{
	static const char *opts[] = { "--unauth-rate", "5", "--unauth-burst",
	    "20", NULL };

	memcpy(nego_extra, opts, sizeof opts);
	setup();
}

/* RFC 5780: a second address, 127.0.0.2. */
static inline void
setup_rfc5780(void)
{
	static const char *opts[] = { "--alt-address", "127.0.0.2", NULL };

	memcpy(nego_extra, opts, sizeof opts);
	setup();
}

/* The negotiator keeps a silent node a minute: a node that lost its
 * session is still registered when it comes back. */
static inline void
setup_long_expiry(void)
{
	static const char *opts[] = { "--expire", "60", NULL };

	memcpy(nego_extra, opts, sizeof opts);
	setup();
}

static inline void
setup_ipv6(void)
{
	nego_ip = "[::1]";
	setup();
}

static inline void
teardown(void)
{
	daemon_stop(nego_pid, "the negotiator");
	close(sock);
}

/* Waits up to ms for a datagram on fd; its length or 0. */
static inline size_t
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
static inline size_t
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

static inline size_t
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
	const struct nat_profile *profile;	/* NULL: eim-preserved */
	const struct sockaddr	*addr6;		/* XOR-ADDRESS6; NULL: none */
};

static inline int
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
	nat_profile_encode(o->profile != NULL ? o->profile : &p, prof);
	stun_put(&b, TC_ATTR_NAT_PROFILE, prof, sizeof prof);
	if (o->addr6 != NULL)
		stun_put_xor_address(&b, TC_ATTR_XOR_ADDRESS6, o->addr6);
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

static inline int
build_register(uint8_t *buf, size_t cap, uint64_t node_id, size_t pad)
{
	struct reg_opts o;

	memset(&o, 0, sizeof o);
	return build_register_opts(buf, cap, node_id, pad, &o);
}

/* Starts an authenticated request of method: the session and its seq
 * (request_seal ends it). */
static inline void
auth_begin(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
    uint64_t session, uint32_t seq)
{
	uint8_t tid[12];

	request_begin(b, buf, cap, method, tid);
	stun_put_u64(b, TC_ATTR_SESSION, session);
	stun_put_u32(b, TC_ATTR_SEQ, seq);
}

/* An authenticated request of method with nothing more: its length. */
static inline int
build_auth(uint8_t *buf, size_t cap, uint16_t method, uint64_t session,
    uint32_t seq, const uint8_t *key)
{
	struct stun_builder b;

	auth_begin(&b, buf, cap, method, session, seq);
	return request_seal(&b, key);
}

/* An answer's error code: -1 if it is not an error, 0 if it names none. */
static inline int
error_code(const uint8_t *ans, size_t n)
{
	char why[STUN_REASON_MAX + 1];
	struct stun_msg m;

	if (stun_parse(ans, n, &m, NULL) != 0 || m.cls != STUN_ERROR)
		return -1;
	return stun_error(&m, why, sizeof why);
}

/*
 * Sends a REGISTER built with o from fd and returns the answer's length
 * in ans (0: none); an origin's first, unsigned, is answered 401 with a
 * challenge, which it then signs (with o->kp) as an origin does.
 */
static inline size_t
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
static inline void
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

static inline void
do_register_opts(int fd, uint64_t node_id, const struct reg_opts *o,
    uint64_t *session, uint8_t key[TC_KEY_LEN])
{
	uint8_t ans[STUN_MAX_MSG];
	size_t n = register_exchange(fd, node_id, o, ans, sizeof ans);

	register_answer(ans, n, session, key, o->kp != NULL ? o->kp->pk :
	    chan_kp.pk);
}

static inline void
do_register_on(int fd, uint64_t node_id, uint64_t *session,
    uint8_t key[TC_KEY_LEN])
{
	struct reg_opts o;

	memset(&o, 0, sizeof o);
	do_register_opts(fd, node_id, &o, session, key);
}

/* Registers an origin of the test channel with label; fills session
 * and key. */
static inline void
do_register_origin(int fd, uint64_t node_id, const char *label,
    uint64_t *session, uint8_t key[TC_KEY_LEN])
{
	struct reg_opts o;

	memset(&o, 0, sizeof o);
	o.role = TC_ROLE_ORIGIN;
	o.label = label;
	do_register_opts(fd, node_id, &o, session, key);
}

/* Registers; fills session and key. */
static inline void
do_register(uint64_t node_id, uint64_t *session, uint8_t key[TC_KEY_LEN])
{
	do_register_on(sock, node_id, session, key);
}

/* A LINK's endpoint: external address, internal 10.0.0.2, port 40001. */
static inline void
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


static inline uint64_t
join(int fd, uint64_t session, uint32_t seq, const uint8_t *key, int *code)
{
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG];
	struct stun_msg m;
	uint64_t parent = 0;
	size_t n;
	int len;

	len = build_auth(req, sizeof req, TC_METHOD_JOIN, session, seq, key);
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
static inline long long
keepalive_parent(int fd, uint64_t session, uint32_t seq, const uint8_t *key)
{
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG], pad[16] = { 0 };
	struct stun_builder b;
	struct stun_msg m;
	uint64_t parent;
	size_t n;
	int len;

	auth_begin(&b, req, sizeof req, TC_METHOD_KEEPALIVE, session, seq);
	stun_put(&b, STUN_ATTR_PADDING, pad, sizeof pad);
	len = request_seal(&b, key);
	n = exchange_on(fd, req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_le(n, (size_t)len);
	ck_assert_int_eq(stun_parse(ans, n, &m, NULL), 0);
	ck_assert_int_eq(m.cls, STUN_SUCCESS);
	if (stun_attr_u64(stun_find(&m, TC_ATTR_PARENT), &parent) != 0)
		return -1;
	return (long long)parent;
}

/* An error answer's reason ("" if none). */
static inline const char *
error_reason(const uint8_t *ans, size_t n)
{
	static char text[STUN_REASON_MAX + 1];
	struct stun_msg m;

	text[0] = '\0';
	if (stun_parse(ans, n, &m, NULL) == 0 && m.cls == STUN_ERROR)
		stun_error(&m, text, sizeof text);
	return text;
}

#endif
