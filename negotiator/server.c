/* The negotiation server's UDP side: sockets, the receive loop and one
 * handler a method. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "negotiator/channel.h"
#include "negotiator/registry.h"
#include "negotiator/server.h"
#include "net/log.h"
#include "net/nat.h"
#include "net/proto.h"

#define SERVER_BATCH	64	/* datagrams per recvmmsg */
#define SERVER_ROUNDS	16	/* batches per wakeup, then let others run */
#define SERVER_TICK_MS	100	/* expiry sweep */

/* Sockets by what they differ in: bit 0 the port, bit 1 the address. */
#define SOCK_ALT_PORT	1
#define SOCK_ALT_ADDR	2
#define SOCK_MAX	4

struct server;

struct srv_sock {
	struct server		*srv;
	int			 index;
	int			 fd;
	struct event		*ev;
	struct addr		 local;		/* as bound */
	int			 wildcard;	/* bound to 0.0.0.0: use pktinfo */
};

/* One received datagram and, once handled, its answer. */
struct srv_msg {
	uint8_t			 in[STUN_MAX_MSG + 4];
	uint8_t			 out[STUN_MAX_MSG];
	struct sockaddr_storage	 from;
	union {
		struct cmsghdr	 align;
		char		 buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
	}			 ctl;
	struct in_pktinfo	 pi;		/* where it arrived */
	int			 has_pi;
	size_t			 outlen;	/* 0: no answer */
	int			 via;		/* socket to answer from */
};

struct server {
	struct event_base	*base;
	struct server_config	 cfg;
	struct srv_sock		 socks[SOCK_MAX];
	struct registry		*reg;
	struct channels		*channels;
	struct event		*tick;
	struct timespec		 start;
	struct server_stats	 st;
	struct server_stats	 st_last;	/* at the last stats line */
	uint32_t		 ticks;

	/* The batch, reused: no allocation per message. */
	struct srv_msg		 msgs[SERVER_BATCH];
	struct mmsghdr		 rx[SERVER_BATCH];
	struct iovec		 rxiov[SERVER_BATCH];
	struct mmsghdr		 tx[SERVER_BATCH];
	struct iovec		 txiov[SERVER_BATCH];
	union {
		struct cmsghdr	 align;
		char		 buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
	}			 txctl[SERVER_BATCH];
};

static uint32_t
server_now(const struct server *s)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)(ts.tv_sec - s->start.tv_sec);
}

/* Starts an answer to req in m->out. */
static void
server_answer(struct srv_msg *m, struct stun_builder *b,
    const struct stun_msg *req, enum stun_class cls)
{
	stun_build_init(b, m->out, sizeof m->out, req->method, cls, req->tid);
}

static void
server_finish(struct server *s, struct srv_msg *m, struct stun_builder *b,
    size_t limit)
{
	int len = stun_build_finish(b);

	if (len < 0)
		return;
	if ((size_t)len > limit) {
		s->st.drop_amplify++;
		return;
	}
	m->outlen = (size_t)len;
}

/* An error answer, sent only where it is no larger than the request. */
static void
server_error(struct server *s, struct srv_msg *m, const struct stun_msg *req,
    size_t reqlen, int code, const char *reason, const uint16_t *unknown,
    size_t nunknown)
{
	struct stun_builder b;
	uint8_t list[2 * 8];
	size_t i;

	server_answer(m, &b, req, STUN_ERROR);
	stun_put_error_code(&b, code, reason);
	if (nunknown > 0) {
		for (i = 0; i < nunknown && i < 8; i++) {
			list[2 * i] = (uint8_t)(unknown[i] >> 8);
			list[2 * i + 1] = (uint8_t)unknown[i];
		}
		stun_put(&b, STUN_ATTR_UNKNOWN_ATTRIBUTES, list,
		    (uint16_t)(2 * i));
	}
	server_finish(s, m, &b, reqlen);
}

/* The address the request came to: the bound one, or pktinfo's. */
static void
server_local(const struct srv_sock *ss, const struct srv_msg *m,
    struct sockaddr_storage *out)
{
	memcpy(out, &ss->local.ss, sizeof *out);
	if (ss->wildcard && m->has_pi && out->ss_family == AF_INET)
		((struct sockaddr_in *)out)->sin_addr = m->pi.ipi_addr;
}

