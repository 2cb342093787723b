/* Unit tests for net/util/: address parsing and printing, log levels, options. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "net/util/addr.h"
#include "net/util/clock.h"
#include "net/util/log.h"
#include "net/wire/key.h"
#include "net/wire/proto.h"
#include "net/wire/stun.h"
#include "tests/check-run.h"

static void
parse_ok(const char *text, uint16_t defport, const char *expect)
{
	struct addr a;
	char err[160], out[ADDR_STRLEN];

	ck_assert_msg(addr_parse(text, defport, 0, &a, err, sizeof err) == 0,
	    "%s: %s", text, err);
	addr_format((struct sockaddr *)&a.ss, out, sizeof out);
	ck_assert_str_eq(out, expect);
}

static void
parse_bad(const char *text, const char *needle)
{
	struct addr a;
	char err[160] = "";

	ck_assert_int_eq(addr_parse(text, 3478, 0, &a, err, sizeof err), -1);
	ck_assert_msg(strstr(err, needle) != NULL, "'%s' lacks '%s'", err,
	    needle);
}

START_TEST(test_addr_parse)
{
	parse_ok("192.0.2.1:3478", 0, "192.0.2.1:3478");
	parse_ok("192.0.2.1", 3478, "192.0.2.1:3478");
	parse_ok("[2001:db8::1]:9", 0, "[2001:db8::1]:9");
	parse_ok("2001:db8::1", 7, "[2001:db8::1]:7");
	parse_ok("[::1]", 80, "[::1]:80");
	parse_ok("0.0.0.0:65535", 0, "0.0.0.0:65535");
}
END_TEST

START_TEST(test_addr_parse_errors)
{
	/* Every error names the value it rejected. */
	parse_bad("192.0.2.1:0", "port '0'");
	parse_bad("192.0.2.1:65536", "port '65536'");
	parse_bad("192.0.2.1:x", "port 'x'");
	parse_bad("192.0.2.1:", "port ''");
	parse_bad("not-an-ip:1", "'not-an-ip' is not a numeric IP");
	parse_bad("[::1", "missing ']'");
	parse_bad("[::1]x", "unexpected text");
	parse_bad(":80", "missing host");
	parse_bad("", "empty address");
}
END_TEST

START_TEST(test_addr_compare)
{
	struct addr a, b;
	char err[160];

	ck_assert_int_eq(addr_parse("192.0.2.1:1", 0, 0, &a, err, sizeof err), 0);
	ck_assert_int_eq(addr_parse("192.0.2.1:2", 0, 0, &b, err, sizeof err), 0);
	ck_assert(addr_equal_ip((struct sockaddr *)&a.ss, (struct sockaddr *)&b.ss));
	ck_assert(!addr_equal((struct sockaddr *)&a.ss, (struct sockaddr *)&b.ss));
	addr_set_port((struct sockaddr *)&b.ss, 1);
	ck_assert(addr_equal((struct sockaddr *)&a.ss, (struct sockaddr *)&b.ss));
	ck_assert_uint_eq(addr_port((struct sockaddr *)&b.ss), 1);
}
END_TEST

START_TEST(test_addr_port)
{
	uint16_t p;

	ck_assert_int_eq(addr_parse_port("0", 1, &p), 0);
	ck_assert_uint_eq(p, 0);
	ck_assert_int_eq(addr_parse_port("0", 0, &p), -1);
	ck_assert_int_eq(addr_parse_port("-1", 1, &p), -1);
	ck_assert_int_eq(addr_parse_port("+1", 1, &p), -1);
	ck_assert_int_eq(addr_parse_port("1 ", 1, &p), -1);
	ck_assert_int_eq(addr_parse_port("65535", 0, &p), 0);
	ck_assert_uint_eq(p, 65535);
}
END_TEST

/* addr_sslen by family; the clock's three readings. */
START_TEST(test_sslen_clock)
{
	struct sockaddr_storage ss;
	uint64_t a, b;

	memset(&ss, 0, sizeof ss);
	ss.ss_family = AF_INET;
	ck_assert_uint_eq(addr_sslen(&ss), sizeof(struct sockaddr_in));
	ss.ss_family = AF_INET6;
	ck_assert_uint_eq(addr_sslen(&ss), sizeof(struct sockaddr_in6));

	a = clock_ms();
	b = clock_us();
	ck_assert_uint_ge(b / 1000, a);
	ck_assert_uint_ge(clock_ms(), a);
	/* The wall clock is past 2020 in µs. */
	ck_assert_uint_gt(clock_wall_us(), UINT64_C(1577836800000000));
}
END_TEST

