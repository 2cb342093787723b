#include "config.h"

#include <time.h>

#include "net/util/clock.h"

static uint64_t
clock_read_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
clock_ms(void)
{
	return clock_read_us(CLOCK_MONOTONIC) / 1000;
}

uint64_t
clock_us(void)
{
	return clock_read_us(CLOCK_MONOTONIC);
}

uint64_t
clock_wall_us(void)
{
	return clock_read_us(CLOCK_REALTIME);
}
