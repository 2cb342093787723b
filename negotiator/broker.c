/* The link broker's flows: LINK, INSTRUCT and its answer (the ACK),
 * REPORT, retransmission and expiry (negotiator/broker.h; its table and
 * figures: broker-table.c, broker-count.c; the relay: relay.c). */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <sodium.h>

#include "negotiator/broker-private.h"
#include "net/util/clock.h"

/* Under the lock: msg to to, from src, once the lock is let go. Each
 * caller sizes its outbox for what it may send. */
static void
broker_queue(struct broker_outbox *ob, const struct sockaddr_storage *to,
    const uint8_t *msg, size_t len, const struct sockaddr_storage *src)
{
	struct broker_dgram *d;

	if (ob->n == ob->max || len > sizeof d->msg)
		return;
	d = &ob->d[ob->n++];
	memcpy(&d->to, to, addr_sslen(to));
	memcpy(&d->src, src, addr_sslen(src));
	memcpy(d->msg, msg, len);
	d->len = len;
}

/* With the lock let go: what was queued. */
static void
broker_flush(struct broker *br, struct broker_outbox *ob)
{
	unsigned i;

	for (i = 0; i < ob->n; i++)
		br->send(br->ctx, (struct sockaddr *)&ob->d[i].to,
		    ob->d[i].msg, ob->d[i].len,
		    (struct sockaddr *)&ob->d[i].src);
	ob->n = 0;
}

/* Whether a punch between nodes a and b, behind one external address,
 * failed in the last BROKER_KEEP_MS. */
static int
broker_same_failed(const struct broker *br, uint64_t a, uint64_t b,
    uint64_t now)
{
	unsigned i;

	for (i = 0; i < BROKER_SAME_FAILED; i++)
		if (br->same_failed[i].ms != 0 &&
		    now - br->same_failed[i].ms < BROKER_KEEP_MS &&
		    ((br->same_failed[i].a == a && br->same_failed[i].b == b) ||
		    (br->same_failed[i].a == b && br->same_failed[i].b == a)))
			return 1;
	return 0;
}

/* Whether nodes a and b ask again after their birthday punch failed:
 * relayed, once (the next attempt tries birthday punching again). */
static int
broker_retry_relayed(struct broker *br, uint64_t a, uint64_t b, uint64_t now)
{
	unsigned i;

	for (i = 0; i < BROKER_SAME_FAILED; i++) {
		if (br->same_failed[i].ms != 0 &&
		    now - br->same_failed[i].ms < BROKER_KEEP_MS &&
		    ((br->same_failed[i].a == a && br->same_failed[i].b == b) ||
		    (br->same_failed[i].a == b && br->same_failed[i].b == a))) {
			br->same_failed[i].ms = 0;
			return 1;
		}
	}
	return 0;
}

/*
 * Whether birthday punching joins a and b where prediction cannot: one
 * allocates at random, and the other, which filters, maps endpoint-
 * independently (or has no NAT), so that the random side's many sockets
 * all send to its one mapping, which then probes many ports of theirs.
 */
static int
broker_birthday_pair(const struct nat_profile *a, const struct nat_profile *b)
{
	const struct nat_profile *easy = nat_predictable(a) ? a : b;

	if (nat_reachable(a) || nat_reachable(b) ||
	    nat_predictable(a) == nat_predictable(b))
		return 0;
	return easy->mapping == NAT_MAPPING_EIM ||
	    easy->mapping == NAT_MAPPING_NONE;
}

/* Only a relay for pairs that no punch can join: where one side is
 * unpredictable and the other cannot take a packet unsolicited, unless
 * birthday punching can join them and has not just failed. Two nodes
 * behind one NAT reach each other on their internal addresses, unless
 * that failed: behind one carrier-grade NAT without hairpinning, each
 * behind its own home router, they share the address and nothing else. */
static int
broker_needs_relay(struct broker *br, const struct broker_node *a,
    const struct tc_endpoint *ae, const struct broker_node *b, uint64_t now)
{
	if (addr_equal_ip((const struct sockaddr *)&ae->external,
	    (const struct sockaddr *)&b->addr))
		return broker_same_failed(br, a->node_id, b->node_id, now);
	if (nat_predictable(&a->profile) && nat_predictable(&b->profile))
		return 0;
	if (broker_birthday_pair(&a->profile, &b->profile))
		return broker_retry_relayed(br, a->node_id, b->node_id, now);
	return !nat_reachable(&a->profile) && !nat_reachable(&b->profile);
}

