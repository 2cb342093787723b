/* The one clock helper: monotonic milliseconds for deadlines and ages,
 * the wall clock for stamps that cross hosts. */
#ifndef TREECAST_CLOCK_H
#define TREECAST_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC, in ms: deadlines, ages, rates. */
uint64_t	clock_ms(void);
/* CLOCK_MONOTONIC, in µs. */
uint64_t	clock_us(void);
/* CLOCK_REALTIME, in µs since the epoch: a chunk's origin timestamp. */
uint64_t	clock_wall_us(void);

#endif
