/*
 * The link broker's table (negotiator/broker.c) on its own, its datagrams
 * caught instead of sent: every message finds its link (A's retransmitted
 * LINK, B's ACK, either end's REPORT) among many; a full table refuses
 * with 508 while every link is in flight, and otherwise forgets the link
 * answered longest ago, counted unreported. The whole flow over real
 * sockets is check-negotiator-tree's test_link.
 */
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <sodium.h>

#include "negotiator/broker.h"
#include "net/util/clock.h"
#include "net/wire/stun.h"
#include "tests/check-daemon.h"
#include "tests/check-request.h"
#include "tests/check-run.h"

#define MANY	20000

/* What the broker sent, parsed back: INSTRUCTs and answers to LINK. */
struct sent {
	uint64_t	link;
	uint8_t		tid[12];
	int		cls;
	uint8_t		msg[STUN_MAX_MSG];
	size_t		len;
};

static struct sent *instructs, *answers;
static size_t ninstructs, nanswers;
/* A broker whose send callback calls back into it, as a callback may. */
static struct broker *reenter;
static size_t reentered;

static char *json(struct broker *br);

static void
catch_send(void *ctx, const struct sockaddr *to, const uint8_t *msg,
    size_t len, const struct sockaddr *src)
{
	struct stun_msg m;
	struct sent *s;

	(void)ctx;
	(void)to;
	(void)src;
	ck_assert_int_eq(stun_parse(msg, len, &m, NULL), 0);
	if (m.method == TC_METHOD_INSTRUCT) {
		ck_assert_uint_lt(ninstructs, MANY + 16);
		s = &instructs[ninstructs++];
	} else {
		ck_assert_int_eq(m.method, TC_METHOD_LINK);
		ck_assert_uint_lt(nanswers, MANY + 16);
		s = &answers[nanswers++];
	}
	s->link = 0;
	stun_attr_u64(stun_find(&m, TC_ATTR_LINK), &s->link);
	memcpy(s->tid, m.tid, sizeof s->tid);
	s->cls = m.cls;
	memcpy(s->msg, msg, len);
	s->len = len;
	if (reenter != NULL) {
		ck_assert_ptr_nonnull(strstr(json(reenter), "\"links\":"));
		reentered++;
	}
}

static struct event_base *base;

static struct broker *
make_broker_cfg(struct broker_config *cfg)
{
	struct broker *br;
	char err[128];

	ck_assert_ptr_nonnull(base = event_base_new());
	br = broker_create(base, cfg, catch_send, NULL, err, sizeof err);
	ck_assert_msg(br != NULL, "%s", err);
	ninstructs = nanswers = 0;
	return br;
}

static struct broker *
make_broker(uint32_t max_links)
{
	struct broker_config cfg;

	memset(&cfg, 0, sizeof cfg);
	cfg.max_links = max_links;
	return make_broker_cfg(&cfg);
}

/* A broker with a relay for 4 links on a free loopback port (into
 * *relay), a link unbound idle_s seconds dropped. */
static struct broker *
make_relay_broker(unsigned idle_s, struct sockaddr_in *relay)
{
	struct broker_config cfg;

	memset(&cfg, 0, sizeof cfg);
	cfg.has_relay = 1;
	cfg.relay_max = 4;
	cfg.relay_idle_s = idle_s;
	loopback_in(relay, free_port(SOCK_DGRAM));
	memcpy(&cfg.relay.ss, relay, sizeof *relay);
	cfg.relay.len = sizeof *relay;
	return make_broker_cfg(&cfg);
}

static void
free_broker(struct broker *br)
{
	broker_free(br);
	event_base_free(base);
}

static void
node(struct broker_node *n, uint64_t id, uint32_t slot)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&n->addr;

	memset(n, 0, sizeof *n);
	n->node_id = id;
	n->session = (uint64_t)7 << 32 | slot;
	memset(n->key, (int)(id & 0xff), sizeof n->key);
	n->key[0] = (uint8_t)(id >> 8);
	n->profile.mapping = NAT_MAPPING_EIM;
	n->profile.allocation = NAT_ALLOC_PRESERVED;
	n->profile.filtering = NAT_FILTER_APDF;
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(0xc6120000u + slot);
	in->sin_port = htons(3000);
}