/* What each end learns of the link and of the other end: the link's id
 * and key, the other end's profile and endpoint, and the relay where the
 * link goes through it. INSTRUCT and the GO both carry it. */
static void
broker_put_link(struct broker *br, const struct blink *l,
    struct stun_builder *sb, const struct nat_profile *other,
    const struct tc_endpoint *ep)
{
	uint8_t prof[NAT_PROFILE_WIRE_LEN];
	struct sockaddr_storage relay;

	stun_put_u64(sb, TC_ATTR_LINK, l->id);
	stun_put(sb, TC_ATTR_LINK_KEY, l->key, sizeof l->key);
	nat_profile_encode(other, prof);
	stun_put(sb, TC_ATTR_NAT_PROFILE, prof, sizeof prof);
	tc_put_endpoint(sb, ep);
	if (l->relayed) {
		relay = l->local;
		addr_set_port((struct sockaddr *)&relay,
		    addr_port((struct sockaddr *)&br->cfg.relay.ss));
		stun_put_xor_address(sb, TC_ATTR_XOR_RELAY,
		    (struct sockaddr *)&relay);
	}
	if (l->birthday)
		stun_put_u32(sb, TC_ATTR_BIRTHDAY, nat_predictable(other) ?
		    TC_BIRTHDAY_HARD : TC_BIRTHDAY_EASY);
}

/* The answer to A's LINK, kept for its retransmissions, and queued. */
static void
broker_answer_a(struct broker *br, struct blink *l, int code,
    const char *reason, const struct tc_endpoint *bep,
    struct broker_outbox *ob)
{
	struct stun_builder sb;
	int len;

	bl_remove(br, &br->pending, l);
	bl_append(br, &br->done, l);
	l->state = BL_ANSWERED;
	l->done_ms = clock_ms();
	l->answer_len = 0;
	stun_build_init(&sb, l->answer, sizeof l->answer, TC_METHOD_LINK,
	    code != 0 ? STUN_ERROR : STUN_SUCCESS, l->a_tid);
	if (code != 0)
		stun_put_error_code(&sb, code, reason);
	else
		broker_put_link(br, l, &sb, &l->b.profile, bep);
	stun_put_integrity_sha256(&sb, l->a.key, sizeof l->a.key);
	stun_put_fingerprint(&sb);
	if ((len = stun_build_finish(&sb)) < 0)
		return;
	l->answer_len = (size_t)len;
	broker_queue(ob, &l->a.addr, l->answer, l->answer_len, &l->local);
}

/* A slot for a new link: a free one, one never used, or else the oldest
 * answered link, forgotten early; NULL while every one is in flight. */
static struct blink *
broker_slot(struct broker *br)
{
	struct blink *l;

	if (br->free.head != 0) {
		l = &br->links[br->free.head - 1];
		bl_remove(br, &br->free, l);
		return l;
	}
	if (br->used < br->cfg.max_links)
		return &br->links[br->used++];
	if (br->done.head == 0)
		return NULL;
	l = &br->links[br->done.head - 1];
	if (l->state == BL_ANSWERED)
		broker_count_unreported(br, l);
	br->c.forgotten++;
	bl_forget(br, l);
	return l;
}

