/* NAT profile classification and port prediction. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "net/wire/nat.h"

static const char *const nat_mapping_names[] = {
	[NAT_MAPPING_UNKNOWN] = "unknown",
	[NAT_MAPPING_NONE] = "none",
	[NAT_MAPPING_EIM] = "endpoint-independent",
	[NAT_MAPPING_ADM] = "address-dependent",
	[NAT_MAPPING_APDM] = "address-and-port-dependent",
};

static const char *const nat_allocation_names[] = {
	[NAT_ALLOC_UNKNOWN] = "unknown",
	[NAT_ALLOC_PRESERVED] = "preserved",
	[NAT_ALLOC_OFFSET] = "offset",
	[NAT_ALLOC_SEQUENTIAL] = "sequential",
	[NAT_ALLOC_RANDOM] = "random",
};

static const char *const nat_filtering_names[] = {
	[NAT_FILTER_UNKNOWN] = "unknown",
	[NAT_FILTER_EIF] = "endpoint-independent",
	[NAT_FILTER_ADF] = "address-dependent",
	[NAT_FILTER_APDF] = "address-and-port-dependent",
};

const char *
nat_mapping_name(enum nat_mapping m)
{
	return (unsigned)m < NAT_MAPPING_COUNT ? nat_mapping_names[m] : NULL;
}

const char *
nat_allocation_name(enum nat_allocation a)
{
	return (unsigned)a < NAT_ALLOC_COUNT ? nat_allocation_names[a] : NULL;
}

const char *
nat_filtering_name(enum nat_filtering f)
{
	return (unsigned)f < NAT_FILTER_COUNT ? nat_filtering_names[f] : NULL;
}

unsigned
nat_class(const struct nat_profile *p)
{
	unsigned a = p->allocation < NAT_ALLOC_COUNT ? p->allocation : 0;

	switch (p->mapping) {
	case NAT_MAPPING_NONE:
		return 1;
	case NAT_MAPPING_EIM:
		return 2 + a;
	case NAT_MAPPING_ADM:
		return 2 + NAT_ALLOC_COUNT + a;
	case NAT_MAPPING_APDM:
		return 2 + 2 * NAT_ALLOC_COUNT + a;
	default:
		return 0;
	}
}

const char *
nat_class_label(unsigned c)
{
	static const char *const names[NAT_CLASS_COUNT] = {
		"unknown", "open",
		"eim", "eim-preserved", "eim-offset", "eim-sequential",
		"eim-random",
		"adm", "adm-preserved", "adm-offset", "adm-sequential",
		"adm-random",
		"apdm", "apdm-preserved", "apdm-offset", "apdm-sequential",
		"apdm-random"
	};

	return c < NAT_CLASS_COUNT ? names[c] : "unknown";
}

const char *
nat_class_name(const struct nat_profile *p)
{
	return nat_class_label(nat_class(p));
}

int
nat_reachable(const struct nat_profile *p)
{
	if (p->flags & NAT_F_PORTMAP)
		return 1;
	return (p->mapping == NAT_MAPPING_NONE ||
	    p->mapping == NAT_MAPPING_EIM) &&
	    p->filtering == NAT_FILTER_EIF;
}

static void
nat_classify_strict(const struct nat_sample *s, size_t n,
    struct nat_profile *p)
{
	int32_t k, d, step, min_step = 0;
	size_t i;
	int same_offset = 1, increasing = 1;

	p->offset = 0;
	p->delta = 0;
	if (n < 3) {
		p->allocation = NAT_ALLOC_UNKNOWN;
		return;
	}
	k = (int32_t)s[0].mapped - (int32_t)s[0].local;
	for (i = 1; i < n; i++) {
		if ((int32_t)s[i].mapped - (int32_t)s[i].local != k)
			same_offset = 0;
		step = (int32_t)s[i].mapped - (int32_t)s[i - 1].mapped;
		if (step <= 0)
			increasing = 0;
		else if (min_step == 0 || step < min_step)
			min_step = step;
	}
	if (same_offset && k == 0) {
		p->allocation = NAT_ALLOC_PRESERVED;
		return;
	}
	if (same_offset) {
		p->allocation = NAT_ALLOC_OFFSET;
		p->offset = k;
		return;
	}
	/*
	 * Sequential: every step a small multiple of the smallest one. Local
	 * ports are random here (the kernel picks ephemeral ports at random),
	 * so steps this regular come from the NAT's allocator.
	 */
	if (increasing && min_step > 0 && min_step <= NAT_SEQ_MAX_STEP) {
		for (i = 1; i < n; i++) {
			d = (int32_t)s[i].mapped - (int32_t)s[i - 1].mapped;
			if (d % min_step != 0 || d / min_step > NAT_SEQ_MAX_STEP)
				break;
		}
		if (i == n) {
			p->allocation = NAT_ALLOC_SEQUENTIAL;
			p->delta = min_step;
			return;
		}
	}
	p->allocation = NAT_ALLOC_RANDOM;
}

