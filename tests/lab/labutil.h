/* What the lab's C tools share. Define LAB_TOOL, the tool's name, before
 * including it. Test instruments, not part of treecast. */
#ifndef LABUTIL_H
#define LABUTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void die(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn, unused));

/* "TOOL: WHY" on stderr, and exit 1. */
static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, LAB_TOOL ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

#endif