/* The protocol's rows make its names. */
START_TEST(test_proto_names)
{
	size_t i, n;

	ck_assert_str_eq(tc_method_name(TC_METHOD_REGISTER), "register");
	ck_assert_str_eq(tc_method_name(TC_METHOD_ACCUSE), "accuse");
	ck_assert_str_eq(tc_method_name(STUN_METHOD_BINDING), "binding");
	ck_assert_str_eq(tc_method_name(0x0FF), "unknown");
	ck_assert_str_eq(tc_attr_name(TC_ATTR_NODE_ID), "NODE-ID");
	ck_assert_str_eq(tc_attr_name(TC_ATTR_LINK_SEEN), "LINK-SEEN");
	ck_assert_str_eq(tc_attr_name(TC_ATTR_XOR_CANDIDATE6),
	    "XOR-CANDIDATE6");
	ck_assert_ptr_null(tc_attr_name(STUN_ATTR_USERNAME));
	/* The last rows are known too (the list is the rows'). */
	for (i = 0, n = 0; i < tc_known_attrs_count; i++)
		n += tc_known_attrs[i] == TC_ATTR_LINK_SEEN ||
		    tc_known_attrs[i] == TC_ATTR_XOR_CANDIDATE6 ||
		    tc_known_attrs[i] == TC_ATTR_XOR_ADDRESS6;
	ck_assert_uint_eq(n, 3);
}
END_TEST

START_TEST(test_log_level)
{
	enum log_level l;

	ck_assert_int_eq(log_level_parse("debug", &l), 0);
	ck_assert_int_eq(l, LOG_DEBUG);
	ck_assert_int_eq(log_level_parse("WARN", &l), 0);
	ck_assert_int_eq(l, LOG_WARN);
	ck_assert_int_eq(log_level_parse("4", &l), 0);
	ck_assert_int_eq(l, LOG_TRACE);
	ck_assert_int_eq(log_level_parse("5", &l), -1);
	ck_assert_int_eq(log_level_parse("loud", &l), -1);
	ck_assert_str_eq(log_level_name(LOG_INFO), "info");
}
END_TEST

/* A key file made on first use, 0600, and the same pair read back. */
START_TEST(test_key_file)
{
	char dir[] = "/tmp/check-key.XXXXXX", path[64], err[256];
	char hex[KEY_HEX_LEN + 1];
	struct key_pair a, b;
	uint8_t pk[KEY_PUBLIC_LEN], sig[KEY_SIG_LEN];
	struct stat sb;
	int created, fd;

	ck_assert_int_ge(sodium_init(), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/origin.key", dir);
	ck_assert_int_eq(key_load(path, 0, &a, &created, err, sizeof err), -1);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	ck_assert_int_eq(key_load(path, 1, &a, &created, err, sizeof err), 0);
	ck_assert_int_eq(created, 1);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(key_load(path, 1, &b, &created, err, sizeof err), 0);
	ck_assert_int_eq(created, 0);
	ck_assert_mem_eq(a.pk, b.pk, sizeof a.pk);
	/* The pair works: a signature by the secret half checks out. */
	crypto_sign_detached(sig, NULL, (const uint8_t *)"x", 1, b.sk);
	ck_assert_int_eq(crypto_sign_verify_detached(sig,
	    (const uint8_t *)"x", 1, a.pk), 0);
	/* Hex both ways. */
	key_hex(a.pk, hex);
	ck_assert_uint_eq(strlen(hex), KEY_HEX_LEN);
	ck_assert_int_eq(key_parse_hex(hex, strlen(hex), pk), 0);
	ck_assert_mem_eq(pk, a.pk, sizeof pk);
	hex[5] = 'g';
	ck_assert_int_eq(key_parse_hex(hex, strlen(hex), pk), -1);
	ck_assert_int_eq(key_parse_hex(hex, 10, pk), -1);
	/* Open to others: refused, naming the mode. */
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(key_load(path, 1, &b, &created, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "0644") != NULL, "%s", err);
	/* Not a key: refused. */
	ck_assert_int_eq(unlink(path), 0);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "hello\n", 6), 6);
	close(fd);
	ck_assert_int_eq(key_load(path, 1, &b, &created, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "hex digits") != NULL, "%s", err);
	unlink(path);
	rmdir(dir);
	key_clear(&a);
	key_clear(&b);
}
END_TEST

/* A node's figures (STATUS's HEALTH): 72 bytes with the playout figures
 * last; an older node's 60 read too, as no playout, and 56, as none bad
 * either; other lengths refused. */