static void
endpoint(struct tc_endpoint *ep)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&ep->external;

	memset(ep, 0, sizeof *ep);
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(0xc6130001u);
	in->sin_port = htons(40001);
	in = (struct sockaddr_in *)&ep->internal;
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(0x0a000001u);
	in->sin_port = htons(40001);
	ep->ports[0] = 40001;
	ep->nports = 1;
}

static int
ask(struct broker *br, const struct broker_node *a,
    const struct broker_node *b, uint32_t n)
{
	struct tc_endpoint ep;
	struct sockaddr_in local;
	uint8_t tid[12];

	memset(tid, 0, sizeof tid);
	memcpy(tid, &n, sizeof n);
	memset(&local, 0, sizeof local);
	local.sin_family = AF_INET;
	local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	endpoint(&ep);
	return broker_link(br, a, b, tid, &ep, (struct sockaddr *)&local);
}

/* B's ACK of the INSTRUCT with that tid, under B's key. */
static int
ack(struct broker *br, const uint8_t tid[12], const struct broker_node *b)
{
	uint8_t buf[STUN_MAX_MSG];
	struct tc_endpoint ep;
	struct stun_msg m;
	int len;

	endpoint(&ep);
	len = instruct_ack(buf, sizeof buf, tid, &ep, b->key);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(stun_parse(buf, (size_t)len, &m, NULL), 0);
	return broker_instruct_answer(br, &m);
}

static char *
json(struct broker *br)
{
	static char text[8192];
	struct evbuffer *out = evbuffer_new();
	size_t n;

	broker_json(br, out);
	n = evbuffer_get_length(out);
	ck_assert_uint_lt(n, sizeof text);
	evbuffer_remove(out, text, n);
	text[n] = '\0';
	evbuffer_free(out);
	return text;
}

/* Many links at once, each message answered in an order unlike the
 * order of asking: every one finds its own link. */
START_TEST(test_many)
{
	static struct broker_node a[MANY];
	struct broker_node b;
	struct tc_outcome o = { 1, 0, LINK_PATH_DIRECT, 90 };
	struct broker *br = make_broker(0);
	uint64_t acceptor;
	uint32_t i, j;
	size_t before;

	node(&b, 0xb0b, MANY);
	for (i = 0; i < MANY; i++) {
		node(&a[i], 0x100000 + i, i);
		ck_assert_int_eq(ask(br, &a[i], &b, i), 0);
	}
	ck_assert_uint_eq(ninstructs, MANY);
	ck_assert_uint_eq(nanswers, 0);
	/* B answers in a scattered order (7919 is prime to MANY). */
	for (i = 0; i < MANY; i++) {
		j = (uint32_t)(((uint64_t)i * 7919) % MANY);
		ck_assert_int_eq(ack(br, instructs[j].tid, &b), 0);
		/* The GO goes to A, under the LINK's own tid. */
		ck_assert_int_eq(answers[i].cls, STUN_SUCCESS);
		ck_assert_uint_eq(answers[i].link, instructs[j].link);
		ck_assert_int_eq(memcmp(answers[i].tid, &j, sizeof j), 0);
	}
	/* The same ACK again: late, not a second GO. */
	ck_assert_int_eq(ack(br, instructs[5].tid, &b), -1);
	/* A's retransmitted LINK: the same GO again, byte for byte. */
	before = nanswers;
	ck_assert_int_eq(ask(br, &a[123], &b, 123), 0);
	ck_assert_uint_eq(nanswers, before + 1);
	j = (uint32_t)(nanswers - 1);
	for (i = 0; i < before; i++)
		if (answers[i].link == instructs[123].link)
			break;
	ck_assert_uint_lt(i, before);
	ck_assert_uint_eq(answers[j].len, answers[i].len);
	ck_assert_int_eq(memcmp(answers[j].msg, answers[i].msg,
	    answers[i].len), 0);
	/* Both ends report; A's names B as the acceptor. */
	for (i = 0; i < MANY; i++) {
		acceptor = 1;
		ck_assert_int_eq(broker_report(br, b.session,
		    instructs[i].link, &o, &acceptor), 0);
		ck_assert_uint_eq(acceptor, 0);
		ck_assert_int_eq(broker_report(br, a[i].session,
		    instructs[i].link, &o, &acceptor), 0);
		ck_assert_uint_eq(acceptor, b.session);
	}
	/* Not a link, or not this node's. */
	ck_assert_int_eq(broker_report(br, a[0].session, 12345, &o,
	    &acceptor), -1);
	ck_assert_int_eq(broker_report(br, a[0].session, instructs[1].link,
	    &o, &acceptor), -1);
	ck_assert_ptr_nonnull(strstr(json(br), "\"links\":20000,"
	    "\"retransmits\":1,"));
	ck_assert_ptr_nonnull(strstr(json(br), "\"full\":0,\"forgotten\":0,"));
	ck_assert_ptr_nonnull(strstr(json(br), "\"attempts\":20000,"
	    "\"connected\":20000,"));
	free_broker(br);
}
END_TEST

