#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the check unit
# suites, the NAT lab (as root) and the end-to-end tests, inside
# "make distcheck", so the tests run on a clean build of the release
# tarball, with warnings as errors.
#
#   scripts/test.sh           everything (what CI runs)
#   scripts/test.sh --quick   "make check" in this tree only
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
jobs=$(nproc)
status=0
if [ "${1:-}" = --quick ]; then
	make -j"$jobs" check || status=$?
else
	make -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-debug || status=$?
fi
if [ $status -ne 0 ]; then
	# Show why: every failing test's log.
	find . -name '*.log' -path '*tests*' -newer configure 2>/dev/null |
	while read -r log; do
		if grep -qE '^:test-result: (FAIL|ERROR)' "${log%.log}.trs" \
		    2>/dev/null; then
			echo "===== $log"
			tail -n 60 "$log"
		fi
	done
	exit $status
fi
