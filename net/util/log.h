/* Levelled logging shared by every treecast program.
 *
 * The macros test the level before evaluating their arguments, so a debug
 * line costs one comparison when debug logging is off. libevent's own
 * messages are routed here by log_init(). Low layers (codecs, the tree
 * manager) never log: they return an error and a reason, and their callers
 * decide what is worth a line. */
#ifndef TREECAST_LOG_H
#define TREECAST_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_ERROR = 0,	/* something failed that an operator must look at */
	LOG_WARN,	/* degraded, or input rejected */
	LOG_INFO,	/* life-cycle: started, joined, linked, left */
	LOG_DEBUG,	/* per-session detail */
	LOG_TRACE	/* per-datagram detail */
};

extern enum log_level log_level_current;

void	log_init(const char *progname, enum log_level level);
int	log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);
void	log_msg(enum log_level level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_vmsg(enum log_level level, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));
/* Prints "progname: message" and exits with status 1. Start-up only. */
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#define log_at(lvl, ...) do {						\
	if ((lvl) <= log_level_current)					\
		log_msg((lvl), __VA_ARGS__);				\
} while (0)
#define log_error(...)	log_at(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	log_at(LOG_WARN, __VA_ARGS__)
#define log_info(...)	log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_at(LOG_DEBUG, __VA_ARGS__)
#define log_trace(...)	log_at(LOG_TRACE, __VA_ARGS__)

#endif
