/* What the suites that run a real daemon share: a loopback address, a
 * free port, the HTTP API's GET, and the check that the daemon ends
 * cleanly on SIGTERM. */
#ifndef TREECAST_CHECK_DAEMON_H
#define TREECAST_CHECK_DAEMON_H

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* 127.0.0.1:port (host order) in in. */
static inline void
loopback_in(struct sockaddr_in *in, uint16_t port)
{
	memset(in, 0, sizeof *in);
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	in->sin_port = htons(port);
}

/* A port of TYPE (SOCK_DGRAM, SOCK_STREAM) nobody uses now, on
 * 127.0.0.1. */
static inline uint16_t
free_port(int type)
{
	struct sockaddr_in in;
	socklen_t len = sizeof in;
	int fd = socket(AF_INET, type, 0);

	loopback_in(&in, 0);
	bind(fd, (struct sockaddr *)&in, sizeof in);
	getsockname(fd, (struct sockaddr *)&in, &len);
	close(fd);
	return ntohs(in.sin_port);
}

/* GET path from an HTTP API on 127.0.0.1:port; the body (in a static
 * buffer, good until the next call), or NULL. */
static inline char *
http_get_at(uint16_t port, const char *path)
{
	static char buf[65536];
	struct sockaddr_in in;
	size_t got = 0;
	ssize_t n;
	char *body;
	int fd;

	loopback_in(&in, port);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&in, sizeof in) != 0) {
		close(fd);
		return NULL;
	}
	n = snprintf(buf, sizeof buf, "GET %s HTTP/1.0\r\nHost: x\r\n\r\n",
	    path);
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		return NULL;
	}
	while (got < sizeof buf - 1 &&
	    (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	body = strstr(buf, "\r\n\r\n");
	return body != NULL ? body + 4 : NULL;
}

/* Ends the daemon at pid with SIGTERM and asserts it exited 0: a crash
 * or a hang at shutdown would show here. */
static inline void
daemon_stop(pid_t pid, const char *name)
{
	int status;

	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "%s did not exit cleanly (status %d)", name, status);
}

#endif