START_TEST(test_health)
{
	struct tc_health h, back;
	struct stun_builder b;
	struct stun_msg m;
	uint8_t buf[STUN_MAX_MSG], tid[12] = { 0 }, v[TC_HEALTH_LEN + 4];
	const struct stun_attr *a;
	size_t i;
	int len;

	memset(&h, 0, sizeof h);
	h.bytes_in = 1;
	h.chunks = 2;
	h.loss_permille = 7;
	h.bad_chunks = 0x01020304;
	h.played_ms = 0x05060708;
	h.stalled_ms = 9;
	h.stalls = 0x0a0b0c0d;
	stun_build_init(&b, buf, sizeof buf, TC_METHOD_STATUS, STUN_REQUEST,
	    tid);
	ck_assert_int_eq(tc_put_health(&b, &h), 0);
	ck_assert_int_gt(len = stun_build_finish(&b), 0);
	ck_assert_int_eq(stun_parse(buf, (size_t)len, &m, NULL), 0);
	ck_assert_ptr_nonnull(a = stun_find(&m, TC_ATTR_HEALTH));
	ck_assert_uint_eq(a->len, 72);
	ck_assert_mem_eq(a->value + 56, "\x01\x02\x03\x04\x05\x06\x07\x08"
	    "\x00\x00\x00\x09\x0a\x0b\x0c\x0d", 16);
	memset(&back, 0, sizeof back);	/* the struct's padding */
	ck_assert_int_eq(tc_get_health(&m, &back), 0);
	ck_assert_mem_eq(&back, &h, sizeof h);
	memcpy(v, a->value, TC_HEALTH_LEN);
	for (i = TC_HEALTH_LEN_V1 - 4; i <= TC_HEALTH_LEN + 4; i += 4) {
		stun_build_init(&b, buf, sizeof buf, TC_METHOD_STATUS,
		    STUN_REQUEST, tid);
		stun_put(&b, TC_ATTR_HEALTH, v, (uint16_t)i);
		ck_assert_int_gt(len = stun_build_finish(&b), 0);
		ck_assert_int_eq(stun_parse(buf, (size_t)len, &m, NULL), 0);
		memset(&back, 0xff, sizeof back);
		if (i != TC_HEALTH_LEN_V1 && i != TC_HEALTH_LEN_V2 &&
		    i != TC_HEALTH_LEN) {
			ck_assert_int_eq(tc_get_health(&m, &back), -1);
			continue;
		}
		ck_assert_int_eq(tc_get_health(&m, &back), 0);
		ck_assert_uint_eq(back.loss_permille, 7);
		ck_assert_uint_eq(back.bad_chunks, i >= TC_HEALTH_LEN_V2 ?
		    0x01020304 : 0);
		ck_assert_uint_eq(back.played_ms, i == TC_HEALTH_LEN ?
		    0x05060708 : 0);
		ck_assert_uint_eq(back.stalls, i == TC_HEALTH_LEN ?
		    0x0a0b0c0d : 0);
	}
}
END_TEST

/* MOVE's replay protection: only a number above the last is taken. */
START_TEST(test_move_fresh)
{
	struct stun_builder b;
	struct stun_msg m;
	uint8_t buf[256], tid[12] = { 0 };
	uint64_t last = 0;
	int len, i;
	static const uint64_t seqs[] = { 5, 5, 4, 6, UINT64_MAX, 7 };
	static const int fresh[] = { 0, -1, -1, 0, 0, -1 };

	for (i = 0; i < 6; i++) {
		stun_build_init(&b, buf, sizeof buf, TC_METHOD_MOVE,
		    STUN_REQUEST, tid);
		stun_put_u64(&b, TC_ATTR_PARENT, 1);
		stun_put_u64(&b, TC_ATTR_MOVE_SEQ, seqs[i]);
		ck_assert_int_gt(len = stun_build_finish(&b), 0);
		ck_assert_int_eq(stun_parse(buf, (size_t)len, &m, NULL), 0);
		ck_assert_int_eq(tc_move_fresh(&m, &last), fresh[i]);
	}
	ck_assert_uint_eq(last, UINT64_MAX);
	/* None at all: refused (an older negotiator's MOVE, unprotected). */
	last = 0;
	stun_build_init(&b, buf, sizeof buf, TC_METHOD_MOVE, STUN_REQUEST,
	    tid);
	stun_put_u64(&b, TC_ATTR_PARENT, 1);
	ck_assert_int_gt(len = stun_build_finish(&b), 0);
	ck_assert_int_eq(stun_parse(buf, (size_t)len, &m, NULL), 0);
	ck_assert_int_eq(tc_move_fresh(&m, &last), -1);
}
END_TEST

/* The link's evidence round-trips; a REPORT without it (an older node)
 * reads as absent, a wrong length as malformed. */