/* A table of 4: four links in flight fill it (508); once some are
 * answered, a new link takes the slot of the one answered longest ago,
 * which is counted unreported and forgotten. */
START_TEST(test_full)
{
	struct broker_node a[8], b;
	struct tc_outcome o = { 1, 0, LINK_PATH_DIRECT, 90 };
	struct broker *br = make_broker(4);
	uint64_t acceptor;
	uint32_t i;

	node(&b, 0xb0b, 99);
	for (i = 0; i < 8; i++)
		node(&a[i], 0x200 + i, i);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(ask(br, &a[i], &b, i), 0);
	ck_assert_int_eq(ask(br, &a[4], &b, 4), 508);
	ck_assert_ptr_nonnull(strstr(json(br), "\"full\":1,\"forgotten\":0,"));
	/* Links 2 and 0 are answered, in that order. */
	ck_assert_int_eq(ack(br, instructs[2].tid, &b), 0);
	ck_assert_int_eq(ack(br, instructs[0].tid, &b), 0);
	/* Room: link 2 goes, unreported; link 0 stays. */
	ck_assert_int_eq(ask(br, &a[5], &b, 5), 0);
	ck_assert_ptr_nonnull(strstr(json(br), "\"full\":1,\"forgotten\":1,"));
	ck_assert_ptr_nonnull(strstr(json(br), "\"unreported\":1"));
	ck_assert_int_eq(broker_report(br, a[2].session, instructs[2].link,
	    &o, &acceptor), -1);
	ck_assert_int_eq(broker_report(br, a[0].session, instructs[0].link,
	    &o, &acceptor), 0);
	ck_assert_uint_eq(acceptor, b.session);
	/* Link 0, reported, is the next to go; then none is answered and
	 * the table is full again. */
	ck_assert_int_eq(ask(br, &a[6], &b, 6), 0);
	ck_assert_int_eq(ask(br, &a[7], &b, 7), 508);
	ck_assert_ptr_nonnull(strstr(json(br), "\"full\":2,\"forgotten\":2,"));
	/* The links in flight are all still found. */
	ck_assert_int_eq(ack(br, instructs[1].tid, &b), 0);
	ck_assert_int_eq(ack(br, instructs[3].tid, &b), 0);
	ck_assert_int_eq(ack(br, instructs[4].tid, &b), 0);
	ck_assert_int_eq(ack(br, instructs[5].tid, &b), 0);
	ck_assert_uint_eq(nanswers, 6);
	free_broker(br);
}
END_TEST

