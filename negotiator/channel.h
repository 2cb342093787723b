/* Channels, interned: a registry record keeps a 16-bit index. A channel
 * is named by its broadcaster's key in hex (README, treecast-negotiator),
 * and may carry a label, a short human name its proven origin claimed;
 * probes and the verifier register under plain names of their own. Each
 * channel is counted by the nodes on it and goes, label and all, when the last one
 * does, so registrations with made-up names cannot fill the table for good. */
#ifndef TREECAST_CHANNEL_H
#define TREECAST_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#define CHANNELS_MAX 4096

/* channels_intern's and channels_set_label's refusals. */
#define CHANNELS_INVALID	-1	/* not a name (see channels_intern) */
#define CHANNELS_FULL		-2	/* the table is full */
#define CHANNELS_TAKEN		-3	/* the label is another channel's */

struct channels;

struct channels *channels_create(void);
void	channels_free(struct channels *c);
/* The index of the name (len bytes, not terminated), adding it if new
 * (with no nodes yet). A name of 64 hex digits is a key, kept in
 * lowercase; else it is a plain name (printable ASCII, no quotes).
 * CHANNELS_INVALID or CHANNELS_FULL. */
int	channels_intern(struct channels *c, const char *name, size_t len);
/* The channel whose label is label (len bytes), or -1. */
int	channels_find_label(const struct channels *c, const char *label,
	    size_t len);
/* Gives a keyed channel the label (it drops the one it had): 0,
 * CHANNELS_INVALID (not a label: 1..TC_CHANNEL_MAX printable ASCII, no
 * quotes, not a key) or CHANNELS_TAKEN. */
int	channels_set_label(struct channels *c, int index, const char *label,
	    size_t len);
/* 1 when label (len bytes) could be one. */
int	channels_label_valid(const char *label, size_t len);
/* A node joins or leaves a channel; a name with no nodes left is freed. */
void	channels_ref(struct channels *c, int index);
void	channels_unref(struct channels *c, int index);
/* Frees a name no node is on (one interned for a registration that then
 * failed). */
void	channels_drop_unused(struct channels *c, int index);
const char *channels_name(const struct channels *c, int index);
/* The channel's key (KEY_PUBLIC_LEN bytes), NULL for a plain name. */
const uint8_t *channels_key(const struct channels *c, int index);
/* Its label, "" if none. */
const char *channels_label(const struct channels *c, int index);
/* What people call it: the label, else the name. */
const char *channels_display(const struct channels *c, int index);
int	channels_count(const struct channels *c);

#endif
