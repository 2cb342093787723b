/* The negotiator's HTTP side (libevent's evhttp): the JSON API. */
#ifndef TREECAST_HTTP_H
#define TREECAST_HTTP_H

#include <stddef.h>

#include "net/util/addr.h"

struct event_base;
struct server;
struct http;

struct http *http_create(struct event_base *base, struct server *srv,
	    const struct addr *listen, char *err, size_t errlen);
void	http_free(struct http *h);

#endif