int
broker_link(struct broker *br, const struct broker_node *a,
    const struct broker_node *peer, const uint8_t tid[12],
    const struct tc_endpoint *ep, const struct sockaddr *local)
{
	struct stun_builder sb;
	struct blink *l;
	struct broker_dgram one;
	struct broker_outbox ob = { &one, 0, 1 };
	struct sockaddr_storage src;
	uint64_t now = clock_ms(), id;
	uint8_t k[IX_KEY_MAX];
	size_t klen = bl_atid_key(k, a->session, tid);
	int len, relayed;

	memcpy(&src, local, addr_sslen((const struct sockaddr_storage *)
	    local));
	broker_lock(br);
	if ((l = bl_find(br, IX_ATID, k, klen)) != NULL) {
		/* A retransmitted: wait for B, or answer again. */
		br->c.retransmits++;
		if (l->answer_len > 0)
			broker_queue(&ob, &a->addr, l->answer, l->answer_len,
			    &src);
		broker_unlock(br);
		broker_flush(br, &ob);
		return 0;
	}
	if ((l = broker_slot(br)) == NULL) {
		br->c.full++;
		broker_unlock(br);
		return 508;
	}
	memset(l, 0, sizeof *l);
	l->state = BL_INSTRUCTING;
	while (l->id == 0)
		randombytes_buf(&l->id, sizeof l->id);
	randombytes_buf(l->key, sizeof l->key);
	l->a = *a;
	l->b = *peer;
	memcpy(l->a_tid, tid, 12);
	memcpy(&l->local, local, addr_sslen((const struct sockaddr_storage *)
	    local));
	l->t0 = now;
	l->same_ip = addr_equal_ip((const struct sockaddr *)&ep->external,
	    (const struct sockaddr *)&peer->addr);
	if (br->cfg.has_relay && broker_needs_relay(br, a, ep, peer, now))
		l->relayed = relay_add(br->relay, l->id, l->key, now) == 0;
	l->birthday = !l->relayed && !l->same_ip &&
	    broker_birthday_pair(&a->profile, &peer->profile);
	br->c.birthday += (uint64_t)l->birthday;
	br->c.links++;

	stun_random_tid(l->instruct_tid);
	bl_index(br, l);
	bl_append(br, &br->pending, l);
	stun_build_init(&sb, l->instruct, sizeof l->instruct,
	    TC_METHOD_INSTRUCT, STUN_REQUEST, l->instruct_tid);
	stun_put_u64(&sb, TC_ATTR_PEER_NODE, a->node_id);
	broker_put_link(br, l, &sb, &a->profile, ep);
	stun_put_integrity_sha256(&sb, peer->key, sizeof peer->key);
	stun_put_fingerprint(&sb);
	if ((len = stun_build_finish(&sb)) < 0) {
		bl_release(br, l);
		broker_unlock(br);
		return 500;
	}
	l->instruct_len = (size_t)len;
	l->sent = 1;
	l->next_ms = now + BROKER_RTO_MS;
	br->c.instructs++;
	broker_queue(&ob, &l->b.addr, l->instruct, l->instruct_len,
	    &l->local);
	id = l->id;		/* l is the tick's and the workers' once let go */
	relayed = l->relayed;
	broker_unlock(br);
	broker_flush(br, &ob);
	log_debug("link %016" PRIx64 ": node %016" PRIx64 " (%s) asks for node "
	    "%016" PRIx64 " (%s)%s", id, a->node_id,
	    nat_class_name(&a->profile), peer->node_id,
	    nat_class_name(&peer->profile), relayed ? ", relayed" : "");
	return 0;
}

int
broker_instruct_answer(struct broker *br, const struct stun_msg *m)
{
	const struct stun_attr *ea;
	struct tc_endpoint bep;
	struct blink *l;
	struct broker_dgram one;
	struct broker_outbox ob = { &one, 0, 1 };
	const char *reason = "";
	char why[128];
	size_t rlen = 0;
	int code = 0;

	broker_lock(br);
	if ((l = bl_find(br, IX_ITID, m->tid, 12)) != NULL &&
	    l->state != BL_INSTRUCTING)
		l = NULL;
	if (l == NULL || stun_check_integrity_sha256(m, l->b.key,
	    sizeof l->b.key) != 0) {
		/* Late (answered already), or not B's. */
		br->c.bad_answers++;
		broker_unlock(br);
		return -1;
	}
	if (m->cls == STUN_SUCCESS && tc_get_endpoint(m, &bep) == 0) {
		br->c.acks++;
		broker_answer_a(br, l, 0, NULL, &bep, &ob);
	} else {
		if ((ea = stun_find(m, STUN_ATTR_ERROR_CODE)) != NULL)
			stun_attr_error_code(ea, &code, &reason, &rlen);
		snprintf(why, sizeof why, "peer: %.*s", (int)rlen, reason);
		br->c.peer_refused++;
		broker_answer_a(br, l, code == 403 ? 403 : 480, why, NULL,
		    &ob);
		broker_count_step(br, l, LINK_STEP_PEER);
	}
	broker_unlock(br);
	broker_flush(br, &ob);
	return 0;
}