/* The main loop for ms. */
static void
run_for(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/*
 * The broker sends with its lock let go: a send callback may call the
 * broker again (here broker_json, which takes the lock) for A's LINK's
 * INSTRUCT, B's ACK's GO, A's retransmitted LINK, INSTRUCT's
 * retransmissions and the give-up's 480.
 */
START_TEST(test_send_unlocked)
{
	struct broker_node a, a2, b;
	struct broker *br = make_broker(0);

	node(&b, 0xb0b, 99);
	node(&a, 0x301, 1);
	node(&a2, 0x302, 2);
	reenter = br;
	reentered = 0;
	ck_assert_int_eq(ask(br, &a, &b, 1), 0);
	ck_assert_int_eq(ack(br, instructs[0].tid, &b), 0);
	ck_assert_int_eq(ask(br, &a, &b, 1), 0);	/* again: the GO again */
	ck_assert_uint_eq(nanswers, 2);
	ck_assert_int_eq(ask(br, &a2, &b, 2), 0);	/* B stays silent */
	run_for(1200);			/* INSTRUCT again, at 250 and 750 ms */
	ck_assert_uint_ge(ninstructs, 4);
	ck_assert_uint_eq(reentered, ninstructs + nanswers);
	reenter = NULL;
	free_broker(br);
}
END_TEST

/* The nodes the broker reported silent (broker_on_silent), and when. */
static uint64_t silent_ids[8], silent_ms[8];
static unsigned nsilent;

static void
catch_silent(void *ctx, uint64_t node_id)
{
	ck_assert_ptr_null(ctx);
	ck_assert_uint_lt(nsilent, 8);
	silent_ms[nsilent] = clock_ms();
	silent_ids[nsilent++] = node_id;
}

/*
 * A node that answers none of a link's INSTRUCTs is reported silent once,
 * 1.5 s after the LINK or later (never before), and one that answered is
 * not.
 */
START_TEST(test_silent_reported)
{
	struct broker_node a, b, c;
	struct broker *br = make_broker(0);
	uint64_t t0;
	int i;

	node(&a, 0x301, 1);
	node(&b, 0xb0b, 2);
	node(&c, 0xc0c, 3);
	nsilent = 0;
	broker_on_silent(br, catch_silent, NULL);
	ck_assert_int_eq(ask(br, &a, &b, 1), 0);	/* B answers */
	ck_assert_int_eq(ack(br, instructs[0].tid, &b), 0);
	t0 = clock_ms();
	ck_assert_int_eq(ask(br, &a, &c, 2), 0);	/* C never does */
	for (i = 0; i < 100 && nsilent == 0; i++)
		run_for(100);
	ck_assert_uint_eq(nsilent, 1);
	ck_assert_uint_eq(silent_ids[0], 0xc0c);
	ck_assert_uint_ge(silent_ms[0] - t0, 1500);
	run_for(1000);			/* once a link, not once a tick */
	ck_assert_uint_eq(nsilent, 1);
	free_broker(br);
}
END_TEST

/* A RELAY request for link (its key key) from fd; 1 if answered. */
static int
relay_bind(int fd, const struct sockaddr_in *relay, uint64_t link,
    const uint8_t *key)
{
	uint8_t buf[STUN_MAX_MSG], tid[12];
	struct stun_builder sb;
	struct stun_msg m;
	ssize_t n;
	int len;

	request_begin(&sb, buf, sizeof buf, TC_METHOD_RELAY, tid);
	stun_put_u64(&sb, TC_ATTR_LINK, link);
	len = request_seal(&sb, key);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(sendto(fd, buf, (size_t)len, 0,
	    (const struct sockaddr *)relay, sizeof *relay), len);
	run_for(100);			/* the relay reads it, answers */
	n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
	return n > 0 && stun_parse(buf, (size_t)n, &m, NULL) == 0 &&
	    m.method == TC_METHOD_RELAY && m.cls == STUN_SUCCESS &&
	    memcmp(m.tid, tid, sizeof tid) == 0;
}

/*
 * A relayed link must be bound on both sides within relay_idle_s of its
 * start: one side that keeps binding (each request authenticated and
 * answered) does not keep the relay's slot for ever.
 */
START_TEST(test_relay_bind_deadline)
{
	struct broker_node a, b;
	struct sockaddr_in relay;
	struct stun_msg m;
	const struct stun_attr *k;
	struct broker *br;
	uint8_t key[TC_KEY_LEN];
	int fd, i, answered = 0, late = 0;

	br = make_relay_broker(1, &relay);
	/* A pair no punch joins: A random, B address-and-port-dependent,
	 * neither reachable. */
	node(&a, 0x401, 1);
	a.profile.mapping = NAT_MAPPING_APDM;
	a.profile.allocation = NAT_ALLOC_RANDOM;
	node(&b, 0x402, 2);
	b.profile.mapping = NAT_MAPPING_APDM;
	b.profile.allocation = NAT_ALLOC_SEQUENTIAL;
	b.profile.delta = 1;
	ck_assert_int_eq(ask(br, &a, &b, 1), 0);
	ck_assert_uint_eq(ninstructs, 1);
	ck_assert_int_eq(stun_parse(instructs[0].msg, instructs[0].len, &m,
	    NULL), 0);
	ck_assert_ptr_nonnull(stun_find(&m, TC_ATTR_XOR_RELAY));
	ck_assert_ptr_nonnull(k = stun_find(&m, TC_ATTR_LINK_KEY));
	memcpy(key, k->value, sizeof key);
	ck_assert_ptr_nonnull(strstr(json(br), "\"live\":1,"));

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	/* One side, binding again and again for 2.5 s: answered at first;
	 * gone once the second has passed. */
	for (i = 0; i < 25; i++) {
		if (relay_bind(fd, &relay, instructs[0].link, key)) {
			answered++;
			late = i >= 15;
		}
	}
	ck_assert_int_gt(answered, 0);
	ck_assert_msg(!late, "the relay still answers 1.5 s after the link's "
	    "start, with one side bound (%d of 25 answered)", answered);
	ck_assert_ptr_nonnull(strstr(json(br), "\"live\":0,"));
	close(fd);
	free_broker(br);
}
END_TEST

/*
 * Two nodes behind one external address are not relayed: they reach each
 * other inside. Once a punch between them failed (two homes behind one
 * carrier-grade NAT), they are, when they ask again; other pairs behind
 * the address are not.
 */
START_TEST(test_same_address_failed)
{
	struct broker_node a, b, c;
	struct sockaddr_in relay;
	struct stun_msg m;
	struct broker *br;
	struct tc_outcome o = { 0, LINK_STEP_PUNCH, LINK_PATH_NONE, 0 };
	uint64_t acceptor;
	size_t i;
	int relayed[4];

	br = make_relay_broker(30, &relay);
	node(&a, 0x501, 1);
	node(&b, 0x502, 2);
	node(&c, 0x503, 3);
	/* All three behind the address of endpoint()'s. */
	((struct sockaddr_in *)&a.addr)->sin_addr.s_addr = htonl(0xc6130001u);
	((struct sockaddr_in *)&b.addr)->sin_addr.s_addr = htonl(0xc6130001u);
	((struct sockaddr_in *)&c.addr)->sin_addr.s_addr = htonl(0xc6130001u);
	ck_assert_int_eq(ask(br, &a, &b, 1), 0);
	ck_assert_int_eq(ack(br, instructs[0].tid, &b), 0);
	ck_assert_int_eq(broker_report(br, a.session, instructs[0].link, &o,
	    &acceptor), 0);
	ck_assert_int_eq(ask(br, &a, &b, 2), 0);	/* asked again */
	ck_assert_int_eq(ask(br, &b, &a, 3), 0);	/* the other way */
	ck_assert_int_eq(ask(br, &a, &c, 4), 0);	/* another pair */
	ck_assert_uint_eq(ninstructs, 4);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(stun_parse(instructs[i].msg, instructs[i].len,
		    &m, NULL), 0);
		relayed[i] = stun_find(&m, TC_ATTR_XOR_RELAY) != NULL;
	}
	ck_assert_msg(!relayed[0], "a pair behind one address relayed at once");
	ck_assert_msg(relayed[1], "not relayed after its punch failed");
	ck_assert_msg(relayed[2], "not relayed the other way");
	ck_assert_msg(!relayed[3], "another pair behind the address relayed");
	free_broker(br);
}
END_TEST

