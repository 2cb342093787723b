/*
 * libFuzzer target for the negotiator's request dispatch: a fake worker
 * driving the real handler (negotiator/server-test.h). A server where
 * three nodes registered (an origin and two peers of channel "fuzz")
 * takes each input: a script of datagrams from a few addresses, each
 * answered by the real handlers with the state the ones before left:
 * registrations, sessions, the tree, the broker's links. So that the
 * authenticated methods are reached, a datagram may be signed again under
 * a registered node's session key first. The broker's datagrams (INSTRUCT,
 * LINK's answers) go to a callback that checks and discards them.
 *
 * A server lasts FUZZ_RENEW inputs (the environment's, else 1000), then a
 * fresh one takes over: a state that far back is not in one input, so a
 * finding replays alone with FUZZ_RENEW=1 (a fresh server every input) or
 * not at all. A harness node that lost its session (an input registered
 * its id again, or made it leave) registers again before the next input.
 *
 * Promises checked on every answer: it parses, answers the request's
 * method and transaction, its FINGERPRINT and MESSAGE-INTEGRITY-SHA256
 * hold, and an answer to a request not authenticated is never over twice
 * its size. After each input every channel's tree passes tree_check. Any
 * broken promise aborts.
 *
 * The script, one record after another until the input ends: a control
 * byte, a big-endian u16 length (cut to what is left), the datagram.
 *   ctl & 3:         from: the origin's, peer A's, peer B's address, or a
 *                    stranger's (IPv6)
 *   (ctl >> 2) & 3:  0 as it is; 1..3 parsed and built again as the
 *                    origin, A or B: its attributes but SESSION, SEQ, the
 *                    integrity ones and FINGERPRINT, then that node's
 *                    SESSION, the next SEQ, MESSAGE-INTEGRITY-SHA256
 *                    under its key, and FINGERPRINT
 *   ctl & 0x10:      (signed) keep the datagram's own SEQ instead
 *   ctl & 0x20:      (signed) as an answer to the broker's last INSTRUCT
 *                    (its method and transaction; an error if the
 *                    datagram is one, else a success)
 *   ctl & 0x40:      (signed) no FINGERPRINT
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <sodium.h>

#include "net/client/ctl.h"
#include "negotiator/forest.h"
#include "negotiator/registry.h"
#include "negotiator/server-test.h"
#include "tree/tree.h"
#include "net/util/addr.h"
#include "net/util/log.h"
#include "net/wire/key.h"
#include "net/wire/nat.h"
#include "net/wire/proto.h"
#include "net/wire/stun.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_NODES	3		/* the origin, peers A and B */
#define FUZZ_MAX_NODES	64
#define FUZZ_MAX_LINKS	16
#define FUZZ_NODE_ID	0x7e57000000000000ULL	/* + 1..FUZZ_NODES */

/* A harness node's credential, and its next SEQ. */
struct fuzz_session {
	int		valid;
	uint64_t	session;
	uint8_t		key[TC_KEY_LEN];
	uint32_t	seq;
};

static struct event_base	*fuzz_base;
static struct sockaddr_storage	 fuzz_from[4];
static struct server		*fuzz_server;
static unsigned			 fuzz_renew = 1000, fuzz_inputs;
static uint64_t			 fuzz_sent;	/* datagrams to this server */
static struct fuzz_session	 fuzz_nodes[FUZZ_NODES];
static int			 fuzz_registering = -1;	/* whose REGISTER */
/* The broker's last INSTRUCT. */
static int			 fuzz_has_instruct;
static uint8_t			 fuzz_instruct_tid[12];

/* The channel's key: fixed, so that runs replay. */
static struct key_pair fuzz_key;
static char fuzz_channel[KEY_HEX_LEN + 1];

