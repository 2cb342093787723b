/* libFuzzer target for net/wire/pcp: arbitrary bytes through
 * pcp_map_decode, against a plain reading of RFC 6887's answer; what
 * decodes must say what its bytes say, and its request must encode and
 * be refused as an answer. Any broken promise aborts. */
#include "config.h"

#include <string.h>

#include "net/wire/pcp.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct pcp_map m;
	uint8_t out[PCP_MAP_LEN], ip4[4];
	int ok = n >= PCP_MAP_LEN && n <= PCP_MAX_LEN && n % 4 == 0 &&
	    data[0] == PCP_VERSION && data[1] == (0x80 | PCP_OPCODE_MAP);

	memset(&m, 0xa5, sizeof m);
	fuzz_assert((pcp_map_decode(data, n, &m) == 0) == ok);
	if (!ok)
		return 0;
	fuzz_assert(m.result == data[3]);
	fuzz_assert(m.internal_port == (data[40] << 8 | data[41]));
	fuzz_assert(m.external_port == (data[42] << 8 | data[43]));
	fuzz_assert(memcmp(m.nonce, data + 24, PCP_NONCE_LEN) == 0);
	fuzz_assert(memcmp(m.external_ip, data + 44, 16) == 0);
	if (pcp_ip16_to4(m.external_ip, ip4) == 0)
		fuzz_assert(memcmp(ip4, data + 56, 4) == 0);
	/* Sent back as a request, it is never taken for an answer. */
	fuzz_assert(pcp_map_encode(&m, out, sizeof out) == PCP_MAP_LEN);
	fuzz_assert(pcp_map_decode(out, sizeof out, &m) == -1);
	return 0;
}