/*
 * Binding (RFC 8489 §7.3, RFC 5780 §6.1): the reflexive address, and with a
 * second address OTHER-ADDRESS and RESPONSE-ORIGIN; CHANGE-REQUEST sends
 * the answer from another address or port. The answer is cut down to the
 * request's size: first RESPONSE-ORIGIN and OTHER-ADDRESS, then
 * FINGERPRINT; a request too small even for XOR-MAPPED-ADDRESS gets none.
 */
static void
server_binding(struct server *s, struct srv_sock *ss, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen)
{
	static const uint16_t change[] = { STUN_ATTR_CHANGE_REQUEST };
	const struct stun_attr *a;
	struct stun_builder b;
	struct sockaddr_storage origin;
	uint32_t flags = 0;
	int via = ss->index, level, len;

	if ((a = stun_find(req, STUN_ATTR_CHANGE_REQUEST)) != NULL) {
		if (stun_attr_u32(a, &flags) != 0) {
			s->st.err_bad_request++;
			server_error(s, m, req, reqlen, 400, NULL, NULL, 0);
			return;
		}
		if (flags & 0x4)	/* change IP */
			via ^= SOCK_ALT_ADDR;
		if (flags & 0x2)	/* change port */
			via ^= SOCK_ALT_PORT;
		/* RFC 5780 §6.1: no such address or port: 420. */
		if (s->socks[via].fd == -1) {
			s->st.err_unknown_attr++;
			server_error(s, m, req, reqlen, 420, NULL, change, 1);
			return;
		}
	}
	server_local(&s->socks[via], m, &origin);
	for (level = 0; level < 3; level++) {
		server_answer(m, &b, req, STUN_SUCCESS);
		stun_put_xor_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
		    (struct sockaddr *)&m->from);
		if (level == 0 && s->cfg.has_alt_address) {
			stun_put_address(&b, STUN_ATTR_OTHER_ADDRESS,
			    (struct sockaddr *)&s->socks[SOCK_ALT_ADDR |
			    SOCK_ALT_PORT].local.ss);
			stun_put_address(&b, STUN_ATTR_RESPONSE_ORIGIN,
			    (struct sockaddr *)&origin);
		}
		if (level < 2 && req->has_fingerprint)
			stun_put_fingerprint(&b);
		if ((len = stun_build_finish(&b)) > 0 && (size_t)len <= reqlen)
			break;
	}
	if (level == 3) {
		s->st.drop_amplify++;
		return;
	}
	m->outlen = (size_t)len;
	m->via = via;
	s->st.binding++;
	if (via != ss->index)
		s->st.binding_change++;
}

static int
server_get_u64(const struct stun_msg *req, uint16_t type, uint64_t *v)
{
	const struct stun_attr *a = stun_find(req, type);

	return a == NULL ? -1 : stun_attr_u64(a, v);
}

static int
server_get_u32(const struct stun_msg *req, uint16_t type, uint32_t *v)
{
	const struct stun_attr *a = stun_find(req, type);

	return a == NULL ? -1 : stun_attr_u32(a, v);
}