/* One end's report, for broker_classify. */
static struct broker_end
end_of(int ok, enum link_step step, enum link_path path, unsigned sent,
    unsigned received, unsigned learnt, unsigned loss)
{
	struct broker_end e;

	memset(&e, 0, sizeof e);
	e.have = 1;
	e.o.ok = (uint8_t)ok;
	e.o.step = (uint8_t)step;
	e.o.path = (uint8_t)path;
	e.have_seen = 1;
	e.seen.sent = (uint16_t)sent;
	e.seen.received = (uint16_t)received;
	e.seen.learnt = (uint16_t)learnt;
	e.seen.loss_permille = (uint16_t)loss;
	return e;
}

START_TEST(test_classify)
{
	struct nat_profile eim = { NAT_MAPPING_EIM, NAT_ALLOC_PRESERVED,
	    NAT_FILTER_APDF, 0, 0, 0 }, rnd = { NAT_MAPPING_APDM,
	    NAT_ALLOC_RANDOM, NAT_FILTER_APDF, 0, 0, 0 };
	struct broker_end none, up, relay, punch, heard, moved, lossy, udt,
	    peer, old;

	memset(&none, 0, sizeof none);
	up = end_of(1, LINK_STEP_NONE, LINK_PATH_DIRECT, 10, 10, 0, 0);
	relay = end_of(1, LINK_STEP_NONE, LINK_PATH_RELAY, 0, 0, 0, 0);
	punch = end_of(0, LINK_STEP_PUNCH, LINK_PATH_NONE, 200, 0, 0, 0);
	heard = end_of(0, LINK_STEP_PUNCH, LINK_PATH_NONE, 200, 30, 0, 0);
	moved = end_of(0, LINK_STEP_PUNCH, LINK_PATH_NONE, 200, 30, 1, 0);
	lossy = end_of(0, LINK_STEP_PUNCH, LINK_PATH_NONE, 200, 0, 0, 300);
	udt = end_of(0, LINK_STEP_UDT, LINK_PATH_DIRECT, 20, 20, 0, 0);
	peer = end_of(0, LINK_STEP_PEER, LINK_PATH_NONE, 0, 0, 0, 0);
	old = punch;
	old.have_seen = 0;
	memset(&old.seen, 0, sizeof old.seen);

	ck_assert_int_eq(broker_classify(&eim, &eim, &up, &up, 0),
	    LINK_CLASS_NONE);
	ck_assert_int_eq(broker_classify(&rnd, &rnd, &relay, &relay, 0),
	    LINK_CLASS_RANDOM);
	/* Relayed though both predict: two homes behind one CGN that does
	 * not hairpin. */
	ck_assert_int_eq(broker_classify(&eim, &eim, &relay, &relay, 0),
	    LINK_CLASS_FILTERING);
	ck_assert_int_eq(broker_classify(&eim, &eim, &none, &none, 1),
	    LINK_CLASS_PEER_GONE);
	ck_assert_int_eq(broker_classify(&eim, &eim, &peer, &none, 0),
	    LINK_CLASS_PEER_GONE);
	/* B never reported: gone, unless A's own path explains it. */
	ck_assert_int_eq(broker_classify(&eim, &eim, &punch, &none, 0),
	    LINK_CLASS_PEER_GONE);
	ck_assert_int_eq(broker_classify(&eim, &eim, &lossy, &none, 0),
	    LINK_CLASS_LOSSY);
	ck_assert_int_eq(broker_classify(&eim, &eim, &punch, &lossy, 0),
	    LINK_CLASS_LOSSY);
	ck_assert_int_eq(broker_classify(&eim, &rnd, &punch, &punch, 0),
	    LINK_CLASS_RANDOM);
	/* B heard A's checks from a predicted port; A heard nothing. */
	ck_assert_int_eq(broker_classify(&eim, &eim, &punch, &heard, 0),
	    LINK_CLASS_FILTERING);
	ck_assert_int_eq(broker_classify(&eim, &eim, &punch, &punch, 0),
	    LINK_CLASS_FILTERING);
	ck_assert_int_eq(broker_classify(&eim, &eim, &punch, &moved, 0),
	    LINK_CLASS_MAPPING);
	ck_assert_int_eq(broker_classify(&eim, &eim, &udt, &udt, 0),
	    LINK_CLASS_MAPPING);
	ck_assert_int_eq(broker_classify(&eim, &eim, &old, &old, 0),
	    LINK_CLASS_UNKNOWN);
	/* A never reported: B's word is taken. */
	ck_assert_int_eq(broker_classify(&rnd, &rnd, &none, &relay, 0),
	    LINK_CLASS_RANDOM);
	ck_assert_str_eq(link_class_name(LINK_CLASS_PEER_GONE), "peer_gone");
	ck_assert_ptr_null(link_class_name(LINK_CLASS_COUNT));
}
END_TEST