START_TEST(test_link_seen)
{
	struct tc_link_seen s = { 40, 0, 0, 0, 12, 1500 }, back;
	struct tc_outcome o = { 0, LINK_STEP_PUNCH, LINK_PATH_NONE, 0 };
	struct stun_builder b;
	struct stun_msg m;
	uint8_t buf[STUN_MAX_MSG], tid[12] = { 0 }, v[TC_LINK_SEEN_LEN] = { 0 };
	int len;

	stun_build_init(&b, buf, sizeof buf, TC_METHOD_REPORT, STUN_REQUEST,
	    tid);
	tc_put_outcome(&b, &o);
	ck_assert_int_gt(len = stun_build_finish(&b), 0);
	ck_assert_int_eq(stun_parse(buf, (size_t)len, &m, NULL), 0);
	ck_assert_int_eq(tc_get_link_seen(&m, &back), 1);
	ck_assert_uint_eq(back.sent, 0);
	stun_build_init(&b, buf, sizeof buf, TC_METHOD_REPORT, STUN_REQUEST,
	    tid);
	ck_assert_int_eq(tc_put_link_seen(&b, &s), 0);
	ck_assert_int_gt(len = stun_build_finish(&b), 0);
	ck_assert_int_eq(stun_parse(buf, (size_t)len, &m, NULL), 0);
	ck_assert_int_eq(tc_get_link_seen(&m, &back), 0);
	ck_assert_uint_eq(back.sent, 40);
	ck_assert_uint_eq(back.rtt_ms, 12);
	ck_assert_uint_eq(back.loss_permille, 1000);	/* clamped */
	stun_build_init(&b, buf, sizeof buf, TC_METHOD_REPORT, STUN_REQUEST,
	    tid);
	stun_put(&b, TC_ATTR_LINK_SEEN, v, TC_LINK_SEEN_LEN - 2);
	ck_assert_int_gt(len = stun_build_finish(&b), 0);
	ck_assert_int_eq(stun_parse(buf, (size_t)len, &m, NULL), 0);
	ck_assert_int_eq(tc_get_link_seen(&m, &back), -1);
}
END_TEST

/* ep, and cand as XOR-CANDIDATE6 (NULL: none), built into a LINK and
 * read back into back. */
static void
endpoint_back(const struct tc_endpoint *ep, const struct addr *cand,
    struct tc_endpoint *back)
{
	struct stun_builder b;
	struct stun_msg m;
	uint8_t buf[STUN_MAX_MSG], tid[12] = { 0 };
	int len;

	stun_build_init(&b, buf, sizeof buf, TC_METHOD_LINK, STUN_REQUEST,
	    tid);
	tc_put_endpoint(&b, ep);
	if (cand != NULL)
		stun_put_xor_address(&b, TC_ATTR_XOR_CANDIDATE6,
		    (const struct sockaddr *)&cand->ss);
	ck_assert_int_gt(len = stun_build_finish(&b), 0);
	ck_assert_int_eq(stun_parse(buf, (size_t)len, &m, NULL), 0);
	ck_assert_int_eq(tc_get_endpoint(&m, back), 0);
}

/* An endpoint's IPv6 candidate round-trips; one absent, IPv4 or
 * IPv4-mapped reads as none, and the endpoint is still read. */
START_TEST(test_endpoint_v6)
{
	static const char *const texts[] = { "[2001:db8:1::2]:40003",
	    "198.51.100.7:40003", "[::ffff:198.51.100.7]:40003" };
	struct tc_endpoint ep, back;
	struct addr a, v6;
	char err[80];
	int i;

	memset(&ep, 0, sizeof ep);
	ck_assert_int_eq(addr_parse("198.51.100.2:40001", 0, 0, &a, err,
	    sizeof err), 0);
	memcpy(&ep.external, &a.ss, a.len);
	memcpy(&ep.internal, &a.ss, a.len);
	endpoint_back(&ep, NULL, &back);
	ck_assert_int_eq(back.v6.ss_family, 0);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(addr_parse(texts[i], 0, 0, &a, err,
		    sizeof err), 0);
		endpoint_back(&ep, &a, &back);
		ck_assert_int_eq(back.v6.ss_family, i == 0 ? AF_INET6 : 0);
	}
	/* What tc_put_endpoint writes of an IPv6 candidate, read back. */
	ck_assert_int_eq(addr_parse(texts[0], 0, 0, &v6, err, sizeof err), 0);
	memcpy(&ep.v6, &v6.ss, v6.len);
	endpoint_back(&ep, NULL, &back);
	ck_assert(addr_equal((struct sockaddr *)&back.v6,
	    (struct sockaddr *)&v6.ss));
}
END_TEST

int
main(void)
{
	struct check_case cases[] = {
		{ .name = "core", .tests = { test_addr_parse,
		    test_addr_parse_errors, test_addr_compare, test_addr_port,
		    test_sslen_clock, test_proto_names, test_log_level,
		    test_key_file, test_health, test_move_fresh,
		    test_link_seen, test_endpoint_v6 } },
	};

	return check_run_cases("net", cases, sizeof cases / sizeof cases[0]);
}
