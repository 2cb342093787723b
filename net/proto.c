/* Tables of the control protocol. */
#include "config.h"

#include "net/proto.h"

const uint16_t tc_known_attrs[] = {
	STUN_ATTR_MAPPED_ADDRESS, STUN_ATTR_CHANGE_REQUEST, STUN_ATTR_USERNAME,
	STUN_ATTR_MESSAGE_INTEGRITY, STUN_ATTR_ERROR_CODE,
	STUN_ATTR_UNKNOWN_ATTRIBUTES, STUN_ATTR_REALM, STUN_ATTR_NONCE,
	STUN_ATTR_MESSAGE_INTEGRITY_SHA256, STUN_ATTR_XOR_MAPPED_ADDRESS,
	STUN_ATTR_PADDING,
	TC_ATTR_NODE_ID, TC_ATTR_CHANNEL, TC_ATTR_XOR_INTERNAL,
	TC_ATTR_NAT_PROFILE, TC_ATTR_ROLE, TC_ATTR_SESSION,
	TC_ATTR_SESSION_KEY, TC_ATTR_INTERVAL, TC_ATTR_SEQ, TC_ATTR_LINK,
};
const size_t tc_known_attrs_count =
    sizeof tc_known_attrs / sizeof tc_known_attrs[0];

const char *
tc_role_name(enum tc_role r)
{
	switch (r) {
	case TC_ROLE_PEER:
		return "peer";
	case TC_ROLE_ORIGIN:
		return "origin";
	case TC_ROLE_PROBE:
		return "probe";
	default:
		return "unknown";
	}
}

const char *
tc_method_name(uint16_t method)
{
	switch (method) {
	case STUN_METHOD_BINDING:
		return "binding";
	case TC_METHOD_REGISTER:
		return "register";
	case TC_METHOD_KEEPALIVE:
		return "keepalive";
	case TC_METHOD_LEAVE:
		return "leave";
	case TC_METHOD_CHECK:
		return "check";
	default:
		return "unknown";
	}
}