static void
fuzz_addr(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct addr a;
	char err[128];

	fuzz_assert(addr_parse(ip, port, 0, &a, err, sizeof err) == 0);
	memcpy(ss, &a.ss, sizeof *ss);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t seed[KEY_SEED_LEN];

	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	log_init("fuzz-negotiator", LOG_ERROR);
	if (getenv("FUZZ_RENEW") != NULL &&
	    (fuzz_renew = (unsigned)atoi(getenv("FUZZ_RENEW"))) == 0)
		fuzz_renew = 1;
	if ((fuzz_base = event_base_new()) == NULL)
		abort();
	memset(seed, 0x5a, sizeof seed);
	crypto_sign_seed_keypair(fuzz_key.pk, fuzz_key.sk, seed);
	key_hex(fuzz_key.pk, fuzz_channel);
	fuzz_addr(&fuzz_from[0], "198.51.100.1", 4000);
	fuzz_addr(&fuzz_from[1], "198.51.100.2", 4000);
	fuzz_addr(&fuzz_from[2], "203.0.113.3", 61000);
	fuzz_addr(&fuzz_from[3], "2001:db8::9", 5000);
	return 0;
}

/* The harness node under whose credential req verifies, NULL if none. */
static const struct fuzz_session *
fuzz_authenticated(const struct stun_msg *req)
{
	const struct stun_attr *a = stun_find(req, TC_ATTR_SESSION);
	uint64_t session;
	int i;

	if (a == NULL || stun_attr_u64(a, &session) != 0)
		return NULL;
	for (i = 0; i < FUZZ_NODES; i++)
		if (fuzz_nodes[i].valid && fuzz_nodes[i].session == session &&
		    stun_check_integrity_sha256(req, fuzz_nodes[i].key,
		    TC_KEY_LEN) == 0)
			return &fuzz_nodes[i];
	return NULL;
}

/* The broker's way out: checked, the last INSTRUCT kept, discarded. */
static void
fuzz_broker_send(void *ctx, const struct sockaddr *to, const uint8_t *msg,
    size_t len, const struct sockaddr *src)
{
	struct stun_msg m;

	(void)ctx;
	(void)src;
	fuzz_assert(to->sa_family == AF_INET || to->sa_family == AF_INET6);
	fuzz_assert(len <= STUN_MAX_MSG);
	fuzz_assert(stun_parse(msg, len, &m, NULL) == 0);
	fuzz_assert(m.has_fingerprint && stun_check_fingerprint(&m) == 0);
	if (m.method == TC_METHOD_INSTRUCT && m.cls == STUN_REQUEST) {
		memcpy(fuzz_instruct_tid, m.tid, sizeof fuzz_instruct_tid);
		fuzz_has_instruct = 1;
	} else
		fuzz_assert(m.method == TC_METHOD_LINK &&
		    (m.cls == STUN_SUCCESS || m.cls == STUN_ERROR));
}

/*
 * One datagram through the server; the promises on its answer. Returns
 * the answer's length (0: none) with the answer in out.
 */
