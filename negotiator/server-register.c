/* REGISTER (DESIGN.md, flow 1): a node's attributes checked, an origin's
 * proof of its channel's key (a challenge, then a signature over it), the
 * channel bound, and the session made or taken again. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "negotiator/channel.h"
#include "negotiator/forest.h"
#include "negotiator/registry.h"
#include "negotiator/server-int.h"
#include "net/util/addr.h"
#include "net/util/log.h"
#include "net/wire/key.h"
#include "net/wire/nat.h"
#include "net/wire/proto.h"
#include "net/wire/stun.h"

/* What a REGISTER says, checked. */
struct server_reg {
	uint64_t		 node_id;
	uint32_t		 role;
	uint32_t		 fanout;
	const char		*chan;
	size_t			 chan_len;
	const char		*label;		/* an origin's; NULL: none */
	size_t			 label_len;
	int			 keyed;		/* chan is a key in hex */
	uint8_t			 key[KEY_PUBLIC_LEN];
	struct nat_profile	 profile;
	struct sockaddr_storage	 internal;
	struct sockaddr_storage	 addr6;		/* family 0: none */
	int			 proven;	/* an origin that signed */
	int			 has_old;	/* names its old session */
	uint64_t		 old_session;
};

/* Reads and checks a REGISTER's attributes: 0, or -1 having answered 400
 * with the reason. */
static int
server_register_parse(struct worker *w, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, struct server_reg *r)
{
	const struct stun_attr *chan, *prof, *intl, *label, *a6;
	const char *why = NULL;		/* NULL: plainly malformed */

	memset(r, 0, sizeof *r);
	r->fanout = TC_FANOUT_DEFAULT;
	chan = stun_find(req, TC_ATTR_CHANNEL);
	prof = stun_find(req, TC_ATTR_NAT_PROFILE);
	intl = stun_find(req, TC_ATTR_XOR_INTERNAL);
	label = stun_find(req, TC_ATTR_LABEL);
	if (stun_find(req, TC_ATTR_FANOUT) != NULL &&
	    (server_get_u32(req, TC_ATTR_FANOUT, &r->fanout) != 0 ||
	    r->fanout > TC_FANOUT_MAX)) {
		why = "bad fanout";
		goto bad;
	}
	if (server_get_u64(req, TC_ATTR_NODE_ID, &r->node_id) != 0 ||
	    server_get_u32(req, TC_ATTR_ROLE, &r->role) != 0 ||
	    r->role == 0 || r->role >= TC_ROLE_COUNT || chan == NULL ||
	    prof == NULL ||
	    nat_profile_decode(prof->value, prof->len, &r->profile) != 0 ||
	    intl == NULL ||
	    stun_attr_xor_address(req, intl, &r->internal, NULL) != 0)
		goto bad;
	r->chan = (const char *)chan->value;
	r->chan_len = chan->len;
	if ((r->keyed = tc_is_key_name(r->chan, r->chan_len)))
		key_parse_hex(r->chan, r->chan_len, r->key);
	if (r->role == TC_ROLE_ORIGIN && !r->keyed) {
		why = "an origin's channel is its key in hex";
		goto bad;
	}
	/* A peer's name that is not a key is a label; probes' and the
	 * verifier's plain names are checked as they are interned. */
	if (r->role == TC_ROLE_PEER && !r->keyed &&
	    !channels_label_valid(r->chan, r->chan_len)) {
		why = "bad channel name";
		goto bad;
	}
	if (r->role == TC_ROLE_ORIGIN && label != NULL) {
		if (!channels_label_valid((const char *)label->value,
		    label->len)) {
			why = "bad label";
			goto bad;
		}
		r->label = (const char *)label->value;
		r->label_len = label->len;
	}
	/* Optional: a dual-stack node's IPv6 address. */
	if ((a6 = stun_find(req, TC_ATTR_XOR_ADDRESS6)) != NULL &&
	    (stun_attr_xor_address(req, a6, &r->addr6, NULL) != 0 ||
	    !tc_is_ipv6((struct sockaddr *)&r->addr6))) {
		why = "bad IPv6 address";
		goto bad;
	}
	r->has_old = server_get_u64(req, TC_ATTR_SESSION, &r->old_session) ==
	    0 && stun_find(req, STUN_ATTR_MESSAGE_INTEGRITY_SHA256) != NULL;
	return 0;

bad:
	STAT_INC(w, err_bad_request);
	server_error(w, m, req, reqlen, 400, why, NULL, 0);
	return -1;
}

/* A challenge's MAC: where the request came from, the node, the channel's
 * key and the expiry, under the server's own secret. */
