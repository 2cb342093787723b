/* Socket addresses as users write them: "HOST", "HOST:PORT", "[V6]:PORT". */
#ifndef TREECAST_ADDR_H
#define TREECAST_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Long enough for "[ffff:...:ffff]:65535" and its terminator. */
#define ADDR_STRLEN 64

struct addr {
	struct sockaddr_storage	ss;
	socklen_t		len;
};

/*
 * Parses "HOST[:PORT]" into a socket address. HOST is a numeric IPv4 or
 * IPv6 address (IPv6 in brackets when a port follows) or, when resolve is
 * non-zero, a name looked up with getaddrinfo (start-up only: it blocks).
 * A missing port takes default_port. Returns 0, or -1 with a sentence that
 * names the rejected value in err.
 */
int	addr_parse(const char *text, uint16_t default_port, int resolve,
	    struct addr *out, char *err, size_t errlen);
/* Parses a decimal port 1..65535 (0 when allow_zero); -1 if it is not one. */
int	addr_parse_port(const char *text, int allow_zero, uint16_t *out);
/* Writes "IP:PORT" or "[IP6]:PORT"; returns buf. */
char	*addr_format(const struct sockaddr *sa, char *buf, size_t len);
uint16_t addr_port(const struct sockaddr *sa);
void	addr_set_port(struct sockaddr *sa, uint16_t port);
/* Same family, address and port. */
int	addr_equal(const struct sockaddr *a, const struct sockaddr *b);
/* The local address the kernel would use towards dest (port 0); -1 if
 * there is no route. */
int	addr_local_towards(const struct addr *dest, struct addr *out);
/* The length of the socket address ss holds, by its family: what
 * sendto() and bind() take. */
socklen_t addr_sslen(const struct sockaddr_storage *ss);
/* 0.0.0.0 or ::. */
int	addr_is_any(const struct sockaddr *sa);
/* Same family and address, any port. */
int	addr_equal_ip(const struct sockaddr *a, const struct sockaddr *b);

#endif
