/*
 * Black-box tests of treecast-negotiator: the real daemon on loopback, fed
 * well-formed and hostile datagrams; its answers and its /api/stats
 * counters must say what it did with each. This file: Bindings and what
 * an unauthenticated request may get back (RFC 5780, IPv6, the budgets),
 * malformed input, and a node's session (keepalives, replays, leaving,
 * expiry). check-negotiator-tree.c has links, JOIN and who may register
 * what; check-negotiator-session.c runs net/client/session.c against it.
 */
#include "config.h"

#include "tests/check-negotiator.h"
#include "tests/check-run.h"

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
	/* Errors before authentication. */
	static const struct {
		const char	*what;
		uint16_t	 method, type;		/* type 0: bare */
		const char	*value;
		uint16_t	 len;
		int		 code;
	} bad[] = {
		/* CHANGE-REQUEST with no second address: 420 and
		 * UNKNOWN-ATTRIBUTES (36 bytes to a 28-byte request). */
		{ "CHANGE-REQUEST", STUN_METHOD_BINDING,
		    STUN_ATTR_CHANGE_REQUEST, "\0\0\0\x06", 4, 420 },
		{ "CHANGE-REQUEST malformed", STUN_METHOD_BINDING,
		    STUN_ATTR_CHANGE_REQUEST, "ab", 2, 400 },
		{ "an unknown required attribute, empty",
		    STUN_METHOD_BINDING, 0x7ABC, NULL, 0, 420 },
		{ "an unknown method, bare", 0x0FF, 0, NULL, 0, 400 },
		{ "a keepalive with no session", TC_METHOD_KEEPALIVE, 0, NULL,
		    0, 400 },
	};
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
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		stun_random_tid(tid);
		stun_build_init(&b, req, sizeof req, bad[i].method,
		    STUN_REQUEST, tid);
		if (bad[i].type != 0)
			stun_put(&b, bad[i].type, bad[i].value, bad[i].len);
		len = stun_build_finish(&b);
		if (bad[i].type == 0)
			ck_assert_int_eq(len, 20);
		n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
		ck_assert_msg(error_code(ans, n) == bad[i].code, "%s: %d",
		    bad[i].what, error_code(ans, n));
		ck_assert_uint_le(n, 2 * (size_t)len);
	}
	/* REGISTER's answer, at the smallest request taken. */
	do_register(0x77, &session, key);
	/* An unknown session and a forged credential: 401. */
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

int
main(void)
{
	struct check_case cases[] = {
		{ .name = "daemon", .setup = setup, .teardown = teardown,
		    .timeout = 30, .tests = { test_binding, test_amplification,
		    test_hostile, test_session, test_expiry } },
		{ .name = "budget", .setup = setup_budget,
		    .teardown = teardown, .timeout = 30,
		    .tests = { test_flood } },
		{ .name = "rfc5780", .setup = setup_rfc5780,
		    .teardown = teardown, .timeout = 30,
		    .tests = { test_binding_rfc5780 } },
		{ .name = "ipv6", .setup = setup_ipv6, .teardown = teardown,
		    .timeout = 30, .tests = { test_binding_ipv6 } },
	};

	return check_run_cases("negotiator", cases,
	    sizeof cases / sizeof cases[0]);
}