/* Both ends' reports classify a link at once, by its pair, in the JSON;
 * a second report of one end does not count it twice. */
START_TEST(test_classes_counted)
{
	struct broker_node a, b;
	struct broker *br;
	struct tc_outcome o = { 0, LINK_STEP_PUNCH, LINK_PATH_NONE, 0 };
	struct tc_link_seen none = { 120, 0, 0, 0, 5, 0 },
	    heard = { 120, 40, 0, 0, 5, 0 };
	struct evbuffer *out;
	uint64_t acceptor;
	char *json;

	br = make_broker(16);
	node(&a, 0x601, 1);
	node(&b, 0x602, 2);
	ck_assert_int_eq(ask(br, &a, &b, 1), 0);
	ck_assert_int_eq(ack(br, instructs[0].tid, &b), 0);
	ck_assert_int_eq(broker_report_seen(br, a.session, instructs[0].link,
	    &o, &none, &acceptor), 0);
	ck_assert_int_eq(broker_report_seen(br, a.session, instructs[0].link,
	    &o, &none, &acceptor), 0);
	ck_assert_int_eq(broker_report_seen(br, b.session, instructs[0].link,
	    &o, &heard, &acceptor), 0);
	ck_assert_ptr_nonnull(out = evbuffer_new());
	broker_json(br, out);
	evbuffer_add(out, "", 1);
	json = (char *)evbuffer_pullup(out, -1);
	ck_assert_msg(strstr(json, "\"classes\":{\"random\":0,\"lossy\":0,"
	    "\"filtering\":1,\"mapping\":0,\"peer_gone\":0,"
	    "\"unknown\":0}") != NULL, "%s", json);
	ck_assert_msg(strstr(json, "\"failed_punch\":1,\"classes\":{"
	    "\"random\":0,\"lossy\":0,\"filtering\":1") != NULL, "%s",
	    json);
	evbuffer_free(out);
	free_broker(br);
}
END_TEST

