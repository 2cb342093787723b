/* Channel names, interned: a registry record keeps a 16-bit index. */
#ifndef TREECAST_CHANNEL_H
#define TREECAST_CHANNEL_H

#include <stddef.h>

#define CHANNELS_MAX 4096

struct channels;

struct channels *channels_create(void);
void	channels_free(struct channels *c);
/* The index of the name (len bytes, not terminated), adding it if new;
 * -1 when the table is full or the name is not printable UTF-8-safe text. */
int	channels_intern(struct channels *c, const char *name, size_t len);
const char *channels_name(const struct channels *c, int index);
int	channels_count(const struct channels *c);

#endif
