/* Interned channel names: a small open-addressed table. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "negotiator/channel.h"
#include "net/proto.h"

#define CHANNELS_SLOTS (CHANNELS_MAX * 2)	/* power of two */
#define SLOT_EMPTY	-1
#define SLOT_GONE	-2	/* a freed name: lookups go past it */

struct channels {
	char	 names[CHANNELS_MAX][TC_CHANNEL_MAX + 1];
	uint32_t refs[CHANNELS_MAX];
	int16_t	 slot_of[CHANNELS_MAX];		/* the hash slot of each */
	int16_t	 slots[CHANNELS_SLOTS];		/* SLOT_*, else index */
	int16_t	 free_idx[CHANNELS_MAX];	/* freed indexes, a stack */
	int	 nfree;
	int	 high;				/* indexes ever used */
	int	 count;				/* names now */
};

static uint32_t
channels_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

struct channels *
channels_create(void)
{
	struct channels *c;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	memset(c->slots, 0xff, sizeof c->slots);
	return c;
}

void
channels_free(struct channels *c)
{
	free(c);
}

int
channels_intern(struct channels *c, const char *name, size_t len)
{
	uint32_t h, probes;
	size_t i;
	int idx, reuse = -1;

	if (len == 0 || len > TC_CHANNEL_MAX)
		return -1;
	/* Names end up in logs and JSON: printable ASCII only, no quotes. */
	for (i = 0; i < len; i++)
		if ((uint8_t)name[i] < 0x21 || (uint8_t)name[i] > 0x7e ||
		    name[i] == '"' || name[i] == '\\')
			return -1;
	h = channels_hash(name, len) & (CHANNELS_SLOTS - 1);
	for (probes = 0;; probes++, h = (h + 1) & (CHANNELS_SLOTS - 1)) {
		if (probes == CHANNELS_SLOTS) {
			/* Freed names everywhere, no empty slot: the name is
			 * not here, and a freed slot takes it. */
			if (reuse < 0)
				return -1;
			break;
		}
		idx = c->slots[h];
		if (idx == SLOT_EMPTY)
			break;
		if (idx == SLOT_GONE) {
			if (reuse < 0)
				reuse = (int)h;
			continue;
		}
		if (strncmp(c->names[idx], name, len) == 0 &&
		    c->names[idx][len] == '\0')
			return idx;
	}
	if (c->count >= CHANNELS_MAX)
		return -1;
	if (reuse >= 0)
		h = (uint32_t)reuse;
	idx = c->nfree > 0 ? c->free_idx[--c->nfree] : c->high++;
	c->count++;
	memcpy(c->names[idx], name, len);
	c->names[idx][len] = '\0';
	c->refs[idx] = 0;
	c->slots[h] = (int16_t)idx;
	c->slot_of[idx] = (int16_t)h;
	return idx;
}

void
channels_ref(struct channels *c, int index)
{
	if (index >= 0 && index < c->high)
		c->refs[index]++;
}

void
channels_unref(struct channels *c, int index)
{
	if (index < 0 || index >= c->high || c->names[index][0] == '\0')
		return;
	if (c->refs[index] > 0)
		c->refs[index]--;
	channels_drop_unused(c, index);
}

void
channels_drop_unused(struct channels *c, int index)
{
	if (index < 0 || index >= c->high || c->names[index][0] == '\0' ||
	    c->refs[index] > 0)
		return;
	c->slots[c->slot_of[index]] = SLOT_GONE;
	c->names[index][0] = '\0';
	c->free_idx[c->nfree++] = (int16_t)index;
	c->count--;
}

const char *
channels_name(const struct channels *c, int index)
{
	if (index < 0 || index >= c->high || c->names[index][0] == '\0')
		return "?";
	return c->names[index];
}

int
channels_count(const struct channels *c)
{
	return c->count;
}