void
nat_classify_allocation(const struct nat_sample *s, size_t n,
    struct nat_profile *p)
{
	struct nat_sample rest[NAT_SAMPLES_MAX];
	size_t skip, i, k;

	nat_classify_strict(s, n, p);
	if (p->allocation != NAT_ALLOC_RANDOM || n < 4 || n > NAT_SAMPLES_MAX)
		return;
	/*
	 * One sample may be an old mapping: a fresh socket that drew a local
	 * port whose flow to the server the NAT still remembers gets that
	 * flow's external port back. Leave each one out in turn.
	 */
	for (skip = 0; skip < n; skip++) {
		for (i = 0, k = 0; i < n; i++)
			if (i != skip)
				rest[k++] = s[i];
		nat_classify_strict(rest, k, p);
		if (p->allocation != NAT_ALLOC_RANDOM)
			return;
	}
}

int
nat_predictable(const struct nat_profile *p)
{
	if (p->flags & NAT_F_PORTMAP)
		return 1;	/* each link's port is mapped, exactly */
	switch (p->mapping) {
	case NAT_MAPPING_NONE:
	case NAT_MAPPING_EIM:
		return 1;	/* the observed mapping is the one a peer sees */
	case NAT_MAPPING_ADM:
	case NAT_MAPPING_APDM:
		return p->allocation == NAT_ALLOC_PRESERVED ||
		    p->allocation == NAT_ALLOC_OFFSET ||
		    p->allocation == NAT_ALLOC_SEQUENTIAL;
	default:
		return 0;
	}
}

size_t
nat_predict(const struct nat_profile *p, uint16_t local, uint16_t mapped,
    unsigned window, uint16_t *out, size_t max)
{
	int32_t port;
	size_t n = 0;
	unsigned i;

	if (max == 0)
		return 0;
	switch (p->mapping) {
	case NAT_MAPPING_NONE:
	case NAT_MAPPING_EIM:
		out[n++] = mapped;
		return n;
	case NAT_MAPPING_ADM:
	case NAT_MAPPING_APDM:
		break;
	default:
		return 0;
	}
	switch (p->allocation) {
	case NAT_ALLOC_PRESERVED:
		out[n++] = local;
		return n;
	case NAT_ALLOC_OFFSET:
		port = (int32_t)local + p->offset;
		if (port > 0 && port < 65536)
			out[n++] = (uint16_t)port;
		return n;
	case NAT_ALLOC_SEQUENTIAL:
		/* The next flow takes the next step; others' flows may
		 * have taken some in between. */
		for (i = 1; i <= 1 + window && n < max; i++) {
			port = (int32_t)mapped + p->delta * (int32_t)i;
			if (port <= 0 || port > 65535)
				break;
			out[n++] = (uint16_t)port;
		}
		return n;
	default:
		return 0;
	}
}

void
nat_profile_encode(const struct nat_profile *p, uint8_t out[12])
{
	uint32_t v;

	out[0] = p->mapping;
	out[1] = p->allocation;
	out[2] = p->filtering;
	out[3] = p->flags;
	v = (uint32_t)p->offset;
	out[4] = (uint8_t)(v >> 24), out[5] = (uint8_t)(v >> 16);
	out[6] = (uint8_t)(v >> 8), out[7] = (uint8_t)v;
	v = (uint32_t)p->delta;
	out[8] = (uint8_t)(v >> 24), out[9] = (uint8_t)(v >> 16);
	out[10] = (uint8_t)(v >> 8), out[11] = (uint8_t)v;
}

int
nat_profile_decode(const uint8_t *in, size_t len, struct nat_profile *p)
{
	if (len != NAT_PROFILE_WIRE_LEN || in[0] >= NAT_MAPPING_COUNT ||
	    in[1] >= NAT_ALLOC_COUNT || in[2] >= NAT_FILTER_COUNT)
		return -1;
	p->mapping = in[0];
	p->allocation = in[1];
	p->filtering = in[2];
	p->flags = in[3];
	p->offset = (int32_t)((uint32_t)in[4] << 24 | (uint32_t)in[5] << 16 |
	    (uint32_t)in[6] << 8 | in[7]);
	p->delta = (int32_t)((uint32_t)in[8] << 24 | (uint32_t)in[9] << 16 |
	    (uint32_t)in[10] << 8 | in[11]);
	if (p->offset < -65535 || p->offset > 65535 || p->delta < -65535 ||
	    p->delta > 65535)
		return -1;
	return 0;
}
