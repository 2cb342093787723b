/* Interned channel names: a small open-addressed table. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "negotiator/channel.h"
#include "net/proto.h"

#define CHANNELS_SLOTS (CHANNELS_MAX * 2)	/* power of two */

struct channels {
	char	 names[CHANNELS_MAX][TC_CHANNEL_MAX + 1];
	int16_t	 slots[CHANNELS_SLOTS];		/* -1 empty, else index */
	int	 count;
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
	uint32_t h;
	size_t i;
	int idx;

	if (len == 0 || len > TC_CHANNEL_MAX)
		return -1;
	/* Names end up in logs and JSON: printable ASCII only, no quotes. */
	for (i = 0; i < len; i++)
		if ((uint8_t)name[i] < 0x21 || (uint8_t)name[i] > 0x7e ||
		    name[i] == '"' || name[i] == '\\')
			return -1;
	h = channels_hash(name, len) & (CHANNELS_SLOTS - 1);
	for (;; h = (h + 1) & (CHANNELS_SLOTS - 1)) {
		idx = c->slots[h];
		if (idx < 0)
			break;
		if (strncmp(c->names[idx], name, len) == 0 &&
		    c->names[idx][len] == '\0')
			return idx;
	}
	if (c->count >= CHANNELS_MAX)
		return -1;
	idx = c->count++;
	memcpy(c->names[idx], name, len);
	c->names[idx][len] = '\0';
	c->slots[h] = (int16_t)idx;
	return idx;
}

const char *
channels_name(const struct channels *c, int index)
{
	if (index < 0 || index >= c->count)
		return "?";
	return c->names[index];
}

int
channels_count(const struct channels *c)
{
	return c->count;
}