/* Register: unauthenticated; answers with a credential (DESIGN.md, flow 1). */
static void
server_register(struct server *s, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen)
{
	const struct stun_attr *chan, *prof, *intl;
	struct sockaddr_storage internal;
	struct nat_profile profile;
	struct stun_builder b;
	struct reg_node *n;
	uint8_t key[TC_KEY_LEN];
	uint64_t node_id, session;
	uint32_t role, slot;
	int channel, known;
	char ext[ADDR_STRLEN], in[ADDR_STRLEN];

	if (reqlen < TC_REGISTER_MIN) {
		s->st.drop_unpadded++;
		return;
	}
	chan = stun_find(req, TC_ATTR_CHANNEL);
	prof = stun_find(req, TC_ATTR_NAT_PROFILE);
	intl = stun_find(req, TC_ATTR_XOR_INTERNAL);
	if (server_get_u64(req, TC_ATTR_NODE_ID, &node_id) != 0 ||
	    server_get_u32(req, TC_ATTR_ROLE, &role) != 0 ||
	    role == 0 || role >= TC_ROLE_COUNT || chan == NULL ||
	    chan->len == 0 || chan->len > TC_CHANNEL_MAX || prof == NULL ||
	    nat_profile_decode(prof->value, prof->len, &profile) != 0 ||
	    intl == NULL ||
	    stun_attr_xor_address(req, intl, &internal, NULL) != 0) {
		s->st.err_bad_request++;
		server_error(s, m, req, reqlen, 400, NULL, NULL, 0);
		return;
	}
	if ((channel = channels_intern(s->channels, (const char *)chan->value,
	    chan->len)) < 0) {
		s->st.err_full++;
		server_error(s, m, req, reqlen, 508, NULL, NULL, 0);
		return;
	}
	known = registry_find(s->reg, node_id) != REG_NONE;
	slot = registry_register(s->reg, node_id, server_now(s), &session);
	if (slot == REG_NONE) {
		s->st.err_full++;
		server_error(s, m, req, reqlen, 508, NULL, NULL, 0);
		return;
	}
	n = registry_node(s->reg, slot);
	reg_addr_store((struct sockaddr *)&m->from, n->ext_ip, &n->ext_port);
	reg_addr_store((struct sockaddr *)&internal, n->int_ip, &n->int_port);
	nat_profile_encode(&profile, n->profile);
	n->channel = (uint16_t)channel;
	n->role = (uint8_t)role;
	if (known)
		s->st.reregistered++;
	else
		s->st.registered++;
	log_info("node %016llx %s: %s on channel '%s', external %s, "
	    "internal %s, NAT %s", (unsigned long long)node_id,
	    known ? "registered again" : "registered", tc_role_name(role),
	    channels_name(s->channels, channel),
	    addr_format((struct sockaddr *)&m->from, ext, sizeof ext),
	    addr_format((struct sockaddr *)&internal, in, sizeof in),
	    nat_class_name(&profile));

	randombytes_buf(n->key, sizeof n->key);
	memcpy(key, n->key, sizeof key);
	server_answer(m, &b, req, STUN_SUCCESS);
	stun_put_xor_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    (struct sockaddr *)&m->from);
	stun_put_u64(&b, TC_ATTR_SESSION, session);
	stun_put(&b, TC_ATTR_SESSION_KEY, key, sizeof key);
	stun_put_u32(&b, TC_ATTR_INTERVAL, s->cfg.interval_ms);
	stun_put_integrity_sha256(&b, key, sizeof key);
	stun_put_fingerprint(&b);
	server_finish(s, m, &b, reqlen);
	sodium_memzero(key, sizeof key);
}

/*
 * Checks an authenticated request: its session, MESSAGE-INTEGRITY-SHA256
 * under the session's key and a sequence number not below the last one (no
 * replays). The last number again is a retransmission (RFC 8489 §6.2.1
 * resends a request unchanged): answered again, *fresh = 0. Returns the
 * slot, or REG_NONE having counted and, where the RFC says to, answered
 * 401.
 */
static uint32_t
server_authenticate(struct server *s, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen, uint8_t key[TC_KEY_LEN],
    int *fresh)
{
	struct reg_node *n;
	uint64_t session;
	uint32_t slot, seq;

	if (server_get_u64(req, TC_ATTR_SESSION, &session) != 0 ||
	    server_get_u32(req, TC_ATTR_SEQ, &seq) != 0) {
		s->st.err_bad_request++;
		server_error(s, m, req, reqlen, 400, NULL, NULL, 0);
		return REG_NONE;
	}
	if ((slot = registry_session(s->reg, session)) == REG_NONE) {
		/* Tells a node of a restarted negotiator to register again. */
		s->st.drop_unknown_session++;
		server_error(s, m, req, reqlen, 401, NULL, NULL, 0);
		return REG_NONE;
	}
	n = registry_node(s->reg, slot);
	memcpy(key, n->key, TC_KEY_LEN);
	if (stun_check_integrity_sha256(req, key, TC_KEY_LEN) != 0) {
		s->st.drop_bad_integrity++;
		server_error(s, m, req, reqlen, 401, NULL, NULL, 0);
		return REG_NONE;
	}
	if (seq < n->last_seq || seq == 0) {
		s->st.drop_replay++;
		return REG_NONE;
	}
	*fresh = seq > n->last_seq;
	if (!*fresh)
		s->st.retransmits++;
	n->last_seq = seq;
	return slot;
}

