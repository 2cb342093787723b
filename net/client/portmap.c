/* Port mapping at the router: UPnP-IGD, NAT-PMP and PCP (portmap.h). */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <event2/event.h>
#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>
#define ENABLE_STRNATPMPERR
#include <natpmp.h>
#include <sodium.h>

#include "net/client/portmap.h"
#include "net/util/clock.h"
#include "net/util/log.h"
#include "net/wire/pcp.h"

#define PORTMAP_RTO_MS		250	/* PCP's first retransmission */
#define PORTMAP_LINK_MS		1000	/* a link's mapping, at most */
/* SSDP: how long the M-SEARCH's first answer is waited for. */
#define PORTMAP_SSDP_MS		300

struct portmap {
	pthread_mutex_t		mu;
	struct in_addr		gw;		/* the default gateway */
	unsigned		methods;	/* to try */
	uint64_t		t0;
	/* a socket a method, each mapped by its own: NAT-PMP's and PCP's
	 * server is often one, and the second request for one port would
	 * take over the first's mapping (miniupnpd's then refuses PCP's
	 * deletion); the kept one's is the node's */
	int			fd[PORTMAP_COUNT];
	uint16_t		port[PORTMAP_COUNT];
	/* UPnP's IGD, once found: read-only from then on */
	int			igd;
	struct UPNPUrls		urls;
	struct IGDdatas		data;
	char			lanaddr[64];
	/* the start-up's attempt, one slot a method */
	unsigned		pending;
	int			ok[PORTMAP_COUNT];
	struct portmap_map	got[PORTMAP_COUNT];
	char			why[PORTMAP_COUNT][96];
	struct portmap_map	kept;
	unsigned		busy;		/* threads still running */
};

struct portmap_req {
	struct portmap		*pm;
	struct event		*ev;
	int			 pipe[2];
	uint16_t		 port;
	int			 ok;
	struct portmap_map	 m;
	portmap_cb		 cb;
	void			*arg;
};

struct portmap_job {
	struct portmap		*pm;
	enum portmap_method	 method;
	struct portmap_map	 m;
};

static const char *const portmap_names[PORTMAP_COUNT] = {
	[PORTMAP_NONE] = "none", [PORTMAP_PCP] = "pcp",
	[PORTMAP_NATPMP] = "natpmp", [PORTMAP_UPNP] = "upnp",
};

const char *
portmap_method_name(enum portmap_method m)
{
	return (unsigned)m < PORTMAP_COUNT ? portmap_names[m] : "?";
}

/* The default route's gateway, from /proc/net/route. */
static int
portmap_gateway(struct in_addr *gw)
{
	char line[256];
	unsigned long dst, via, flags;
	FILE *f = fopen("/proc/net/route", "r");
	int rc = -1;

	if (f == NULL)
		return -1;
	while (rc != 0 && fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "%*s %lx %lx %lx", &dst, &via, &flags) == 3 &&
		    dst == 0 && (flags & 0x2) != 0) {	/* RTF_GATEWAY */
			gw->s_addr = (in_addr_t)via;	/* network order */
			rc = 0;
		}
	fclose(f);
	return rc;
}

/* --- NAT-PMP (RFC 6886), through libnatpmp */

static int
portmap_natpmp(struct portmap *pm, struct portmap_map *m, uint32_t lifetime,
    unsigned ms, char *why, size_t len)
{
	natpmp_t n;
	natpmpresp_t r;
	struct timeval tv;
	uint64_t end = clock_ms() + ms, now;
	int rc;

	if ((rc = initnatpmp(&n, 1, pm->gw.s_addr)) < 0) {
		snprintf(why, len, "initnatpmp: %d", rc);
		return -1;
	}
	/* RFC 6886, 3.4: a deletion asks for public port 0. */
	rc = sendnewportmappingrequest(&n, NATPMP_PROTOCOL_UDP, m->internal,
	    lifetime == 0 ? 0 : m->external != 0 ? m->external : m->internal,
	    lifetime);
	if (rc >= 0)
		rc = NATPMP_TRYAGAIN;
	while (rc == NATPMP_TRYAGAIN && (rc = readnatpmpresponseorretry(&n, &r)) ==
	    NATPMP_TRYAGAIN && (now = clock_ms()) < end) {
		struct pollfd p = { n.s, POLLIN, 0 };
		int wait;

		getnatpmprequesttimeout(&n, &tv);
		wait = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
		if (wait > (int)(end - now))
			wait = (int)(end - now);
		poll(&p, 1, wait < 1 ? 1 : wait);
	}
	closenatpmp(&n);
	if (rc != 0) {
		snprintf(why, len, "%s (%d)", rc == NATPMP_TRYAGAIN ?
		    "no answer" : strnatpmperr(rc), rc);
		return -1;
	}
	if (lifetime == 0)
		return 0;
	m->external = r.pnu.newportmapping.mappedpublicport;
	m->lifetime = r.pnu.newportmapping.lifetime;
	return 0;
}