static void
server_challenge_mac(const struct server *s, const uint8_t expiry[4],
    const struct sockaddr *from, const struct server_reg *r,
    uint8_t mac[TC_CHALLENGE_LEN - 4])
{
	crypto_generichash_state st;
	uint8_t ip[16], v[10];
	uint16_t port;
	int i;

	reg_addr_store(from, ip, &port);
	v[0] = (uint8_t)(port >> 8);
	v[1] = (uint8_t)port;
	for (i = 0; i < 8; i++)
		v[2 + i] = (uint8_t)(r->node_id >> (56 - 8 * i));
	crypto_generichash_init(&st, s->challenge_key,
	    sizeof s->challenge_key, TC_CHALLENGE_LEN - 4);
	crypto_generichash_update(&st, expiry, 4);
	crypto_generichash_update(&st, ip, sizeof ip);
	crypto_generichash_update(&st, v, sizeof v);
	crypto_generichash_update(&st, r->key, sizeof r->key);
	crypto_generichash_final(&st, mac, TC_CHALLENGE_LEN - 4);
}

/* 0 when c is a challenge this server gave the same source, node and key
 * less than SERVER_CHALLENGE_S ago. */
static int
server_challenge_check(const struct server *s, const struct sockaddr *from,
    const struct server_reg *r, const struct stun_attr *c)
{
	uint8_t mac[TC_CHALLENGE_LEN - 4];
	uint32_t expiry, now = server_clock(s);

	if (c == NULL || c->len != TC_CHALLENGE_LEN)
		return -1;
	expiry = (uint32_t)c->value[0] << 24 | (uint32_t)c->value[1] << 16 |
	    (uint32_t)c->value[2] << 8 | c->value[3];
	if (expiry < now || expiry > now + SERVER_CHALLENGE_S)
		return -1;
	server_challenge_mac(s, c->value, from, r, mac);
	return sodium_memcmp(mac, c->value + 4, sizeof mac) == 0 ? 0 : -1;
}

/*
 * An origin proves its channel's key: with no challenge, or a stale one,
 * it gets a 401 carrying a fresh one (no larger than the request: there
 * is nothing per challenge to keep); with one, its SIGNATURE over
 * tc_origin_proof() must verify under the key. 0 when proven, else -1
 * having answered.
 */
static int
server_register_proof(struct worker *w, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, struct server_reg *r)
{
	struct server *s = w->srv;
	const struct stun_attr *sig;
	struct stun_builder b;
	uint8_t msg[TC_PROOF_MAX], chal[TC_CHALLENGE_LEN];
	uint32_t expiry;
	size_t len;

	if (server_challenge_check(s, (struct sockaddr *)&m->from, r,
	    stun_find(req, TC_ATTR_CHALLENGE)) != 0) {
		expiry = server_clock(s) + SERVER_CHALLENGE_S;
		chal[0] = (uint8_t)(expiry >> 24);
		chal[1] = (uint8_t)(expiry >> 16);
		chal[2] = (uint8_t)(expiry >> 8);
		chal[3] = (uint8_t)expiry;
		server_challenge_mac(s, chal, (struct sockaddr *)&m->from, r,
		    chal + 4);
		STAT_INC(w, challenges);
		server_answer(m, &b, req, STUN_ERROR);
		stun_put_error_code(&b, 401, "sign the challenge");
		stun_put(&b, TC_ATTR_CHALLENGE, chal, sizeof chal);
		stun_put_fingerprint(&b);
		server_finish_unauth(w, m, &b, reqlen);
		return -1;
	}
	len = tc_origin_proof(msg, stun_find(req, TC_ATTR_CHALLENGE)->value,
	    r->node_id, r->key, r->label, r->label_len);
	if ((sig = stun_find(req, TC_ATTR_SIGNATURE)) == NULL ||
	    sig->len != KEY_SIG_LEN ||
	    crypto_sign_verify_detached(sig->value, msg, len, r->key) != 0) {
		STAT_INC(w, drop_bad_signature);
		server_error(w, m, req, reqlen, 403,
		    "bad signature: not the channel's key", NULL, 0);
		return -1;
	}
	r->proven = 1;
	return 0;
}

/* The answer to a registration: the credential, and the channel's key
 * for the node to pin, under the credential. */
static void
server_register_answer(struct worker *w, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, uint64_t session,
    const uint8_t key[TC_KEY_LEN], const uint8_t *chkey)
{
	struct stun_builder b;

	server_answer(m, &b, req, STUN_SUCCESS);
	stun_put_xor_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    (struct sockaddr *)&m->from);
	stun_put_u64(&b, TC_ATTR_SESSION, session);
	stun_put(&b, TC_ATTR_SESSION_KEY, key, TC_KEY_LEN);
	stun_put_u32(&b, TC_ATTR_INTERVAL, w->srv->cfg.interval_ms);
	if (chkey != NULL)
		stun_put(&b, TC_ATTR_CHANNEL_KEY, chkey, KEY_PUBLIC_LEN);
	stun_put_integrity_sha256(&b, key, TC_KEY_LEN);
	stun_put_fingerprint(&b);
	server_finish_unauth(w, m, &b, reqlen);
}