static void
server_keepalive(struct server *s, struct srv_msg *m,
    const struct stun_msg *req, size_t reqlen)
{
	struct stun_builder b;
	struct reg_node *n;
	uint8_t key[TC_KEY_LEN], ip[16];
	uint16_t port;
	uint32_t slot;
	int fresh;

	if ((slot = server_authenticate(s, m, req, reqlen, key, &fresh)) ==
	    REG_NONE)
		return;
	n = registry_node(s->reg, slot);
	if (fresh)
		n->seen = server_now(s);
	reg_addr_store((struct sockaddr *)&m->from, ip, &port);
	if (fresh &&
	    (port != n->ext_port || memcmp(ip, n->ext_ip, 16) != 0)) {
		/* The NAT moved the node's mapping: follow it. */
		memcpy(n->ext_ip, ip, 16);
		n->ext_port = port;
		s->st.rebinding++;
		log_debug("node %016llx: external address changed",
		    (unsigned long long)n->node_id);
	}
	if (fresh)
		s->st.keepalive++;
	server_answer(m, &b, req, STUN_SUCCESS);
	stun_put_xor_address(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    (struct sockaddr *)&m->from);
	stun_put_integrity_sha256(&b, key, sizeof key);
	stun_put_fingerprint(&b);
	server_finish(s, m, &b, STUN_MAX_MSG);
}

static void
server_leave(struct server *s, struct srv_msg *m, const struct stun_msg *req,
    size_t reqlen)
{
	struct stun_builder b;
	uint8_t key[TC_KEY_LEN];
	uint32_t slot;
	int fresh;

	if ((slot = server_authenticate(s, m, req, reqlen, key, &fresh)) ==
	    REG_NONE)
		return;
	log_info("node %016llx left", (unsigned long long)
	    registry_node(s->reg, slot)->node_id);
	registry_remove(s->reg, slot);
	s->st.left++;
	server_answer(m, &b, req, STUN_SUCCESS);
	stun_put_integrity_sha256(&b, key, sizeof key);
	stun_put_fingerprint(&b);
	server_finish(s, m, &b, STUN_MAX_MSG);
}

/* One datagram in; an answer in m->out or none. Never trusts its input. */
static void
server_handle(struct server *s, struct srv_sock *ss, struct srv_msg *m,
    size_t len)
{
	enum stun_parse_error why;
	struct stun_msg req;
	uint16_t unknown[8];
	size_t nunknown;

	m->outlen = 0;
	m->via = ss->index;
	if (!stun_is_stun(m->in, len)) {
		s->st.drop_not_stun++;
		return;
	}
	if (stun_parse(m->in, len, &req, &why) != 0) {
		s->st.drop_parse++;
		s->st.parse_errors[why]++;
		return;
	}
	if (req.cls != STUN_REQUEST) {
		s->st.drop_not_request++;
		return;
	}
	nunknown = stun_unknown_required(&req, tc_known_attrs,
	    tc_known_attrs_count, unknown, 8);
	if (nunknown > 0) {
		s->st.err_unknown_attr++;
		server_error(s, m, &req, len, 420, NULL, unknown, nunknown);
		return;
	}
	switch (req.method) {
	case STUN_METHOD_BINDING:
		server_binding(s, ss, m, &req, len);
		break;
	case TC_METHOD_REGISTER:
		server_register(s, m, &req, len);
		break;
	case TC_METHOD_KEEPALIVE:
		server_keepalive(s, m, &req, len);
		break;
	case TC_METHOD_LEAVE:
		server_leave(s, m, &req, len);
		break;
	default:
		s->st.err_bad_request++;
		server_error(s, m, &req, len, 400, NULL, NULL, 0);
		break;
	}
}

static void
server_send_one(struct server *s, struct srv_msg *m)
{
	struct srv_sock *via = &s->socks[m->via];
	socklen_t len = m->from.ss_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);

	if (sendto(via->fd, m->out, m->outlen, 0,
	    (struct sockaddr *)&m->from, len) == (ssize_t)m->outlen) {
		s->st.tx_datagrams++;
		s->st.tx_bytes += m->outlen;
	}
}