/* --- PCP (RFC 6887), ours */

static int
portmap_pcp(struct portmap *pm, struct portmap_map *m, uint32_t lifetime,
    unsigned ms, char *why, size_t len)
{
	struct sockaddr_in to = { .sin_family = AF_INET,
	    .sin_port = htons(PCP_PORT), .sin_addr = pm->gw }, me;
	socklen_t melen = sizeof me;
	struct pcp_map q, a;
	uint8_t out[PCP_MAP_LEN], in[PCP_MAX_LEN];
	uint64_t end = clock_ms() + ms, next = 0, now;
	unsigned rto = PORTMAP_RTO_MS;
	ssize_t n;
	int fd, rc = -1;

	snprintf(why, len, "no answer");
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&to, sizeof to) != 0 ||
	    getsockname(fd, (struct sockaddr *)&me, &melen) != 0) {
		snprintf(why, len, "socket: %s", strerror(errno));
		goto out;
	}
	memset(&q, 0, sizeof q);
	if (lifetime != 0 && m->external == 0)	/* new: a nonce of its own */
		randombytes_buf(m->nonce, sizeof m->nonce);
	memcpy(q.nonce, m->nonce, sizeof q.nonce);
	q.protocol = IPPROTO_UDP;
	q.internal_port = m->internal;
	q.external_port = lifetime == 0 ? 0 : m->external != 0 ?
	    m->external : m->internal;
	q.lifetime = lifetime;
	pcp_ip4_to16((const uint8_t *)&me.sin_addr, q.client_ip);
	pcp_ip4_to16((const uint8_t[4]){ 0, 0, 0, 0 }, q.external_ip);
	pcp_map_encode(&q, out, sizeof out);
	while ((now = clock_ms()) < end) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (now >= next) {	/* RFC 6887, 8.1.1: doubling */
			if (send(fd, out, sizeof out, 0) < 0) {
				snprintf(why, len, "%s", strerror(errno));
				goto out;
			}
			next = now + rto;
			rto *= 2;
		}
		if (poll(&p, 1, (int)((next < end ? next : end) - now)) <= 0)
			continue;
		if ((n = recv(fd, in, sizeof in, 0)) < 0) {
			snprintf(why, len, "%s", strerror(errno));
			goto out;	/* ICMP: nothing listens */
		}
		if (pcp_map_decode(in, (size_t)n, &a) != 0 ||
		    memcmp(a.nonce, q.nonce, sizeof a.nonce) != 0 ||
		    a.internal_port != q.internal_port)
			continue;	/* not the answer to this */
		if (a.result != PCP_SUCCESS) {
			snprintf(why, len, "result code %u", a.result);
			goto out;
		}
		m->external = a.external_port;
		m->lifetime = a.lifetime;
		rc = 0;
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* --- UPnP-IGD, through libminiupnpc */

/*
 * SSDP's search (UPnP Device Architecture 1.1, 1.3.2), ours: miniupnpc's
 * waits its whole delay, a second at least, where a router answers in
 * milliseconds. The first answer's LOCATION is the IGD's description.
 */
static int
portmap_ssdp(char *loc, size_t loclen, char *why, size_t len)
{
	static const char req[] = "M-SEARCH * HTTP/1.1\r\n"
	    "HOST: 239.255.255.250:1900\r\n"
	    "MAN: \"ssdp:discover\"\r\n"
	    "MX: 1\r\n"
	    "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n";
	struct sockaddr_in to = { .sin_family = AF_INET,
	    .sin_port = htons(1900) };
	char buf[1500], *p, *e;
	uint64_t end = clock_ms() + PORTMAP_SSDP_MS, now;
	unsigned char ttl = 2;
	ssize_t n;
	int fd, rc = -1;

	snprintf(why, len, "no IGD answered SSDP within %u ms",
	    PORTMAP_SSDP_MS);
	inet_pton(AF_INET, "239.255.255.250", &to.sin_addr);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
		return -1;
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
	if (sendto(fd, req, sizeof req - 1, 0, (struct sockaddr *)&to,
	    sizeof to) < 0) {
		snprintf(why, len, "SSDP: %s", strerror(errno));
		goto out;
	}
	while (rc != 0 && (now = clock_ms()) < end) {
		struct pollfd pf = { fd, POLLIN, 0 };

		if (poll(&pf, 1, (int)(end - now)) <= 0 ||
		    (n = recv(fd, buf, sizeof buf - 1, 0)) <= 0)
			continue;
		buf[n] = '\0';
		for (p = buf; p != NULL && rc != 0; p = strstr(p, "\r\n")) {
			p += p == buf ? 0 : 2;
			if (strncasecmp(p, "LOCATION:", 9) != 0)
				continue;
			for (p += 9; *p == ' ' || *p == '\t'; p++)
				;
			if ((e = strstr(p, "\r\n")) == NULL ||
			    (size_t)(e - p) >= loclen || e == p)
				break;
			memcpy(loc, p, (size_t)(e - p));
			loc[e - p] = '\0';
			rc = 0;
		}
	}
out:
	close(fd);
	return rc;
}