/* Under the lock: a punch between two nodes behind one address failed. */
static void
broker_same_fail(struct broker *br, const struct blink *l)
{
	unsigned i = br->same_next++ % BROKER_SAME_FAILED;

	br->same_failed[i].a = l->a.node_id;
	br->same_failed[i].b = l->b.node_id;
	br->same_failed[i].ms = clock_ms();
}

int
broker_report(struct broker *br, uint64_t session, uint64_t link,
    const struct tc_outcome *o, uint64_t *acceptor)
{
	return broker_report_seen(br, session, link, o, NULL, acceptor);
}

int
broker_report_seen(struct broker *br, uint64_t session, uint64_t link,
    const struct tc_outcome *o, const struct tc_link_seen *seen,
    uint64_t *acceptor)
{
	struct blink *l;
	struct broker_end *e;
	enum outcome out;

	broker_lock(br);
	l = bl_find(br, IX_ID, (const uint8_t *)&link, 8);
	if (l == NULL || (l->a.session != session && l->b.session != session)) {
		broker_unlock(br);
		return -1;
	}
	br->c.reports++;
	e = &l->end[l->a.session == session ? 0 : 1];
	if (!e->have && l->state != BL_INSTRUCTING) {
		e->have = 1;
		e->o = *o;
		if ((e->have_seen = seen != NULL))
			e->seen = *seen;
		broker_class_wait(br, l, clock_ms());
	}
	*acceptor = l->a.session == session ? l->b.session : 0;
	if (l->b.session == session) {
		/* Counted if A never reports. */
		l->report_b = *o;
		l->have_report_b = 1;
	} else if (l->state == BL_ANSWERED) {
		if (o->ok)
			out = broker_up_outcome(o->path);
		else
			out = (enum outcome)(OUT_FAIL + (o->step >= 1 &&
			    o->step < LINK_STEP_COUNT ? o->step :
			    LINK_STEP_PUNCH) - 1);
		broker_count(br, l, out, o->ms);
		if (!o->ok && o->step == LINK_STEP_PUNCH &&
		    (l->same_ip || l->birthday) && !l->relayed)
			broker_same_fail(br, l);
		if (l->birthday && o->ok)
			br->c.birthday_up++;
		else if (l->birthday && o->step == LINK_STEP_PUNCH)
			br->c.birthday_failed++;
	}
	broker_unlock(br);
	return 0;
}

/*
 * Under the lock: the pending links that are due, from slot i (0: the
 * list's head), until ob is full. Returns where to go on (0: the end).
 */
static uint32_t
broker_tick_pending(struct broker *br, uint32_t i, uint64_t now,
    struct broker_outbox *ob, struct broker_silent *sl)
{
	struct blink *l;
	uint32_t next;

	for (i = i != 0 ? i : br->pending.head; i != 0; i = next) {
		if (ob->n == ob->max)
			return i;
		l = &br->links[i - 1];
		next = l->next;		/* the answer moves l to done */
		if (!l->silent_told && now - l->t0 >= BROKER_SILENT_MS &&
		    sl->n < BROKER_SILENT_BATCH) {
			l->silent_told = 1;
			sl->id[sl->n++] = l->b.node_id;
		}
		if (now < l->next_ms)
			continue;
		if (now - l->t0 >= BROKER_GIVE_UP_MS) {
			br->c.peer_silent++;
			broker_answer_a(br, l, 480,
			    "peer: no answer to INSTRUCT", NULL, ob);
			broker_count_step(br, l, LINK_STEP_PEER);
			broker_class_count(br, l, 1);
			continue;
		}
		broker_queue(ob, &l->b.addr, l->instruct, l->instruct_len,
		    &l->local);
		br->c.instructs++;
		l->next_ms = now + (l->sent < 3 ? (uint64_t)BROKER_RTO_MS
		    << l->sent : BROKER_RTO_MAX_MS);
		l->sent++;
	}
	return 0;
}

/* Main thread: INSTRUCT retransmissions and deadlines, BROKER_BATCH
 * datagrams a hold of the lock, sent with it let go; forgetting. */