/* Readable: drain the socket in batches, answering each batch at once. */
static void
server_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct srv_sock *ss = arg;
	struct server *s = ss->srv;
	struct srv_msg *m;
	struct cmsghdr *c;
	int i, n, ntx, round, sent;

	for (round = 0; round < SERVER_ROUNDS; round++) {
		for (i = 0; i < SERVER_BATCH; i++) {
			m = &s->msgs[i];
			s->rxiov[i].iov_base = m->in;
			s->rxiov[i].iov_len = sizeof m->in;
			memset(&s->rx[i].msg_hdr, 0, sizeof s->rx[i].msg_hdr);
			s->rx[i].msg_hdr.msg_name = &m->from;
			s->rx[i].msg_hdr.msg_namelen = sizeof m->from;
			s->rx[i].msg_hdr.msg_iov = &s->rxiov[i];
			s->rx[i].msg_hdr.msg_iovlen = 1;
			s->rx[i].msg_hdr.msg_control = m->ctl.buf;
			s->rx[i].msg_hdr.msg_controllen = sizeof m->ctl.buf;
		}
		n = recvmmsg(fd, s->rx, SERVER_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		ntx = 0;
		for (i = 0; i < n; i++) {
			m = &s->msgs[i];
			s->st.rx_datagrams++;
			s->st.rx_bytes += s->rx[i].msg_len;
			m->has_pi = 0;
			for (c = CMSG_FIRSTHDR(&s->rx[i].msg_hdr); c != NULL;
			    c = CMSG_NXTHDR(&s->rx[i].msg_hdr, c)) {
				if (c->cmsg_level == IPPROTO_IP &&
				    c->cmsg_type == IP_PKTINFO) {
					memcpy(&m->pi, CMSG_DATA(c),
					    sizeof m->pi);
					m->has_pi = 1;
				}
			}
			if (s->rx[i].msg_hdr.msg_flags & MSG_TRUNC) {
				s->st.drop_parse++;
				s->st.parse_errors[STUN_E_TOO_BIG]++;
				continue;
			}
			server_handle(s, ss, m, s->rx[i].msg_len);
			if (m->outlen == 0)
				continue;
			if (m->via != ss->index) {
				server_send_one(s, m);
				continue;
			}
			s->txiov[ntx].iov_base = m->out;
			s->txiov[ntx].iov_len = m->outlen;
			memset(&s->tx[ntx].msg_hdr, 0, sizeof s->tx[ntx].msg_hdr);
			s->tx[ntx].msg_hdr.msg_name = &m->from;
			s->tx[ntx].msg_hdr.msg_namelen =
			    s->rx[i].msg_hdr.msg_namelen;
			s->tx[ntx].msg_hdr.msg_iov = &s->txiov[ntx];
			s->tx[ntx].msg_hdr.msg_iovlen = 1;
			if (ss->wildcard && m->has_pi) {
				/* Answer from the address that was asked. */
				struct in_pktinfo pi;

				memset(&pi, 0, sizeof pi);
				pi.ipi_spec_dst = m->pi.ipi_addr;
				s->tx[ntx].msg_hdr.msg_control =
				    s->txctl[ntx].buf;
				s->tx[ntx].msg_hdr.msg_controllen =
				    sizeof s->txctl[ntx].buf;
				c = CMSG_FIRSTHDR(&s->tx[ntx].msg_hdr);
				c->cmsg_level = IPPROTO_IP;
				c->cmsg_type = IP_PKTINFO;
				c->cmsg_len = CMSG_LEN(sizeof pi);
				memcpy(CMSG_DATA(c), &pi, sizeof pi);
			}
			ntx++;
		}
		for (i = 0; i < ntx; i += sent) {
			sent = sendmmsg(fd, s->tx + i, (unsigned)(ntx - i), 0);
			if (sent <= 0) {
				if (errno == EINTR)
					sent = 0;
				else
					break;	/* full socket: drop, as UDP does */
			}
			for (n = 0; n < sent; n++) {
				s->st.tx_datagrams++;
				s->st.tx_bytes += s->tx[i + n].msg_len;
			}
		}
		if (n < SERVER_BATCH)
			break;
	}
	(void)what;
}

static void
server_gone(void *arg, uint32_t slot, const struct reg_node *n)
{
	struct server *s = arg;

	(void)slot;
	s->st.expired++;
	log_info("node %016llx expired: silent for over %u s",
	    (unsigned long long)n->node_id, s->cfg.expire_s);
}

static void
server_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	uint32_t per_s = 1000 / SERVER_TICK_MS;

	(void)fd;
	(void)what;
	/* All of the pool once a second. */
	registry_sweep(s->reg, server_now(s), s->cfg.expire_s, per_s,
	    server_gone, s);
	s->ticks++;
	if (s->cfg.stats_s > 0 && s->ticks % (s->cfg.stats_s * per_s) == 0)
		server_log_stats(s);
}