static size_t
fuzz_send(struct server *s, const uint8_t *in, size_t len, int from,
    uint8_t *out, size_t cap)
{
	const struct fuzz_session *fs = NULL;
	const struct stun_attr *a;
	struct fuzz_session *ns;
	struct stun_msg req, ans;
	size_t n;
	int parsed;

	parsed = stun_parse(in, len, &req, NULL) == 0;
	if (parsed)
		fs = fuzz_authenticated(&req);
	n = server_dispatch(s, in, len, (struct sockaddr *)&fuzz_from[from],
	    out, cap);
	fuzz_sent++;
	if (n == 0)
		return 0;

	/* An answer: to a request, of its method and transaction. */
	fuzz_assert(parsed && req.cls == STUN_REQUEST);
	fuzz_assert(n <= STUN_MAX_MSG);
	fuzz_assert(stun_parse(out, n, &ans, NULL) == 0);
	fuzz_assert(ans.cls == STUN_SUCCESS || ans.cls == STUN_ERROR);
	fuzz_assert(ans.method == req.method);
	fuzz_assert(memcmp(ans.tid, req.tid, sizeof ans.tid) == 0);
	if (ans.has_fingerprint)
		fuzz_assert(stun_check_fingerprint(&ans) == 0);
	/* No amplification for whoever does not hold a session. */
	if (fs == NULL)
		fuzz_assert(n <= 2 * len);
	if (ans.method == TC_METHOD_REGISTER && ans.cls == STUN_SUCCESS) {
		/* A credential, signed under itself; the harness's kept. */
		a = stun_find(&ans, TC_ATTR_SESSION_KEY);
		fuzz_assert(a != NULL && a->len == TC_KEY_LEN);
		fuzz_assert(stun_check_integrity_sha256(&ans, a->value,
		    TC_KEY_LEN) == 0);
		if (fuzz_registering >= 0) {
			ns = &fuzz_nodes[fuzz_registering];
			memcpy(ns->key, a->value, TC_KEY_LEN);
			fuzz_assert(stun_attr_u64(stun_find(&ans,
			    TC_ATTR_SESSION), &ns->session) == 0);
			ns->valid = 1;
			ns->seq = 1;
		}
	} else if (fs != NULL && stun_find(&ans,
	    STUN_ATTR_MESSAGE_INTEGRITY_SHA256) != NULL)
		/* An answer to a session is signed under its key. */
		fuzz_assert(stun_check_integrity_sha256(&ans, fs->key,
		    TC_KEY_LEN) == 0);
	return n;
}

/* One REGISTER of the harness's node i, into req; with a challenge, the
 * origin's proof of the channel's key. Returns its length. */
static int
fuzz_register_msg(int i, const uint8_t *challenge, uint8_t *req, size_t cap)
{
	static const struct nat_profile prof[FUZZ_NODES] = {
		{ NAT_MAPPING_EIM, NAT_ALLOC_PRESERVED, NAT_FILTER_EIF,
		    0, 0, 0 },
		{ NAT_MAPPING_EIM, NAT_ALLOC_PRESERVED, NAT_FILTER_APDF,
		    0, 0, 0 },
		{ NAT_MAPPING_APDM, NAT_ALLOC_SEQUENTIAL, NAT_FILTER_APDF,
		    0, 0, 1 },
	};
	struct stun_builder b;
	struct sockaddr_in internal;
	uint8_t tid[12], wire[NAT_PROFILE_WIRE_LEN];
	uint8_t proof[TC_PROOF_MAX], sig[KEY_SIG_LEN];
	uint64_t node_id = FUZZ_NODE_ID + (uint64_t)i + 1;
	size_t plen;
	int len;

	memset(tid, 0x70 + i + (challenge != NULL ? 8 : 0), sizeof tid);
	stun_build_init(&b, req, cap, TC_METHOD_REGISTER, STUN_REQUEST, tid);
	stun_put_u64(&b, TC_ATTR_NODE_ID, node_id);
	/* The origin names its channel by the key, peers by its label. */
	if (i == 0)
		stun_put(&b, TC_ATTR_CHANNEL, fuzz_channel, KEY_HEX_LEN);
	else
		stun_put(&b, TC_ATTR_CHANNEL, "fuzz", 4);
	stun_put_u32(&b, TC_ATTR_ROLE, i == 0 ? TC_ROLE_ORIGIN :
	    TC_ROLE_PEER);
	memset(&internal, 0, sizeof internal);
	internal.sin_family = AF_INET;
	internal.sin_addr.s_addr = htonl(0x0a000001 + (uint32_t)i);
	internal.sin_port = htons(4000);
	stun_put_xor_address(&b, TC_ATTR_XOR_INTERNAL,
	    (struct sockaddr *)&internal);
	nat_profile_encode(&prof[i], wire);
	stun_put(&b, TC_ATTR_NAT_PROFILE, wire, sizeof wire);
	if (i == 0)
		stun_put(&b, TC_ATTR_LABEL, "fuzz", 4);
	if (challenge != NULL) {
		plen = tc_origin_proof(proof, challenge, node_id, fuzz_key.pk,
		    "fuzz", 4);
		crypto_sign_detached(sig, NULL, proof, plen, fuzz_key.sk);
		stun_put(&b, TC_ATTR_CHALLENGE, challenge, TC_CHALLENGE_LEN);
		stun_put(&b, TC_ATTR_SIGNATURE, sig, sizeof sig);
	}
	ctl_put_padding(&b, TC_REGISTER_MIN);
	stun_put_fingerprint(&b);
	fuzz_assert((len = stun_build_finish(&b)) > 0);
	return len;
}

