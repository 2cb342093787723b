# A small lab for the teardown test: one public reflector, one sequential
# network behind a slow link. Writes "LAB PID REFLECTORPID" to STATEFILE
# once built and checked; with "hold" it then waits to be killed.
#
#   mini.sh STATEFILE [hold]
set -eu
. "$top_srcdir/tests/lab/lab.sh"
lab_init
lab_public pub
lab_net home seq --delay 5
lab_bg pub "$LAB_STATE/reflect.log" "$LAB_BIN/labtool" reflect 3478
reflector=$!
lab_wait 5 "the reflector" lab_listening pub 3478 || true
lab_exec home "$LAB_BIN/labtool" map "$(lab_ip pub):3478" >/dev/null
echo "$LAB $$ $reflector" >"$1.tmp"
mv "$1.tmp" "$1"
if [ "${2:-}" = hold ]; then
	while :; do sleep 1; done
fi