void
server_log_stats(struct server *s)
{
	const struct server_stats *a = &s->st, *b = &s->st_last;
	uint64_t drops;
	double secs = s->cfg.stats_s > 0 ? s->cfg.stats_s : 1;

	drops = (a->drop_not_stun - b->drop_not_stun) +
	    (a->drop_parse - b->drop_parse) +
	    (a->drop_bad_integrity - b->drop_bad_integrity) +
	    (a->drop_replay - b->drop_replay) +
	    (a->drop_amplify - b->drop_amplify) +
	    (a->drop_unpadded - b->drop_unpadded);
	log_info("%u nodes; %.0f datagrams/s in, %.0f out; %llu registered, "
	    "%llu left, %llu expired, %llu dropped in the last %.0f s",
	    registry_count(s->reg),
	    (double)(a->rx_datagrams - b->rx_datagrams) / secs,
	    (double)(a->tx_datagrams - b->tx_datagrams) / secs,
	    (unsigned long long)(a->registered - b->registered),
	    (unsigned long long)(a->left - b->left),
	    (unsigned long long)(a->expired - b->expired),
	    (unsigned long long)drops, secs);
	s->st_last = s->st;
}

static int
server_open(struct server *s, int index, const struct addr *a, char *err,
    size_t errlen)
{
	struct srv_sock *ss = &s->socks[index];
	char text[ADDR_STRLEN];
	int one = 1, size = 4 << 20;

	ss->srv = s;
	ss->index = index;
	ss->local = *a;
	ss->fd = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (ss->fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(ss->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	setsockopt(ss->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	/* Bound to 0.0.0.0: learn each request's address, to answer from it
	 * and name it in RESPONSE-ORIGIN. */
	if (a->ss.ss_family == AF_INET &&
	    ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
	    htonl(INADDR_ANY)) {
		setsockopt(ss->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
		ss->wildcard = 1;
	}
	if (bind(ss->fd, (const struct sockaddr *)&a->ss, a->len) == -1) {
		snprintf(err, errlen, "cannot listen on %s: %s",
		    addr_format((const struct sockaddr *)&a->ss, text,
		    sizeof text), strerror(errno));
		return -1;
	}
	ss->ev = event_new(s->base, ss->fd, EV_READ | EV_PERSIST,
	    server_read_cb, ss);
	if (ss->ev == NULL || event_add(ss->ev, NULL) != 0) {
		snprintf(err, errlen, "event_add failed");
		return -1;
	}
	log_info("listening on udp %s", addr_format(
	    (const struct sockaddr *)&a->ss, text, sizeof text));
	return 0;
}

struct server *
server_create(struct event_base *base, const struct server_config *cfg,
    char *err, size_t errlen)
{
	struct server *s;
	struct addr a;
	struct timeval tv = { 0, SERVER_TICK_MS * 1000 };
	int i;

	if ((s = calloc(1, sizeof *s)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base = base;
	s->cfg = *cfg;
	for (i = 0; i < SOCK_MAX; i++)
		s->socks[i].fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	if ((s->reg = registry_create(cfg->max_nodes)) == NULL ||
	    (s->channels = channels_create()) == NULL) {
		snprintf(err, errlen, "cannot allocate a registry of %u nodes",
		    cfg->max_nodes);
		goto fail;
	}
	for (i = 0; i < SOCK_MAX; i++) {
		if ((i & SOCK_ALT_ADDR) && !cfg->has_alt_address)
			continue;
		a = (i & SOCK_ALT_ADDR) ? cfg->alt_address : cfg->listen;
		addr_set_port((struct sockaddr *)&a.ss, (i & SOCK_ALT_PORT) ?
		    cfg->alt_port : addr_port((const struct sockaddr *)
		    &cfg->listen.ss));
		if (server_open(s, i, &a, err, errlen) != 0)
			goto fail;
	}
	s->tick = event_new(base, -1, EV_PERSIST, server_tick_cb, s);
	if (s->tick == NULL || event_add(s->tick, &tv) != 0) {
		snprintf(err, errlen, "cannot start the expiry timer");
		goto fail;
	}
	return s;

fail:
	server_free(s);
	return NULL;
}

void
server_free(struct server *s)
{
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < SOCK_MAX; i++) {
		if (s->socks[i].ev != NULL)
			event_free(s->socks[i].ev);
		if (s->socks[i].fd != -1)
			close(s->socks[i].fd);
	}
	if (s->tick != NULL)
		event_free(s->tick);
	registry_free(s->reg);
	channels_free(s->channels);
	free(s);
}

const struct server_stats *
server_stats(const struct server *s)
{
	return &s->st;
}

uint32_t
server_nodes(const struct server *s)
{
	return registry_count(s->reg);
}

size_t
server_registry_bytes(const struct server *s)
{
	return registry_bytes(s->reg);
}

const struct registry *
server_registry(const struct server *s)
{
	return s->reg;
}

const struct channels *
server_channels(const struct server *s)
{
	return s->channels;
}

uint32_t
server_clock(const struct server *s)
{
	return server_now(s);
}