/* Registers the harness's node i (the origin answers its challenge): 0, or
 * -1 if the server refused. */
static int
fuzz_register(struct server *s, int i)
{
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG];
	uint8_t challenge[TC_CHALLENGE_LEN];
	const struct stun_attr *a;
	struct stun_msg m;
	int len, n;

	fuzz_nodes[i].valid = 0;
	fuzz_registering = i;
	len = fuzz_register_msg(i, NULL, req, sizeof req);
	fuzz_assert((n = fuzz_send(s, req, (size_t)len, i, ans,
	    sizeof ans)) > 0);
	if (i == 0 && !fuzz_nodes[i].valid &&
	    stun_parse(ans, (size_t)n, &m, NULL) == 0 &&
	    (a = stun_find(&m, TC_ATTR_CHALLENGE)) != NULL &&
	    a->len == TC_CHALLENGE_LEN) {
		memcpy(challenge, a->value, sizeof challenge);
		len = fuzz_register_msg(i, challenge, req, sizeof req);
		fuzz_assert(fuzz_send(s, req, (size_t)len, i, ans,
		    sizeof ans) > 0);
	}
	fuzz_registering = -1;
	return fuzz_nodes[i].valid ? 0 : -1;
}

/*
 * The datagram built again as harness node who (see the top): 0 with the
 * new one in out and *outlen, -1 if it does not parse or fit.
 */
static int
fuzz_resign(const uint8_t *in, size_t len, int who, uint8_t ctl,
    uint8_t *out, size_t cap, size_t *outlen)
{
	struct fuzz_session *fs;
	const struct stun_attr *a;
	struct stun_builder b;
	struct stun_msg m;
	enum stun_class cls;
	uint16_t method;
	uint32_t seq;
	const uint8_t *tid;
	size_t i;
	int n;

	fs = &fuzz_nodes[who];
	if (!fs->valid || stun_parse(in, len, &m, NULL) != 0)
		return -1;
	method = m.method;
	cls = m.cls;
	tid = m.tid;
	if ((ctl & 0x20) && fuzz_has_instruct) {
		method = TC_METHOD_INSTRUCT;
		cls = m.cls == STUN_ERROR ? STUN_ERROR : STUN_SUCCESS;
		tid = fuzz_instruct_tid;
	}
	seq = fuzz_nodes[who].seq++;
	if ((ctl & 0x10) && (a = stun_find(&m, TC_ATTR_SEQ)) != NULL)
		(void)stun_attr_u32(a, &seq);
	stun_build_init(&b, out, cap, method, cls, tid);
	for (i = 0; i < m.nattrs; i++) {
		a = &m.attrs[i];
		if (a->type == TC_ATTR_SESSION || a->type == TC_ATTR_SEQ ||
		    a->type == STUN_ATTR_MESSAGE_INTEGRITY ||
		    a->type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256 ||
		    a->type == STUN_ATTR_FINGERPRINT)
			continue;
		stun_put(&b, a->type, a->value, a->len);
	}
	stun_put_u64(&b, TC_ATTR_SESSION, fs->session);
	stun_put_u32(&b, TC_ATTR_SEQ, seq);
	stun_put_integrity_sha256(&b, fs->key, TC_KEY_LEN);
	if (!(ctl & 0x40))
		stun_put_fingerprint(&b);
	if ((n = stun_build_finish(&b)) < 0)
		return -1;
	*outlen = (size_t)n;
	return 0;
}