static int
portmap_upnp_find(struct portmap *pm, char *why, size_t len)
{
	char loc[512];
	int rc;

	if (portmap_ssdp(loc, sizeof loc, why, len) != 0)
		return -1;
	rc = UPNP_GetIGDFromUrl(loc, &pm->urls, &pm->data, pm->lanaddr,
	    sizeof pm->lanaddr);
	if (rc <= 0 || pm->urls.controlURL == NULL ||
	    pm->urls.controlURL[0] == '\0') {
		if (rc > 0)
			FreeUPNPUrls(&pm->urls);
		snprintf(why, len, "no usable IGD at %.60s", loc);
		return -1;
	}
	pm->igd = 1;
	return 0;
}

static int
portmap_upnp(struct portmap *pm, struct portmap_map *m, uint32_t lifetime,
    char *why, size_t len)
{
	char ext[8], in[8], lease[12];
	int rc;

	snprintf(ext, sizeof ext, "%u", m->external != 0 ? m->external :
	    m->internal);
	snprintf(in, sizeof in, "%u", m->internal);
	snprintf(lease, sizeof lease, "%u", lifetime);
	if (lifetime == 0)
		rc = UPNP_DeletePortMapping(pm->urls.controlURL,
		    pm->data.first.servicetype, ext, "UDP", NULL);
	else
		rc = UPNP_AddPortMapping(pm->urls.controlURL,
		    pm->data.first.servicetype, ext, in, pm->lanaddr,
		    "treecast", "UDP", NULL, lease);
	if (rc != UPNPCOMMAND_SUCCESS) {
		snprintf(why, len, "%s", strupnperror(rc));
		return -1;
	}
	m->external = (uint16_t)atoi(ext);
	m->lifetime = lifetime;
	return 0;
}

/* One exchange, blocking: maps m->internal (lifetime > 0) or deletes m. */
static int
portmap_do(struct portmap *pm, enum portmap_method method,
    struct portmap_map *m, uint32_t lifetime, unsigned ms, char *why,
    size_t len)
{
	uint64_t t0 = clock_ms();
	int rc;

	m->method = method;
	switch (method) {
	case PORTMAP_PCP:
		rc = portmap_pcp(pm, m, lifetime, ms, why, len);
		break;
	case PORTMAP_NATPMP:
		rc = portmap_natpmp(pm, m, lifetime, ms, why, len);
		break;
	case PORTMAP_UPNP:
		rc = pm->igd ? portmap_upnp(pm, m, lifetime, why, len) : -1;
		break;
	default:
		rc = -1;
	}
	m->ms = (unsigned)(clock_ms() - t0);
	return rc;
}

/* --- threads */

static void
portmap_done(struct portmap *pm)
{
	pthread_mutex_lock(&pm->mu);
	pm->busy--;
	pthread_mutex_unlock(&pm->mu);
}

static int
portmap_spawn(struct portmap *pm, void *(*fn)(void *), void *arg)
{
	pthread_t t;

	pthread_mutex_lock(&pm->mu);
	pm->busy++;
	pthread_mutex_unlock(&pm->mu);
	if (pthread_create(&t, NULL, fn, arg) != 0) {
		portmap_done(pm);
		return -1;
	}
	pthread_detach(t);
	return 0;
}

/* The start-up's: one method, for the node's socket. */
static void *
portmap_probe_thread(void *arg)
{
	struct portmap_job *j = arg;
	struct portmap *pm = j->pm;
	char why[96] = "";
	int ok;

	j->m.internal = pm->port[j->method];
	if (j->method == PORTMAP_UPNP && portmap_upnp_find(pm, why,
	    sizeof why) != 0)
		ok = 0;
	else
		ok = portmap_do(pm, j->method, &j->m, PORTMAP_LIFETIME,
		    PORTMAP_DEADLINE_MS, why, sizeof why) == 0;
	j->m.ms = (unsigned)(clock_ms() - pm->t0);
	pthread_mutex_lock(&pm->mu);
	pm->ok[j->method] = ok;
	pm->got[j->method] = j->m;
	snprintf(pm->why[j->method], sizeof pm->why[0], "%s", why);
	pm->pending &= ~(1u << j->method);
	pthread_mutex_unlock(&pm->mu);
	free(j);
	portmap_done(pm);
	return NULL;
}

