/* Interned channels: a small open-addressed table holding both names and
 * labels (a slot of a label holds CHANNELS_MAX + its channel's index). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "negotiator/channel.h"
#include "net/wire/key.h"
#include "net/wire/proto.h"

#define CHANNELS_SLOTS (CHANNELS_MAX * 2)	/* power of two */
#define SLOT_EMPTY	-1
#define SLOT_GONE	-2	/* a freed name: lookups go past it */
#define SLOT_LABEL	CHANNELS_MAX	/* added to a label's index */

struct channels {
	char	 names[CHANNELS_MAX][TC_CHANNEL_MAX + 1];
	char	 labels[CHANNELS_MAX][TC_CHANNEL_MAX + 1];
	uint8_t	 keys[CHANNELS_MAX][KEY_PUBLIC_LEN];
	uint8_t	 has_key[CHANNELS_MAX];
	uint32_t refs[CHANNELS_MAX];
	int16_t	 slot_of[CHANNELS_MAX];		/* the hash slot of each */
	int16_t	 label_slot[CHANNELS_MAX];	/* its label's, or -1 */
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
	memset(c->label_slot, 0xff, sizeof c->label_slot);
	return c;
}

void
channels_free(struct channels *c)
{
	free(c);
}

/* Names end up in logs and JSON: printable ASCII only, no quotes. */
static int
channels_printable(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > TC_CHANNEL_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((uint8_t)name[i] < 0x21 || (uint8_t)name[i] > 0x7e ||
		    name[i] == '"' || name[i] == '\\')
			return 0;
	return 1;
}

int
channels_label_valid(const char *label, size_t len)
{
	return channels_printable(label, len) && !tc_is_key_name(label, len);
}

/*
 * Looks text up among names (label 0) or labels (1): its index, or -1
 * with *h the slot to put it in (-1: no slot free).
 */
static int
channels_lookup(const struct channels *c, const char *text, size_t len,
    int label, int *h)
{
	uint32_t at, probes;
	int idx, reuse = -1;
	const char *have;

	at = channels_hash(text, len) & (CHANNELS_SLOTS - 1);
	for (probes = 0;; probes++, at = (at + 1) & (CHANNELS_SLOTS - 1)) {
		if (probes == CHANNELS_SLOTS) {
			/* Freed names everywhere, no empty slot: the name is
			 * not here, and a freed slot takes it. */
			*h = reuse;
			return -1;
		}
		idx = c->slots[at];
		if (idx == SLOT_EMPTY)
			break;
		if (idx == SLOT_GONE) {
			if (reuse < 0)
				reuse = (int)at;
			continue;
		}
		if ((idx >= SLOT_LABEL) != label)
			continue;
		have = label ? c->labels[idx - SLOT_LABEL] : c->names[idx];
		if (strncmp(have, text, len) == 0 && have[len] == '\0')
			return label ? idx - SLOT_LABEL : idx;
	}
	*h = reuse >= 0 ? reuse : (int)at;
	return -1;
}

int
channels_intern(struct channels *c, const char *name, size_t len)
{
	char lower[TC_CHANNEL_MAX + 1];
	uint8_t key[KEY_PUBLIC_LEN];
	int idx, h, keyed;

	if (!channels_printable(name, len))
		return CHANNELS_INVALID;
	if ((keyed = tc_is_key_name(name, len))) {
		key_parse_hex(name, len, key);
		name = key_hex(key, lower);
	}
	if ((idx = channels_lookup(c, name, len, 0, &h)) >= 0)
		return idx;
	if (h < 0 || c->count >= CHANNELS_MAX)
		return CHANNELS_FULL;
	idx = c->nfree > 0 ? c->free_idx[--c->nfree] : c->high++;
	c->count++;
	memcpy(c->names[idx], name, len);
	c->names[idx][len] = '\0';
	c->labels[idx][0] = '\0';
	c->label_slot[idx] = -1;
	c->has_key[idx] = (uint8_t)keyed;
	if (keyed)
		memcpy(c->keys[idx], key, sizeof key);
	c->refs[idx] = 0;
	c->slots[h] = (int16_t)idx;
	c->slot_of[idx] = (int16_t)h;
	return idx;
}

int
channels_find_label(const struct channels *c, const char *label, size_t len)
{
	int h;

	if (!channels_label_valid(label, len))
		return -1;
	return channels_lookup(c, label, len, 1, &h);
}

static void
channels_drop_label(struct channels *c, int index)
{
	if (c->label_slot[index] >= 0)
		c->slots[c->label_slot[index]] = SLOT_GONE;
	c->label_slot[index] = -1;
	c->labels[index][0] = '\0';
}

int
channels_set_label(struct channels *c, int index, const char *label,
    size_t len)
{
	int owner, h;

	if (index < 0 || index >= c->high || c->names[index][0] == '\0' ||
	    !c->has_key[index] || !channels_label_valid(label, len))
		return CHANNELS_INVALID;
	if ((owner = channels_lookup(c, label, len, 1, &h)) == index)
		return 0;
	if (owner >= 0)
		return CHANNELS_TAKEN;
	if (h < 0)
		return CHANNELS_FULL;
	channels_drop_label(c, index);
	memcpy(c->labels[index], label, len);
	c->labels[index][len] = '\0';
	c->slots[h] = (int16_t)(SLOT_LABEL + index);
	c->label_slot[index] = (int16_t)h;
	return 0;
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
	channels_drop_label(c, index);
	c->slots[c->slot_of[index]] = SLOT_GONE;
	c->names[index][0] = '\0';
	c->has_key[index] = 0;
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

const uint8_t *
channels_key(const struct channels *c, int index)
{
	if (index < 0 || index >= c->high || c->names[index][0] == '\0' ||
	    !c->has_key[index])
		return NULL;
	return c->keys[index];
}

const char *
channels_label(const struct channels *c, int index)
{
	if (index < 0 || index >= c->high || c->names[index][0] == '\0')
		return "";
	return c->labels[index];
}

const char *
channels_display(const struct channels *c, int index)
{
	const char *label = channels_label(c, index);

	return label[0] != '\0' ? label : channels_name(c, index);
}

int
channels_count(const struct channels *c)
{
	return c->count;
}
