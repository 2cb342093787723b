/* Channel names, interned: a registry record keeps a 16-bit index. Each
 * name is counted by the nodes on it and goes when the last one does, so
 * registrations with made-up names cannot fill the table for good. */
#ifndef TREECAST_CHANNEL_H
#define TREECAST_CHANNEL_H

#include <stddef.h>

#define CHANNELS_MAX 4096

struct channels;

struct channels *channels_create(void);
void	channels_free(struct channels *c);
/* The index of the name (len bytes, not terminated), adding it if new
 * (with no nodes yet); -1 when the table is full or the name is not
 * printable ASCII. */
int	channels_intern(struct channels *c, const char *name, size_t len);
/* A node joins or leaves a channel; a name with no nodes left is freed. */
void	channels_ref(struct channels *c, int index);
void	channels_unref(struct channels *c, int index);
/* Frees a name no node is on (one interned for a registration that then
 * failed). */
void	channels_drop_unused(struct channels *c, int index);
const char *channels_name(const struct channels *c, int index);
int	channels_count(const struct channels *c);

#endif