/* A deletion, or the node's renewal. */
static void *
portmap_job_thread(void *arg)
{
	struct portmap_job *j = arg;
	char why[96];
	uint32_t life = j->method == PORTMAP_NONE ? PORTMAP_LIFETIME : 0;

	if (portmap_do(j->pm, j->m.method, &j->m, life, 500, why,
	    sizeof why) != 0)
		log_info("portmap: %s %s of port %u failed: %s",
		    portmap_method_name(j->m.method), life ? "renewal" :
		    "deletion", j->m.internal, why);
	portmap_done(j->pm);
	free(j);
	return NULL;
}

static void
portmap_job(struct portmap *pm, const struct portmap_map *m, int renew)
{
	struct portmap_job *j = calloc(1, sizeof *j);

	if (j == NULL)
		return;
	j->pm = pm;
	j->method = renew ? PORTMAP_NONE : m->method;
	j->m = *m;
	if (portmap_spawn(pm, portmap_job_thread, j) != 0)
		free(j);
}

/* A bound UDP socket for method m: its port in pm->port[m]. */
static int
portmap_socket(struct portmap *pm, unsigned m)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof a;

	if ((pm->fd[m] = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
		return -1;
	if (bind(pm->fd[m], (struct sockaddr *)&a, sizeof a) != 0 ||
	    getsockname(pm->fd[m], (struct sockaddr *)&a, &alen) != 0)
		return -1;
	pm->port[m] = ntohs(a.sin_port);
	return 0;
}

struct portmap *
portmap_probe_start(unsigned methods)
{
	struct portmap *pm;
	struct portmap_job *j;
	unsigned m;

	if ((pm = calloc(1, sizeof *pm)) == NULL)
		return NULL;
	pthread_mutex_init(&pm->mu, NULL);
	pm->t0 = clock_ms();
	pm->methods = methods != 0 ? methods : ~0u;
	for (m = 0; m < PORTMAP_COUNT; m++)
		pm->fd[m] = -1;
	if (portmap_gateway(&pm->gw) != 0) {
		log_info("portmap: no default gateway: not tried");
		portmap_free(pm);
		return NULL;
	}
	for (m = PORTMAP_PCP; m < PORTMAP_COUNT; m++) {
		if (!(pm->methods & (1u << m)) || portmap_socket(pm, m) != 0 ||
		    (j = calloc(1, sizeof *j)) == NULL)
			continue;
		j->pm = pm;
		j->method = m;
		pm->pending |= 1u << m;
		if (portmap_spawn(pm, portmap_probe_thread, j) != 0) {
			pm->pending &= ~(1u << m);
			free(j);
		}
	}
	return pm;
}

int
portmap_probe_finish(struct portmap **pmp, struct portmap_map *out)
{
	struct portmap *pm = *pmp;
	uint64_t end = pm->t0 + PORTMAP_DEADLINE_MS;
	char gw[INET_ADDRSTRLEN];
	struct portmap_map extra[PORTMAP_COUNT];
	unsigned m, nextra = 0;
	int kept = PORTMAP_NONE;

	pthread_mutex_lock(&pm->mu);
	while (pm->pending != 0 && clock_ms() < end) {
		pthread_mutex_unlock(&pm->mu);
		usleep(2000);	/* the loop waits: at start-up, the rest of 1.5 s */
		pthread_mutex_lock(&pm->mu);
	}
	inet_ntop(AF_INET, &pm->gw, gw, sizeof gw);
	for (m = PORTMAP_PCP; m < PORTMAP_COUNT; m++) {
		if (!(pm->methods & (1u << m)))
			continue;
		if (pm->pending & (1u << m))
			log_info("portmap: %s at %s: no answer within %u ms",
			    portmap_names[m], gw, PORTMAP_DEADLINE_MS);
		else if (!pm->ok[m])
			log_info("portmap: %s at %s: none (%s, %u ms)",
			    portmap_names[m], gw, pm->why[m], pm->got[m].ms);
		else
			log_info("portmap: %s at %s: port %u mapped to %u for "
			    "%u s in %u ms", portmap_names[m], gw,
			    pm->got[m].internal, pm->got[m].external,
			    pm->got[m].lifetime, pm->got[m].ms);
		if (pm->ok[m] && kept == PORTMAP_NONE)
			kept = (int)m;
		else if (pm->ok[m])	/* one mapping is enough */
			extra[nextra++] = pm->got[m];
	}
	/* Late answers still land in pm; a late mapping lives out its
	 * lifetime (PORTMAP_LIFETIME). */
	pm->methods = kept == PORTMAP_NONE ? 0 : 1u << kept;
	pthread_mutex_unlock(&pm->mu);
	while (nextra > 0)
		portmap_job(pm, &extra[--nextra], 0);
	if (kept == PORTMAP_NONE) {
		portmap_free(pm);
		*pmp = NULL;
		return -1;
	}
	pm->kept = pm->got[kept];
	*out = pm->kept;
	return 0;
}

void
portmap_renew(struct portmap *pm)
{
	portmap_job(pm, &pm->kept, 1);
}

/* --- a link's */

static void *
portmap_req_thread(void *arg)
{
	struct portmap_req *r = arg;
	struct portmap *pm = r->pm;	/* r is the loop's once woken */
	char why[96];

	r->m.internal = r->port;
	r->ok = portmap_do(r->pm, r->pm->kept.method, &r->m,
	    PORTMAP_LINK_LIFETIME, PORTMAP_LINK_MS, why, sizeof why) == 0;
	if (!r->ok)
		log_debug("portmap: port %u: %s", r->port, why);
	if (write(r->pipe[1], "", 1) != 1)
		log_warn("portmap: cannot wake the loop");
	portmap_done(pm);
	return NULL;
}

static void
portmap_req_free(struct portmap_req *r)
{
	if (r->ev != NULL)
		event_free(r->ev);
	close(r->pipe[0]);
	close(r->pipe[1]);
	free(r);
}

static void
portmap_req_cb(evutil_socket_t fd, short what, void *arg)
{
	struct portmap_req *r = arg;
	char c;

	(void)what;
	if (read(fd, &c, 1) != 1)
		return;
	if (r->cb == NULL) {	/* cancelled */
		if (r->ok)
			portmap_unmap(r->pm, &r->m);
	} else
		r->cb(r->arg, r->ok ? &r->m : NULL);
	portmap_req_free(r);
}

struct portmap_req *
portmap_request(struct portmap *pm, struct event_base *base, uint16_t port,
    portmap_cb cb, void *arg)
{
	struct portmap_req *r;

	if ((r = calloc(1, sizeof *r)) == NULL)
		return NULL;
	r->pm = pm;
	r->port = port;
	r->cb = cb;
	r->arg = arg;
	if (pipe(r->pipe) != 0) {
		free(r);
		return NULL;
	}
	if ((r->ev = event_new(base, r->pipe[0], EV_READ, portmap_req_cb,
	    r)) == NULL || event_add(r->ev, NULL) != 0 ||
	    portmap_spawn(pm, portmap_req_thread, r) != 0) {
		portmap_req_free(r);
		return NULL;
	}
	return r;
}

void
portmap_cancel(struct portmap_req *r)
{
	if (r != NULL)
		r->cb = NULL;
}

void
portmap_unmap(struct portmap *pm, const struct portmap_map *m)
{
	portmap_job(pm, m, 0);
}

void
portmap_free(struct portmap *pm)
{
	struct portmap_map m;
	char why[96];
	uint64_t end;
	unsigned i;

	if (pm == NULL)
		return;
	if (pm->kept.method != PORTMAP_NONE) {
		m = pm->kept;
		if (portmap_do(pm, m.method, &m, 0, 500, why, sizeof why) == 0)
			log_info("portmap: %s mapping of port %u deleted",
			    portmap_method_name(m.method), pm->kept.external);
		else
			log_info("portmap: %s mapping of port %u not deleted: "
			    "%s", portmap_method_name(m.method),
			    pm->kept.external, why);
	}
	end = clock_ms() + 500;
	pthread_mutex_lock(&pm->mu);
	while (pm->busy > 0 && clock_ms() < end) {
		pthread_mutex_unlock(&pm->mu);
		usleep(10000);
		pthread_mutex_lock(&pm->mu);
	}
	pthread_mutex_unlock(&pm->mu);
	if (pm->busy > 0)
		return;	/* threads still hold it: left to the exit */
	if (pm->igd)
		FreeUPNPUrls(&pm->urls);
	for (i = 0; i < PORTMAP_COUNT; i++)
		if (pm->fd[i] >= 0)
			close(pm->fd[i]);
	pthread_mutex_destroy(&pm->mu);
	free(pm);
}