/*
 * The channel a REGISTER names, under the lock (held throughout): a peer
 * naming a label is bound to the key that holds it; an origin claiming a
 * label another key holds is refused. The index (interned, not yet
 * referenced), or -1 having counted, with the error's code and reason for
 * the caller to answer once it has let the lock go.
 */
static int
server_register_channel(struct worker *w, const struct server_reg *r,
    int *code, const char **why)
{
	struct channels *c = w->srv->ns.channels;
	int channel, owner;

	if (r->role == TC_ROLE_PEER && !r->keyed) {
		if ((channel = channels_find_label(c, r->chan,
		    r->chan_len)) >= 0)
			return channel;
		STAT_INC(w, err_no_channel);
		*code = 404;
		*why = "no origin holds this label";
		return -1;
	}
	if ((channel = channels_intern(c, r->chan, r->chan_len)) ==
	    CHANNELS_INVALID) {
		STAT_INC(w, err_bad_request);
		*code = 400;
		*why = "bad channel name";
		return -1;
	}
	if (channel < 0) {
		STAT_INC(w, err_full);
		*code = 508;
		*why = "channel table full";
		return -1;
	}
	if (r->label != NULL && (owner = channels_find_label(c, r->label,
	    r->label_len)) >= 0 && owner != channel) {
		channels_drop_unused(c, channel);
		STAT_INC(w, err_label_taken);
		*code = 403;
		*why = "label held by another key";
		return -1;
	}
	return channel;
}

/*
 * Register: unauthenticated; answers with a credential (DESIGN.md, flow
 * 1). A node id still registered is taken again only by a request that
 * proves the old session (its SESSION and MESSAGE-INTEGRITY-SHA256 under
 * its key) or, for an origin of the same channel, the channel's key;
 * else it is refused and counted (drop_hijack): node ids are public. A
 * retransmission of the request that made the session (same transaction,
 * same source, nothing authenticated since) gets the same answer again.
 */