static void
broker_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct broker *br = arg;
	struct broker_outbox ob = { br->batch, 0, BROKER_BATCH };
	struct broker_silent sl = { .n = 0 };
	uint64_t now = clock_ms(), at_id = 0;
	struct blink *l;
	uint32_t at = 0;
	unsigned i;

	(void)fd;
	(void)what;
	for (;;) {
		broker_lock(br);
		/* Go on where the last batch stopped, if that link is
		 * still pending (the list keeps its order); else from the
		 * head: the links sent to since are not due. */
		if (at != 0 && (br->links[at - 1].state != BL_INSTRUCTING ||
		    br->links[at - 1].id != at_id))
			at = 0;
		if ((at = broker_tick_pending(br, at, now, &ob, &sl)) == 0)
			break;
		at_id = br->links[at - 1].id;
		broker_unlock(br);
		broker_flush(br, &ob);
	}
	broker_class_due(br, now);
	/* Answered longest ago first: kept BROKER_KEEP_MS, then forgotten,
	 * counted on B's word if A never reported. */
	while (br->done.head != 0) {
		l = &br->links[br->done.head - 1];
		if (now - l->done_ms < BROKER_KEEP_MS)
			break;
		if (l->state == BL_ANSWERED)
			broker_count_unreported(br, l);
		bl_release(br, l);
	}
	broker_unlock(br);
	broker_flush(br, &ob);
	for (i = 0; i < sl.n && br->on_silent != NULL; i++)
		br->on_silent(br->silent_ctx, sl.id[i]);
	if (br->relay != NULL)
		relay_expire(br->relay, now);
}

struct broker *
broker_create(struct event_base *base, const struct broker_config *cfg,
    broker_send_fn send, void *ctx, char *err, size_t errlen)
{
	struct timeval tv = { 0, BROKER_TICK_MS * 1000 };
	pthread_mutexattr_t ma;
	struct broker *br;
	int ix;

	if ((br = calloc(1, sizeof *br)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&br->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	br->base = base;
	br->cfg = *cfg;
	br->send = send;
	br->ctx = ctx;
	if (br->cfg.max_links == 0)
		br->cfg.max_links = BROKER_MAX_LINKS;
	if (br->cfg.relay_idle_s == 0)
		br->cfg.relay_idle_s = 30;
	if (!br->cfg.has_relay)
		br->cfg.relay_max = 0;
	br->links = calloc(br->cfg.max_links, sizeof *br->links);
	for (br->hmask = 1; br->hmask < br->cfg.max_links; br->hmask <<= 1)
		;
	for (ix = 0; ix < IX_COUNT; ix++)
		br->heads[ix] = calloc(br->hmask, sizeof *br->heads[ix]);
	br->hmask--;
	crypto_shorthash_keygen(br->hkey);
	br->tick = event_new(base, -1, EV_PERSIST, broker_tick_cb, br);
	if (br->links == NULL || br->heads[IX_ID] == NULL ||
	    br->heads[IX_ITID] == NULL || br->heads[IX_ATID] == NULL ||
	    br->tick == NULL ||
	    event_add(br->tick, &tv) != 0) {
		snprintf(err, errlen, "out of memory");
		broker_free(br);
		return NULL;
	}
	if (br->cfg.has_relay && (br->relay = relay_create(base,
	    &br->cfg.relay, br->cfg.relay_max, br->cfg.relay_idle_s, err,
	    errlen)) == NULL) {
		broker_free(br);
		return NULL;
	}
	return br;
}

void
broker_on_silent(struct broker *br, broker_silent_fn fn, void *ctx)
{
	broker_lock(br);
	br->on_silent = fn;
	br->silent_ctx = ctx;
	broker_unlock(br);
}

void
broker_free(struct broker *br)
{
	int ix;

	if (br == NULL)
		return;
	if (br->tick != NULL)
		event_free(br->tick);
	relay_free(br->relay);
	if (br->links != NULL)
		sodium_memzero(br->links, br->used * sizeof *br->links);
	free(br->links);
	for (ix = 0; ix < IX_COUNT; ix++)
		free(br->heads[ix]);
	pthread_mutex_destroy(&br->lock);
	free(br);
}
