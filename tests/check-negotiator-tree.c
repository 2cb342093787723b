/*
 * treecast-negotiator, the real daemon on loopback (check-negotiator.h):
 * the broker's LINK, JOIN through the tree manager, ACCUSE, and who may
 * register what (issue 15: node ids, origins' proofs, labels, channel
 * names), down to the verifier facing a crowd.
 */
#include "config.h"

#include "tests/check-negotiator.h"
#include "tests/check-run.h"

/* A LINK request from session to peer, with an endpoint and an IPv6
 * candidate, [2001:db8:1::2]:40002. */
static int
build_link(uint8_t *buf, size_t cap, uint64_t session, uint32_t seq,
    const uint8_t *key, uint64_t peer)
{
	struct stun_builder b;
	struct tc_endpoint ep;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ep.v6;

	link_endpoint(&ep, 0xc6336407);
	v6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:1::2", &v6->sin6_addr);
	v6->sin6_port = htons(40002);
	auth_begin(&b, buf, cap, TC_METHOD_LINK, session, seq);
	stun_put_u64(&b, TC_ATTR_PEER_NODE, peer);
	tc_put_endpoint(&b, &ep);
	return request_seal(&b, key);
}

/* The broker (flow 3) against raw sockets: A asks for B, B is instructed
 * and acknowledges, A gets the GO with B's endpoint and the same link key;
 * a retransmitted LINK gets the same answer; an unknown node is a 404, a
 * forged ACK is ignored, a silent peer a 480 (and, silent long enough,
 * gone); A's REPORT is counted by the pair's classes. */
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
	message_is(ins, ni, &mi, TC_METHOD_INSTRUCT, STUN_REQUEST, kb);
	ck_assert_int_eq(stun_attr_u64(stun_find(&mi, TC_ATTR_PEER_NODE),
	    &peer), 0);
	ck_assert_uint_eq(peer, 0xa);
	ck_assert_int_eq(stun_attr_u64(stun_find(&mi, TC_ATTR_LINK), &id), 0);
	ck_assert_int_eq(tc_get_endpoint(&mi, &ep), 0);
	ck_assert_uint_eq(ep.nports, 1);
	ck_assert_uint_eq(ep.ports[0], 40001);
	/* A's IPv6 candidate, passed on as it came. */
	ck_assert_int_eq(ep.v6.ss_family, AF_INET6);
	ck_assert_uint_eq(addr_port((struct sockaddr *)&ep.v6), 40002);
	ck_assert_ptr_nonnull(key_i = stun_find(&mi, TC_ATTR_LINK_KEY));
	/* Nothing for A yet: the GO waits for B's ACK. */
	ck_assert_uint_eq(receive_on(sock, ans, sizeof ans, 300), 0);

	/* A forged ACK (A's key, not B's) changes nothing. */
	ep.ports[0] = 50001;
	len = instruct_ack(ack, sizeof ack, mi.tid, &ep, ka);
	sendto(bs, ack, (size_t)len, 0, (struct sockaddr *)&nego, sizeof nego);
	ck_assert_uint_eq(receive_on(sock, ans, sizeof ans, 300), 0);

	/* B's ACK: A gets the GO, with B's ports and the same link key. */
	len = instruct_ack(ack, sizeof ack, mi.tid, &ep, kb);
	sendto(bs, ack, (size_t)len, 0, (struct sockaddr *)&nego, sizeof nego);
	n = receive_on(sock, ans, sizeof ans, 2000);
	message_is(ans, n, &m, TC_METHOD_LINK, STUN_SUCCESS, ka);
	ck_assert_int_eq(stun_attr_u64(stun_find(&m, TC_ATTR_LINK), &id2), 0);
	ck_assert_uint_eq(id, id2);
	ck_assert_ptr_nonnull(key_g = stun_find(&m, TC_ATTR_LINK_KEY));
	ck_assert_int_eq(memcmp(key_i->value, key_g->value, TC_KEY_LEN), 0);
	ck_assert_int_eq(tc_get_endpoint(&m, &ep), 0);
	ck_assert_uint_eq(ep.ports[0], 50001);
	ck_assert_int_eq(ep.v6.ss_family, AF_INET6);	/* B's, in its ACK */
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
	auth_begin(&b, req, sizeof req, TC_METHOD_REPORT, sa, 3);
	stun_put_u64(&b, TC_ATTR_LINK, id);
	tc_put_outcome(&b, &o);
	len = request_seal(&b, ka);
	n = exchange(req, (size_t)len, ans, sizeof ans, 2000);
	ck_assert_uint_gt(n, 0);
	ck_assert_ptr_nonnull(strstr(http_get("/api/links"),
	    "{\"a\":\"eim-preserved\",\"b\":\"eim-preserved\",\"attempts\":1,"
	    "\"connected\":1,\"mean_ms\":120,\"direct\":1}"));

	/* C never answers INSTRUCT: A hears 480 once the broker gives up.
	 * C has been silent for 2 s (the registry counts whole seconds) by
	 * the broker's word that it answers no INSTRUCT, 1.5 s into the
	 * LINK: it is gone then, well before its expiry. */
	ck_assert_ptr_nonnull(strstr(http_get("/api/nodes"),
	    "\"id\":\"000000000000000c\""));
	usleep(2100 * 1000);
	len = build_link(req, sizeof req, sa, 4, ka, 0xc);
	n = exchange(req, (size_t)len, ans, sizeof ans, 12000);
	ck_assert_int_eq(error_code(ans, n), 480);
	ck_assert_int_eq(json_of("/api/links", "peer_silent"), 1);
	ck_assert_int_eq(stat_of("instruct_gone"), 1);
	ck_assert_ptr_null(strstr(http_get("/api/nodes"),
	    "\"id\":\"000000000000000c\""));
	close(bs);
	close(cs);
}
END_TEST


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
	size_t n;
	int len;

	auth_begin(&b, req, sizeof req, TC_METHOD_ACCUSE, session, seq);
	stun_put_u64(&b, TC_ATTR_PEER_NODE, accused);
	if (evidence >= 0)
		stun_put_u32(&b, TC_ATTR_EVIDENCE, (uint32_t)evidence);
	len = request_seal(&b, key);
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

/*
 * A crowd of candidates at once, more than the verifier tries at a time
 * (VERIFIER_INFLIGHT), none of which answers: each gets its verdict, and
 * the verifier's own session holds throughout (its keepalives and its
 * links' requests share one socket's transactions).
 */
#define CROWD 20
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
 * Leaving waits for the session's other requests: A (net/client/session.c, as
 * every program has it) asks for a link to B, a raw socket that answers
 * its INSTRUCT half a second late, and leaves at once. The LINK must get
 * its GO before the session says it has left; the negotiator could not
 * have checked it after the LEAVE (a link's REPORT, sent as it came up,
 * was lost this way when a program left right after).
 */
int
main(void)
{
	struct check_case cases[] = {
		{ .name = "daemon", .setup = setup, .teardown = teardown,
		    .timeout = 30, .tests = { test_link, test_join,
		    test_hijack, test_origin_proof, test_channel_names,
		    test_accuse } },
		{ .name = "crowd", .setup = setup, .teardown = teardown,
		    .timeout = 90, .tests = { test_verifier_crowd } },
	};

	return check_run_cases("negotiator-tree", cases,
	    sizeof cases / sizeof cases[0]);
}
