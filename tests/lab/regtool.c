/*
 * regtool: a hostile registrant, for the lab's trust test (issue 15).
 *
 *   regtool hijack NEGOTIATOR[:PORT] NODE_ID CHANNEL [SECONDS]
 *       sends one unauthenticated REGISTER as a peer, claiming NODE_ID (16
 *       hex digits: someone else's, from /api/tree) on CHANNEL, as a
 *       well-formed, padded request; prints "REFUSED CODE REASON" or
 *       "REGISTERED SESSION", then listens SECONDS (default 5) and prints
 *       "DATAGRAMS N": whatever else came to its socket (an INSTRUCT, a
 *       child's check) would mean it took the node's place.
 *
 * A test instrument, not part of treecast: plain blocking sockets; it exits
 * 1 with a reason when the negotiator does not answer at all.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "net/util/addr.h"
#include "net/wire/nat.h"
#include "net/wire/proto.h"
#include "net/wire/stun.h"

#define LAB_TOOL "regtool"
#include "labutil.h"

#define REG_TRIES	5
#define REG_WAIT_MS	1000

/* A peer's REGISTER for node_id, padded as a real one is. */
static int
build(uint8_t *buf, size_t cap, uint64_t node_id, const char *channel,
    const struct sockaddr *local)
{
	static const uint8_t pad[TC_REGISTER_MIN];
	struct nat_profile p = { NAT_MAPPING_EIM, NAT_ALLOC_PRESERVED,
	    NAT_FILTER_APDF, 0, 0, 0 };
	struct stun_builder b;
	uint8_t tid[12], prof[NAT_PROFILE_WIRE_LEN];

	stun_random_tid(tid);
	stun_build_init(&b, buf, cap, TC_METHOD_REGISTER, STUN_REQUEST, tid);
	stun_put_u64(&b, TC_ATTR_NODE_ID, node_id);
	stun_put(&b, TC_ATTR_CHANNEL, channel, (uint16_t)strlen(channel));
	stun_put_u32(&b, TC_ATTR_ROLE, TC_ROLE_PEER);
	stun_put_xor_address(&b, TC_ATTR_XOR_INTERNAL, local);
	nat_profile_encode(&p, prof);
	stun_put(&b, TC_ATTR_NAT_PROFILE, prof, sizeof prof);
	stun_put(&b, STUN_ATTR_PADDING, pad, sizeof pad);
	stun_put_fingerprint(&b);
	return stun_build_finish(&b);
}

static int
hijack(int argc, char **argv)
{
	uint8_t req[STUN_MAX_MSG], ans[STUN_MAX_MSG];
	struct sockaddr_storage local;
	socklen_t llen = sizeof local;
	struct pollfd pfd;
	struct stun_msg m;
	struct addr nego;
	const struct stun_attr *a;
	const char *reason;
	uint64_t node_id, session;
	size_t rlen;
	ssize_t n = -1;
	long seconds = 5, others = 0;
	int fd, len, i, code;
	char err[160], *end;
	struct timespec until, now;

	if (argc < 3)
		die("hijack NEGOTIATOR[:PORT] NODE_ID CHANNEL [SECONDS]");
	if (addr_parse(argv[0], TC_DEFAULT_PORT, 1, &nego, err,
	    sizeof err) != 0)
		die("negotiator %s", err);
	errno = 0;
	node_id = strtoull(argv[1], &end, 16);
	if (errno != 0 || *end != '\0' || node_id == 0)
		die("bad node id %s", argv[1]);
	if (argc >= 4 && (seconds = strtol(argv[3], &end, 10)) < 0)
		die("bad SECONDS %s", argv[3]);
	if ((fd = socket(nego.ss.ss_family, SOCK_DGRAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&nego.ss, nego.len) != 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &llen) != 0)
		die("socket: %s", strerror(errno));
	if ((len = build(req, sizeof req, node_id, argv[2],
	    (struct sockaddr *)&local)) < 0)
		die("cannot build a REGISTER");
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (i = 0; i < REG_TRIES && n < 0; i++) {
		send(fd, req, (size_t)len, 0);
		while (poll(&pfd, 1, REG_WAIT_MS) > 0) {
			n = recv(fd, ans, sizeof ans, 0);
			if (n >= 20 && memcmp(ans + 8, req + 8, 12) == 0)
				break;
			n = -1;
		}
	}
	if (n < 0 || stun_parse(ans, (size_t)n, &m, NULL) != 0)
		die("no answer from %s", argv[0]);
	if (m.cls == STUN_ERROR) {
		code = 0;
		reason = "";
		rlen = 0;
		if ((a = stun_find(&m, STUN_ATTR_ERROR_CODE)) != NULL)
			stun_attr_error_code(a, &code, &reason, &rlen);
		printf("REFUSED %d %.*s\n", code, (int)rlen, reason);
	} else {
		session = 0;
		if ((a = stun_find(&m, TC_ATTR_SESSION)) != NULL)
			stun_attr_u64(a, &session);
		printf("REGISTERED %016" PRIx64 "\n", session);
	}
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += seconds;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > until.tv_sec || (now.tv_sec == until.tv_sec &&
		    now.tv_nsec >= until.tv_nsec))
			break;
		if (poll(&pfd, 1, 100) > 0 && recv(fd, ans, sizeof ans, 0) >= 0)
			others++;
	}
	printf("DATAGRAMS %ld\n", others);
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0)
		die("libsodium failed to start");
	if (argc >= 2 && strcmp(argv[1], "hijack") == 0)
		return hijack(argc - 2, argv + 2);
	fprintf(stderr, "usage: regtool hijack NEGOTIATOR[:PORT] NODE_ID "
	    "CHANNEL [SECONDS]\n");
	return 2;
}
