/* Parsing and printing of socket addresses. */
#include "config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/util/addr.h"

int
addr_parse_port(const char *text, int allow_zero, uint16_t *out)
{
	unsigned long v;
	char *end;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	v = strtoul(text, &end, 10);
	if (*end != '\0' || v > 65535 || (v == 0 && !allow_zero))
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int
addr_parse(const char *text, uint16_t default_port, int resolve,
    struct addr *out, char *err, size_t errlen)
{
	char host[256];
	const char *port_text = NULL, *colon;
	uint16_t port = default_port;
	struct addrinfo hints, *res = NULL;
	size_t hostlen;
	int rc;

	if (text == NULL || *text == '\0') {
		snprintf(err, errlen, "empty address");
		return -1;
	}
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL) {
			snprintf(err, errlen, "'%s': missing ']'", text);
			return -1;
		}
		hostlen = (size_t)(close - text - 1);
		if (hostlen >= sizeof host)
			goto toolong;
		memcpy(host, text + 1, hostlen);
		host[hostlen] = '\0';
		if (close[1] == ':')
			port_text = close + 2;
		else if (close[1] != '\0') {
			snprintf(err, errlen, "'%s': unexpected text after ']'",
			    text);
			return -1;
		}
	} else {
		colon = strrchr(text, ':');
		/* Two colons and no brackets: a bare IPv6 address, no port. */
		if (colon != NULL && strchr(text, ':') != colon)
			colon = NULL;
		hostlen = colon != NULL ? (size_t)(colon - text) : strlen(text);
		if (hostlen >= sizeof host)
			goto toolong;
		memcpy(host, text, hostlen);
		host[hostlen] = '\0';
		if (colon != NULL)
			port_text = colon + 1;
	}
	if (port_text != NULL && addr_parse_port(port_text, 0, &port) != 0) {
		snprintf(err, errlen, "'%s': port '%s' is not a number from 1 "
		    "to 65535", text, port_text);
		return -1;
	}
	if (host[0] == '\0') {
		snprintf(err, errlen, "'%s': missing host", text);
		return -1;
	}

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = resolve ? 0 : AI_NUMERICHOST;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 || res == NULL) {
		if (!resolve)
			snprintf(err, errlen, "'%s': '%s' is not a numeric IP "
			    "address", text, host);
		else
			snprintf(err, errlen, "'%s': cannot resolve '%s': %s",
			    text, host, gai_strerror(rc));
		return -1;
	}
	memset(out, 0, sizeof *out);
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	addr_set_port((struct sockaddr *)&out->ss, port);
	return 0;

toolong:
	snprintf(err, errlen, "'%.40s...': host name too long", text);
	return -1;
}

char *
addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
		snprintf(buf, len, "%s:%u", ip, ntohs(in->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
		snprintf(buf, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
		break;
	}
	default:
		snprintf(buf, len, "(family %d)", sa->sa_family);
		break;
	}
	return buf;
}

uint16_t
addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

void
addr_set_port(struct sockaddr *sa, uint16_t port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons(port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

socklen_t
addr_sslen(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
}

int
addr_is_any(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	if (sa->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr,
		    &in6addr_any, sizeof(struct in6_addr)) == 0;
	return 0;
}

int
addr_equal_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr,
		    sizeof(struct in6_addr)) == 0;
	return 0;
}

int
addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	return addr_equal_ip(a, b) && addr_port(a) == addr_port(b);
}

int
addr_local_towards(const struct addr *dest, struct addr *out)
{
	int fd, rc = -1;

	memset(out, 0, sizeof *out);
	out->len = sizeof out->ss;
	/*
	 * Non-blocking although nothing reads it: UDT's receive worker of a
	 * socket it has just closed may still call recvmsg on the old
	 * descriptor number, which this socket can take; blocking, it would
	 * hold that worker, and UDT's global lock with it, for good.
	 */
	fd = socket(dest->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -1;
	/* A UDP connect sends nothing: it only picks the route. */
	if (connect(fd, (const struct sockaddr *)&dest->ss, dest->len) == 0 &&
	    getsockname(fd, (struct sockaddr *)&out->ss, &out->len) == 0) {
		addr_set_port((struct sockaddr *)&out->ss, 0);
		rc = 0;
	}
	close(fd);
	return rc;
}
