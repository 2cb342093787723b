/*
 * The negotiation server without sockets or threads, for tests and
 * fuzzers: the real registry, channels, forest, broker and handlers, one
 * worker, and datagrams handed in and answered over caller buffers. Not
 * for the program: nothing here sends or expires anything.
 */
#ifndef TREECAST_SERVER_TEST_H
#define TREECAST_SERVER_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "negotiator/broker.h"
#include "negotiator/server.h"

struct sockaddr;

/*
 * A server as server_create makes it from cfg (threads and http ignored,
 * no relay), but whose sockets are never opened: each socket cfg names
 * exists only as its local address, for Binding's answers. The broker
 * remembers max_links links (0: its default) and sends through send,
 * which may discard. Free it with server_free. NULL with a reason in err.
 */
struct server *server_create_detached(struct event_base *base,
	    const struct server_config *cfg, uint32_t max_links,
	    broker_send_fn send, void *ctx, char *err, size_t errlen);

/*
 * One datagram of len bytes from from, as if it came to the primary
 * socket: handled as the receive loop handles it. The answer (from
 * whichever socket it would leave) is copied to out and its length
 * returned; 0 when there is none (dropped), or it is over cap.
 */
size_t	server_dispatch(struct server *s, const uint8_t *in, size_t len,
	    const struct sockaddr *from, uint8_t *out, size_t cap);

#endif
