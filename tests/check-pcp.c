/* Unit tests for net/wire/pcp: PCP's MAP request and answer (RFC 6887),
 * byte for byte. */
#include "config.h"

#include <check.h>
#include <string.h>

#include "net/wire/pcp.h"
#include "tests/check-run.h"

static const uint8_t nonce[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

/* A request as section 7.1 and 11.1 lay it out. */
START_TEST(test_encode)
{
	struct pcp_map m;
	uint8_t out[PCP_MAP_LEN], ip4[4] = { 10, 1, 0, 2 };
	static const uint8_t want[PCP_MAP_LEN] = {
		2, 1, 0, 0, 0, 0, 0, 120,		/* v2 MAP, 120 s */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 0, 2,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,	/* nonce */
		17, 0, 0, 0, 0x9c, 0x40, 0x9c, 0x41,	/* UDP, 40000, 40001 */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0,
	};

	memset(&m, 0, sizeof m);
	memcpy(m.nonce, nonce, sizeof nonce);
	m.protocol = 17;
	m.internal_port = 40000;
	m.external_port = 40001;
	m.lifetime = 120;
	pcp_ip4_to16(ip4, m.client_ip);
	pcp_ip4_to16((const uint8_t[4]){ 0 }, m.external_ip);
	ck_assert_int_eq(pcp_map_encode(&m, out, sizeof out), PCP_MAP_LEN);
	ck_assert_mem_eq(out, want, sizeof want);
	ck_assert_int_eq(pcp_map_encode(&m, out, PCP_MAP_LEN - 1), -1);
}
END_TEST

static void
answer(uint8_t *a, uint8_t result)
{
	memset(a, 0, PCP_MAP_LEN);
	a[0] = 2;
	a[1] = 0x81;		/* R, MAP */
	a[3] = result;
	a[7] = 60;		/* lifetime */
	a[11] = 7;		/* epoch */
	memcpy(a + 24, nonce, sizeof nonce);
	a[36] = 17;
	a[40] = 0x9c, a[41] = 0x40;	/* internal 40000 */
	a[42] = 0xc3, a[43] = 0x50;	/* assigned 50000 */
	a[54] = 0xff, a[55] = 0xff;
	a[56] = 198, a[57] = 51, a[58] = 100, a[59] = 12;
}

/* An answer: every field; a failure's code; options skipped. */
START_TEST(test_decode)
{
	uint8_t a[PCP_MAP_LEN + 8], ip4[4];
	struct pcp_map m;

	answer(a, PCP_SUCCESS);
	ck_assert_int_eq(pcp_map_decode(a, PCP_MAP_LEN, &m), 0);
	ck_assert_uint_eq(m.result, PCP_SUCCESS);
	ck_assert_uint_eq(m.lifetime, 60);
	ck_assert_uint_eq(m.epoch, 7);
	ck_assert_mem_eq(m.nonce, nonce, sizeof nonce);
	ck_assert_uint_eq(m.protocol, 17);
	ck_assert_uint_eq(m.internal_port, 40000);
	ck_assert_uint_eq(m.external_port, 50000);
	ck_assert_int_eq(pcp_ip16_to4(m.external_ip, ip4), 0);
	ck_assert_mem_eq(ip4, ((const uint8_t[4]){ 198, 51, 100, 12 }), 4);
	answer(a, PCP_NO_RESOURCES);
	ck_assert_int_eq(pcp_map_decode(a, PCP_MAP_LEN, &m), 0);
	ck_assert_uint_eq(m.result, PCP_NO_RESOURCES);
	memset(a + PCP_MAP_LEN, 0, 8);	/* an option after the body */
	ck_assert_int_eq(pcp_map_decode(a, sizeof a, &m), 0);
}
END_TEST

/* What is not a MAP answer: short, long, not a multiple of 4, another
 * version, a request, another opcode; an address that is not IPv4. */
START_TEST(test_refuse)
{
	uint8_t a[PCP_MAX_LEN + 4], ip4[4];
	struct pcp_map m;

	memset(a, 0, sizeof a);
	answer(a, 0);
	ck_assert_int_eq(pcp_map_decode(a, PCP_MAP_LEN - 4, &m), -1);
	ck_assert_int_eq(pcp_map_decode(a, PCP_MAP_LEN + 2, &m), -1);
	ck_assert_int_eq(pcp_map_decode(a, PCP_MAX_LEN + 4, &m), -1);
	ck_assert_int_eq(pcp_map_decode(a, PCP_MAX_LEN, &m), 0);
	a[0] = 0;	/* NAT-PMP's version */
	ck_assert_int_eq(pcp_map_decode(a, PCP_MAP_LEN, &m), -1);
	answer(a, 0);
	a[1] = 0x01;	/* a request */
	ck_assert_int_eq(pcp_map_decode(a, PCP_MAP_LEN, &m), -1);
	a[1] = 0x82;	/* PEER */
	ck_assert_int_eq(pcp_map_decode(a, PCP_MAP_LEN, &m), -1);
	memset(m.external_ip, 0x20, sizeof m.external_ip);
	ck_assert_int_eq(pcp_ip16_to4(m.external_ip, ip4), -1);
}
END_TEST

int
main(void)
{
	struct check_case cases[] = {
		{ .name = "map", .tests = { test_encode, test_decode,
		    test_refuse } },
	};

	return check_run_cases("pcp", cases, sizeof cases / sizeof cases[0]);
}