/* Every channel's tree keeps its invariants. */
static void
fuzz_check_trees(struct server *s)
{
	const struct forest *f;
	const struct tree *t;
	char err[256];
	int i, ch;

	server_lock_registry(s);
	f = server_forest_locked(s);
	for (i = 0; i < FOREST_TREES_MAX; i++) {
		if ((ch = forest_channel_at(f, i)) < 0 ||
		    (t = forest_tree(f, ch)) == NULL)
			continue;
		fuzz_assert(tree_check(t, err, sizeof err) == 0);
	}
	server_unlock_registry(s);
}

/* A harness node's session is still the server's. */
static int
fuzz_still_registered(struct server *s, const struct fuzz_session *fs)
{
	int live;

	live = registry_session(server_lock_registry(s), fs->session) !=
	    REG_NONE;
	server_unlock_registry(s);
	return live;
}

/* A fresh server with the harness's nodes registered. */
static void
fuzz_new_server(void)
{
	struct server_config cfg;
	char err[256];
	int i;

	server_free(fuzz_server);
	memset(&cfg, 0, sizeof cfg);
	if (addr_parse("192.0.2.1:3478", 3478, 0, &cfg.listen, err,
	    sizeof err) != 0 || addr_parse("192.0.2.2:3478", 3478, 0,
	    &cfg.alt_address, err, sizeof err) != 0)
		abort();
	cfg.alt_port = 3479;
	cfg.has_alt_address = 1;
	cfg.max_nodes = FUZZ_MAX_NODES;
	cfg.interval_ms = TC_KEEPALIVE_MS;
	cfg.expire_s = 30;
	cfg.threads = 1;
	if ((fuzz_server = server_create_detached(fuzz_base, &cfg,
	    FUZZ_MAX_LINKS, fuzz_broker_send, NULL, err, sizeof err)) == NULL)
		abort();
	fuzz_inputs = 0;
	fuzz_sent = 0;
	fuzz_has_instruct = 0;
	for (i = 0; i < FUZZ_NODES; i++)
		fuzz_assert(fuzz_register(fuzz_server, i) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t msg[STUN_MAX_MSG + 8], out[STUN_MAX_MSG];
	struct server_stats st;
	struct server *s;
	size_t off = 0, len, mlen;
	uint8_t ctl;
	int i, who;

	if (fuzz_server == NULL || ++fuzz_inputs >= fuzz_renew)
		fuzz_new_server();
	for (i = 0; i < FUZZ_NODES; i++)
		if (!fuzz_nodes[i].valid ||
		    !fuzz_still_registered(fuzz_server, &fuzz_nodes[i]))
			if (fuzz_register(fuzz_server, i) != 0) {
				fuzz_new_server();	/* full: start again */
				break;
			}
	s = fuzz_server;

	while (off + 3 <= size) {
		ctl = data[off];
		len = (size_t)data[off + 1] << 8 | data[off + 2];
		off += 3;
		if (len > size - off)
			len = size - off;
		who = (ctl >> 2) & 3;
		if (who == 0 || fuzz_resign(data + off, len, who - 1, ctl, msg,
		    sizeof msg, &mlen) != 0) {
			memcpy(msg, data + off, len < sizeof msg ? len :
			    sizeof msg);
			mlen = len < sizeof msg ? len : sizeof msg;
		}
		fuzz_send(s, msg, mlen, ctl & 3, out, sizeof out);
		off += len;
	}
	fuzz_check_trees(s);
	server_stats(s, &st);
	fuzz_assert(st.rx_datagrams == fuzz_sent);
	return 0;
}