/* The part a message gives its receiver in birthday punching, 0 if none;
 * -1 if it offers the relay. */
static int
birthday_part(const struct sent *x)
{
	struct stun_msg m;
	uint32_t v = 0;

	ck_assert_int_eq(stun_parse(x->msg, x->len, &m, NULL), 0);
	if (stun_find(&m, TC_ATTR_XOR_RELAY) != NULL)
		return -1;
	stun_attr_u32(stun_find(&m, TC_ATTR_BIRTHDAY), &v);
	return (int)v;
}

/*
 * A random allocator and an endpoint-independent mapping that filters are
 * told to punch by birthday, each its part: the random side opens the
 * sockets (HARD), the other probes (EASY). Once that failed, the pair is
 * relayed when it asks again, once; then birthday again. A random
 * allocator and an address-and-port-dependent one are relayed at once.
 */
START_TEST(test_birthday_method)
{
	struct broker_node a, b, c;
	struct sockaddr_in relay;
	struct broker *br;
	struct tc_outcome o = { 0, LINK_STEP_PUNCH, LINK_PATH_NONE, 0 };
	uint64_t acceptor;

	br = make_relay_broker(30, &relay);
	node(&a, 0x601, 1);
	a.profile.mapping = NAT_MAPPING_APDM;
	a.profile.allocation = NAT_ALLOC_RANDOM;
	node(&b, 0x602, 2);		/* eim-preserved, APDF */
	node(&c, 0x603, 3);
	c.profile.mapping = NAT_MAPPING_APDM;
	c.profile.allocation = NAT_ALLOC_SEQUENTIAL;
	c.profile.delta = 1;
	ck_assert_int_eq(ask(br, &a, &b, 1), 0);
	ck_assert_int_eq(birthday_part(&instructs[0]), TC_BIRTHDAY_EASY);
	ck_assert_int_eq(ack(br, instructs[0].tid, &b), 0);
	ck_assert_uint_eq(nanswers, 1);
	ck_assert_int_eq(birthday_part(&answers[0]), TC_BIRTHDAY_HARD);
	ck_assert_int_eq(broker_report(br, a.session, instructs[0].link, &o,
	    &acceptor), 0);
	ck_assert_ptr_nonnull(strstr(json(br),
	    "\"birthday\":{\"links\":1,\"up\":0,\"failed\":1}"));
	ck_assert_int_eq(ask(br, &a, &b, 2), 0);	/* asked again */
	ck_assert_int_eq(birthday_part(&instructs[1]), -1);
	ck_assert_int_eq(ask(br, &b, &a, 3), 0);	/* and once more */
	ck_assert_int_eq(birthday_part(&instructs[2]), TC_BIRTHDAY_HARD);
	ck_assert_int_eq(ask(br, &a, &c, 4), 0);	/* random x seq */
	ck_assert_int_eq(birthday_part(&instructs[3]), -1);
	free_broker(br);
}
END_TEST

int
main(void)
{
	struct check_case cases[] = {
		{ .name = "broker", .timeout = 60, .tests = { test_many,
		    test_full, test_send_unlocked, test_silent_reported,
		    test_relay_bind_deadline,
		    test_same_address_failed, test_classify,
		    test_classes_counted, test_birthday_method } },
	};

	if (sodium_init() < 0)
		return 1;
	instructs = calloc(MANY + 16, sizeof *instructs);
	answers = calloc(MANY + 16, sizeof *answers);
	if (instructs == NULL || answers == NULL)
		return 1;
	return check_run_cases("broker", cases,
	    sizeof cases / sizeof cases[0]);
}
