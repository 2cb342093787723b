/*
 * A main for a fuzz target built without libFuzzer (the plain gcc build):
 * runs LLVMFuzzerTestOneInput once on each file named, each file of each
 * directory named, or, with no arguments, each file of the target's seed
 * corpus ($top_srcdir/FUZZ_CORPUS), so that make check replays the seeds.
 * A broken promise aborts, as under the fuzzer; exits 1 when there was
 * nothing to replay.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_MAX	(1 << 20)	/* bytes of one input */

int	LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs the target on one file: 0, or -1 if it cannot be read. */
static int
replay_file(const char *path)
{
	static uint8_t buf[REPLAY_MAX];
	uint8_t *copy;
	size_t n;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof buf, f);
	if (ferror(f) || !feof(f)) {
		fprintf(stderr, "replay: %s: unreadable or over %d bytes\n",
		    path, REPLAY_MAX);
		fclose(f);
		return -1;
	}
	fclose(f);
	/* An allocation of its exact size, as libFuzzer hands it, so that
	 * AddressSanitizer sees a read past its end. */
	if ((copy = malloc(n > 0 ? n : 1)) == NULL)
		return -1;
	memcpy(copy, buf, n);
	LLVMFuzzerTestOneInput(copy, n);
	free(copy);
	return 0;
}

/* Every regular file of a directory, or the file itself; how many ran, or
 * -1. */
static int
replay_path(const char *path)
{
	struct dirent *de;
	struct stat st;
	char sub[4096];
	DIR *d;
	int n = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path) == 0 ? 1 : -1;
	if ((d = opendir(path)) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
		if (stat(sub, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (replay_file(sub) != 0) {
			closedir(d);
			return -1;
		}
		n++;
	}
	closedir(d);
	return n;
}

int
main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	char seeds[4096];
	int i, n, total = 0;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc < 2) {
		snprintf(seeds, sizeof seeds, "%s/%s", top != NULL ? top : ".",
		    FUZZ_CORPUS);
		if ((n = replay_path(seeds)) <= 0) {
			fprintf(stderr, "replay: no seeds in %s\n", seeds);
			return 1;
		}
		printf("%d inputs of %s replayed\n", n, seeds);
		return 0;
	}
	for (i = 1; i < argc; i++) {
		if ((n = replay_path(argv[i])) < 0)
			return 1;
		total += n;
	}
	printf("%d inputs replayed\n", total);
	return total > 0 ? 0 : 1;
}
