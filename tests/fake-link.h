/* For a program that drives media/serve over links it fakes (check-serve,
 * fuzz-resume): the net/link/link calls serve.c makes besides link_send and
 * link_close, which the program defines with its struct link (it has a
 * peer). No UDT statistics, nothing unacknowledged: serve's check for
 * children gone silent never drops one. */
#ifndef TREECAST_FAKE_LINK_H
#define TREECAST_FAKE_LINK_H

#include <stdint.h>
#include <sys/types.h>

#include "net/link/link.h"
#include "net/link/udt.h"

uint64_t
link_peer(const struct link *l)
{
	return l->peer;
}

int
link_stats(struct link *l, struct udt_stats *out)
{
	(void)l;
	(void)out;
	return -1;
}

ssize_t
link_unacked(struct link *l)
{
	(void)l;
	return 0;
}

#endif
