#!/usr/bin/env bash
# The main job in one command: installs what is missing, builds, and runs
# treecast. The streaming programs (origin, peer) are not built yet; until
# they are, this runs the negotiator with a viewer behind each kind of NAT
# of the lab, each probing its NAT and registering, and shows what the
# negotiator learnt. As root it builds the NAT lab; otherwise it runs on
# loopback and says so.
#
#   scripts/demo.sh [--hold]      --hold: keep running until Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
hold=0
[ "${1:-}" = --hold ] && hold=1

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: not root, so no NAT lab: negotiator and probe on loopback"
	./treecast-negotiator --listen 127.0.0.1:3478 --http 127.0.0.1:8080 \
	    --log-level warn &
	nego=$!
	trap 'kill $nego 2>/dev/null; wait $nego 2>/dev/null' EXIT
	sleep 0.5
	./treecast-probe --register 127.0.0.1
	curl -s http://127.0.0.1:8080/api/stats; echo
	exit 0
fi

top_srcdir=$PWD top_builddir=$PWD
export top_srcdir top_builddir
make -s tests/lab/labtool tests/lab/labwire
. tests/lab/lab.sh
lab_init
echo "demo: building the NAT lab ($LAB)"
lab_public nego 2
for b in open eim offset eim-np seq random; do
	lab_net "viewer-$b" "$b"
done
N1=$(lab_ip nego 1)
lab_bg nego "$LAB_STATE/negotiator.log" ./treecast-negotiator \
    --listen "$N1:3478" --alt-address "$(lab_ip nego 2)" \
    --http 127.0.0.1:8080 --log-level debug
for i in $(seq 50); do
	lab_exec nego curl -sf http://127.0.0.1:8080/api/stats >/dev/null 2>&1 && break
	sleep 0.1
done
echo "demo: negotiator on $N1:3478 and $(lab_ip nego 2) (RFC 5780)"
for b in open eim offset eim-np seq random; do
	echo
	echo "== a viewer behind a '$b' NAT asks what its NAT does:"
	lab_bg "viewer-$b" "$LAB_STATE/probe-$b.log" ./treecast-probe \
	    --register --stay --channel demo "$N1"
	for i in $(seq 100); do
		grep -q "^registered" "$LAB_STATE/probe-$b.log" && break
		sleep 0.1
	done
	sed 's/^/   /' "$LAB_STATE/probe-$b.log"
done
echo
echo "== what the negotiator holds (GET /api/nodes):"
lab_exec nego curl -s http://127.0.0.1:8080/api/nodes | sed 's/},{"id"/},\n {"id"/g'
echo
echo "== its counters (GET /api/stats):"
lab_exec nego curl -s http://127.0.0.1:8080/api/stats
echo
echo "== the negotiator's log:"
sed 's/^/   /' "$LAB_STATE/negotiator.log"
if [ $hold -eq 1 ]; then
	echo "demo: running; the API is at http://127.0.0.1:8080/ inside" \
	    "'ip netns exec $(lab_ns nego)'. Ctrl-C to stop and clean up."
	while :; do sleep 1; done
fi