void
server_register(struct worker *w, struct srv_sock *ss, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, const struct srv_auth *au)
{
	struct server *s = w->srv;
	struct server_reg r;
	struct reg_node *n;
	uint8_t key[TC_KEY_LEN], chkey[KEY_PUBLIC_LEN], ip[16];
	uint64_t session = 0, osession = 0;
	uint32_t slot, oslot;
	uint16_t port;
	int channel, known, no_tree = 0, resent = 0, proved = 0, keyed;
	int labelled = 0, code;
	const char *why;
	char ext[ADDR_STRLEN], in[ADDR_STRLEN], chname[TC_CHANNEL_MAX + 1];

	(void)ss;
	(void)au;
	if (reqlen < TC_REGISTER_MIN) {
		STAT_INC(w, drop_unpadded);
		return;
	}
	if (server_register_parse(w, m, req, reqlen, &r) != 0)
		return;
	if (r.role == TC_ROLE_ORIGIN &&
	    server_register_proof(w, m, req, reqlen, &r) != 0)
		return;

	/* The old credential is checked outside the lock, as
	 * server_authenticate does, and the record looked up again. */
	reg_addr_store((struct sockaddr *)&m->from, ip, &port);
	pthread_mutex_lock(&s->ns.lock);
	if ((oslot = registry_find(s->ns.reg, r.node_id)) != REG_NONE) {
		n = registry_node(s->ns.reg, oslot);
		osession = (uint64_t)n->gen << 32 | oslot;
		memcpy(key, n->key, sizeof key);
		resent = n->last_seq == 0 && n->ext_port == port &&
		    memcmp(n->ext_ip, ip, sizeof ip) == 0 &&
		    memcmp(n->reg_tid, req->tid, sizeof n->reg_tid) == 0;
	}
	pthread_mutex_unlock(&s->ns.lock);
	if (oslot != REG_NONE && !resent && r.has_old &&
	    r.old_session == osession)
		proved = stun_check_integrity_sha256(req, key, sizeof key) == 0;
	pthread_mutex_lock(&s->ns.lock);
	slot = registry_find(s->ns.reg, r.node_id);
	if (slot != oslot || (slot != REG_NONE &&
	    registry_session(s->ns.reg, osession) != slot)) {
		/* Left or registered again meanwhile: it will resend. */
		pthread_mutex_unlock(&s->ns.lock);
		STAT_INC(w, drop_unknown_session);
		goto out;
	}
	if (resent) {
		n = registry_node(s->ns.reg, slot);
		channel = n->channel;
		if ((keyed = channels_key(s->ns.channels, channel) != NULL))
			memcpy(chkey, channels_key(s->ns.channels, channel),
			    sizeof chkey);
		pthread_mutex_unlock(&s->ns.lock);
		STAT_INC(w, retransmits);
		server_register_answer(w, m, req, reqlen, osession, key,
		    keyed ? chkey : NULL);
		goto out;
	}
	if ((channel = server_register_channel(w, &r, &code, &why)) < 0) {
		pthread_mutex_unlock(&s->ns.lock);
		server_error(w, m, req, reqlen, code, why, NULL, 0);
		goto out;
	}
	known = slot != REG_NONE;
	if (known && !proved && !(r.proven &&
	    registry_node(s->ns.reg, slot)->role == TC_ROLE_ORIGIN &&
	    registry_node(s->ns.reg, slot)->channel == channel)) {
		channels_drop_unused(s->ns.channels, channel);
		pthread_mutex_unlock(&s->ns.lock);
		STAT_INC(w, drop_hijack);
		log_info("REGISTER for node %016llx from %s refused: the id "
		    "is registered, and the request proves neither its "
		    "session nor its channel's key",
		    (unsigned long long)r.node_id, addr_format(
		    (struct sockaddr *)&m->from, ext, sizeof ext));
		server_error(w, m, req, reqlen, 403, "node id in use", NULL,
		    0);
		goto out;
	}
	slot = registry_register(s->ns.reg, r.node_id, server_clock(s),
	    &session);
	if (slot == REG_NONE) {
		channels_drop_unused(s->ns.channels, channel);
		pthread_mutex_unlock(&s->ns.lock);
		STAT_INC(w, err_full);
		server_error(w, m, req, reqlen, 508, "registry full", NULL, 0);
		goto out;
	}
	n = registry_node(s->ns.reg, slot);
	/* A node registered again is out of its tree (it joins again),
	 * except an origin on its own channel: it keeps its tree. */
	if (known && !(r.role == TC_ROLE_ORIGIN &&
	    n->role == TC_ROLE_ORIGIN && n->channel == channel))
		server_state_untree(&s->ns, slot);
	s->ns.fanout[slot] = (uint8_t)r.fanout;
	reg_addr_store((struct sockaddr *)&m->from, n->ext_ip, &n->ext_port);
	reg_addr_store((struct sockaddr *)&r.internal, n->int_ip,
	    &n->int_port);
	nat_profile_encode(&r.profile, n->profile);
	server_state_set_addr6(&s->ns, slot, r.addr6.ss_family == AF_INET6 ?
	    (struct sockaddr *)&r.addr6 : NULL);
	memcpy(n->reg_tid, req->tid, sizeof n->reg_tid);
	/* Taken before the old one is let go: a lone node registering
	 * again on its own channel must not free its name. */
	channels_ref(s->ns.channels, channel);
	if (known)
		channels_unref(s->ns.channels, n->channel);
	n->channel = (uint16_t)channel;
	n->role = (uint8_t)r.role;
	if (r.label != NULL)
		labelled = channels_set_label(s->ns.channels, channel, r.label,
		    r.label_len) == 0;
	if (r.role == TC_ROLE_ORIGIN &&
	    forest_origin(s->ns.forest, channel, slot, r.fanout) != 0)
		no_tree = 1;
	randombytes_buf(n->key, sizeof n->key);
	memcpy(key, n->key, sizeof key);
	if ((keyed = channels_key(s->ns.channels, channel) != NULL))
		memcpy(chkey, channels_key(s->ns.channels, channel),
		    sizeof chkey);
	snprintf(chname, sizeof chname, "%s", channels_display(s->ns.channels,
	    channel));
	pthread_mutex_unlock(&s->ns.lock);
	if (known)
		STAT_INC(w, reregistered);
	else
		STAT_INC(w, registered);
	if (r.label != NULL && !labelled)
		log_warn("origin %016llx: no room for label '%.*s'",
		    (unsigned long long)r.node_id, (int)r.label_len, r.label);
	if (no_tree)
		log_warn("origin %016llx on channel '%s' gets no tree: %d "
		    "channels have one already (or memory is short); its "
		    "viewers cannot join", (unsigned long long)r.node_id,
		    chname, FOREST_TREES_MAX);
	log_debug("node %016llx %s: %s on channel '%s', external %s, "
	    "internal %s, NAT %s", (unsigned long long)r.node_id,
	    known ? "registered again" : "registered", tc_role_name(r.role),
	    chname,
	    addr_format((struct sockaddr *)&m->from, ext, sizeof ext),
	    addr_format((struct sockaddr *)&r.internal, in, sizeof in),
	    nat_class_name(&r.profile));
	server_register_answer(w, m, req, reqlen, session, key,
	    keyed ? chkey : NULL);
out:
	sodium_memzero(key, sizeof key);
}
