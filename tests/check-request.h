/* Building the control protocol's messages as a node does, for the suites
 * that talk to the negotiator or its broker: a request with a fresh
 * transaction id, sealed under a session's (or link's) key, and the
 * answer to an INSTRUCT; and the check on what comes back. */
#ifndef TREECAST_CHECK_REQUEST_H
#define TREECAST_CHECK_REQUEST_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "net/wire/proto.h"
#include "net/wire/stun.h"

/* Starts a request of method in buf, its new transaction id in tid. */
static inline void
request_begin(struct stun_builder *b, uint8_t *buf, size_t cap,
    uint16_t method, uint8_t tid[12])
{
	stun_random_tid(tid);
	stun_build_init(b, buf, cap, method, STUN_REQUEST, tid);
}

/* Ends the message: MESSAGE-INTEGRITY-SHA256 under key (TC_KEY_LEN
 * bytes), FINGERPRINT; its length, or -1. */
static inline int
request_seal(struct stun_builder *b, const uint8_t *key)
{
	stun_put_integrity_sha256(b, key, TC_KEY_LEN);
	stun_put_fingerprint(b);
	return stun_build_finish(b);
}

/* The answer to the INSTRUCT of transaction tid, with the endpoint ep,
 * under key: its length in buf. */
static inline int
instruct_ack(uint8_t *buf, size_t cap, const uint8_t tid[12],
    const struct tc_endpoint *ep, const uint8_t *key)
{
	struct stun_builder b;

	stun_build_init(&b, buf, cap, TC_METHOD_INSTRUCT, STUN_SUCCESS, tid);
	tc_put_endpoint(&b, ep);
	return request_seal(&b, key);
}

/* The n bytes at buf are a message of method and class (parsed into m),
 * under key. */
static inline void
message_is(const uint8_t *buf, size_t n, struct stun_msg *m, uint16_t method,
    enum stun_class cls, const uint8_t *key)
{
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(stun_parse(buf, n, m, NULL), 0);
	ck_assert_int_eq(m->method, method);
	ck_assert_int_eq(m->cls, cls);
	ck_assert_int_eq(stun_check_integrity_sha256(m, key, TC_KEY_LEN), 0);
}

#endif
