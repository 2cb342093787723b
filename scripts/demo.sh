#!/usr/bin/env bash
# The main job in one command: installs what is missing, builds, and
# broadcasts the bundled sample (scripts/sample.sh) through treecast: the
# negotiator and the origin, and a dozen peers behind every kind of NAT of
# the lab, each joining the tree, linking to its parent through the NATs
# and relaying to its children. It prints the status page's URL and a
# player URL (both on this host), a table of the tree once it has formed,
# and runs until Ctrl-C; everything it made is removed on the way out. As
# root it builds the NAT lab; otherwise it runs on loopback and says so.
#
#   scripts/demo.sh [--seconds N]     (N: stop by itself after N seconds)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
seconds=0
if [ "${1:-}" = --seconds ]; then
	seconds=${2:?--seconds needs a number}
	[[ $seconds =~ ^[0-9]+$ ]] || { echo "demo: --seconds $seconds: not a number" >&2; exit 2; }
fi
[ -s sample.mp4 ] || scripts/sample.sh sample.mp4
PEERS=12
STATUS_URL=http://127.0.0.1:8080/
PLAYER_URL=http://127.0.0.1:8554/live.ts

# The tree as the negotiator sees it: from the origin down, one line a
# node, indented by depth; then any node waiting for a slot.
show_tree() {
	"$@" curl -sf "$api/api/tree" | jq -r '
	    def line($n; $d): ([range($d)] | map("  ") | join("")) +
	        "  \($n.id) \($n.role), NAT \($n.nat)" +
	        (if $n.health and $n.role != "origin" then
	        ", \($n.health.kbps_in) kbit/s in" else "" end);
	    .channels[] | . as $ch |
	    def sub($id; $d): ($ch.nodes[] | select(.id == $id)) as $n |
	        line($n; $d), ($n.children[] | sub(.; $d + 1));
	    "channel \(.name): \(.counts.nodes) peers, \(.counts.repeaters) " +
	    "repeaters, \(.counts.nonrepeaters) non-repeaters, depth " +
	    "\(.counts.max_depth)",
	    sub(.origin; 0),
	    (.nodes[] | select(.parent == null and .role != "origin") |
	    "  waiting for a slot: " + line(.; 0))' | sed 's/^/demo: /'
}
# Waits until every peer is in the tree and none is still a candidate.
wait_tree() {
	local i n c
	for ((i = 0; i < 90; i++)); do
		c=$("$@" curl -sf "$api/api/tree" | jq -c \
		    '[.channels[].counts | .placed, .candidates]' 2>/dev/null) ||
		    c=
		n=${c#[}
		[ "${n%%,*}" = "$PEERS" ] && [ "${c##*,}" = "0]" ] && return 0
		sleep 1
	done
	echo "demo: the tree has not formed in 90 s (${c:-no answer})" >&2
}
run_until_done() {
	if [ "$seconds" -gt 0 ]; then
		echo "demo: stopping in $seconds s"
		sleep "$seconds"
	else
		echo "demo: running; Ctrl-C to stop and clean up"
		while :; do sleep 1; done
	fi
}

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: not root, so no NAT lab: everything on loopback (run as" \
	    "root for real NATs)"
	pids=()
	trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; echo "demo: stopped"' EXIT
	trap 'exit 0' INT TERM
	./treecast-negotiator --listen 127.0.0.1:3478 --http 127.0.0.1:8080 \
	    --log-level warn &
	pids+=($!)
	sleep 0.5
	./treecast-origin --input sample.mp4 --loop --negotiator 127.0.0.1 \
	    --channel live \
	    --log-level warn &
	pids+=($!)
	sleep 1
	for ((k = 0; k < PEERS; k++)); do
		./treecast-peer --negotiator 127.0.0.1 \
		    --http "127.0.0.1:$((8554 + k))" --log-level warn &
		pids+=($!)
		sleep 0.2
	done
	api=http://127.0.0.1:8080
	wait_tree
	show_tree
	echo "demo: status page: $STATUS_URL"
	echo "demo: a player: $PLAYER_URL (mpv, vlc, ffplay; peers 2 to" \
	    "$PEERS on ports 8555-$((8554 + PEERS - 1)))"
	run_until_done
	exit 0
fi

top_srcdir=$PWD top_builddir=$PWD
export top_srcdir top_builddir
make -s tests/lab/labwire tests/lab/labport
. tests/lab/lab.sh
lab_init
NETS=(eim seq offset eim-np open random eim seq offset eim-np open random)
echo "demo: building the NAT lab ($LAB): a public segment and" \
    "${#NETS[@]} home networks"
lab_public nego 2
for ((k = 0; k < ${#NETS[@]}; k++)); do
	lab_net "home$k" "${NETS[k]}"
done
N1=$(lab_ip nego 1)
lab_bg nego "$LAB_STATE/negotiator.log" ./treecast-negotiator \
    --listen "$N1:3478" --alt-address "$(lab_ip nego 2)" \
    --http "$N1:8080" --log-level info
sleep 0.5
lab_bg nego "$LAB_STATE/origin.log" ./treecast-origin \
    --key "$LAB_STATE/origin.key" --input sample.mp4 \
    --loop --negotiator "$N1" --channel demo
echo "demo: negotiator on $N1:3478, origin broadcasting sample.mp4" \
    "on channel 'demo'"
sleep 1
for ((k = 0; k < ${#NETS[@]}; k++)); do
	lab_bg "home$k" "$LAB_STATE/peer$k.log" ./treecast-peer \
	    --negotiator "$N1" --channel demo --http 127.0.0.1:8554
	sleep 0.3
done
# The status page and home0's player, on this host: the forwarders run
# here, outside the lab, so they are stopped here too.
ports=()
trap 'kill "${ports[@]}" 2>/dev/null; lab__exit' EXIT
./tests/lab/labport 127.0.0.1:8080 "$(lab_ns nego)" "$N1:8080" \
    >>"$LAB_STATE/labport.log" 2>&1 &
ports+=($!)
./tests/lab/labport 127.0.0.1:8554 "$(lab_ns home0)" 127.0.0.1:8554 \
    >>"$LAB_STATE/labport.log" 2>&1 &
ports+=($!)
echo "demo: ${#NETS[@]} peers joining (${NETS[*]})"
api=http://$N1:8080
wait_tree lab_exec nego
show_tree lab_exec nego
echo "demo: status page: $STATUS_URL"
echo "demo: a player (peer home0, behind a ${NETS[0]} NAT): $PLAYER_URL" \
    "(mpv, vlc, ffplay)"
echo "demo: logs in $LAB_STATE"
trap 'exit 0' INT TERM
run_until_done
