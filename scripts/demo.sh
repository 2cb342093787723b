#!/usr/bin/env bash
# The main job in one command: installs what is missing, builds, and
# broadcasts the bundled sample (scripts/sample.sh) through treecast: the
# negotiator and the origin, and a dozen peers behind every kind of NAT of
# the lab, each joining the tree, linking to its parent through the NAT
# and relaying to its children. Shows the tree and what the peers play,
# writes one peer's stream to demo-output.ts, and with --hold keeps it all
# running until Ctrl-C; everything it made is removed on the way out. As
# root it builds the NAT lab; otherwise it runs on loopback and says so.
#
#   scripts/demo.sh [--hold]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
hold=0
[ "${1:-}" = --hold ] && hold=1
[ -s sample.mp4 ] || scripts/sample.sh sample.mp4
SECONDS_SHOWN=15

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: not root, so no NAT lab: everything on loopback"
	pids=()
	trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT
	./treecast-negotiator --listen 127.0.0.1:3478 --http 127.0.0.1:8080 \
	    --log-level warn &
	pids+=($!)
	sleep 0.5
	./treecast-origin --input sample.mp4 --loop --negotiator 127.0.0.1 \
	    --log-level warn &
	pids+=($!)
	sleep 1
	for i in 1 2 3; do
		./treecast-peer --negotiator 127.0.0.1 --http "127.0.0.1:855$i" \
		    --log-level warn ${i:+--output demo-peer$i.ts} &
		pids+=($!)
	done
	echo "demo: status at http://127.0.0.1:8080/api/nodes;" \
	    "play http://127.0.0.1:8551/live.ts (mpv, vlc, ffplay)"
	sleep "$SECONDS_SHOWN"
	cp demo-peer1.ts demo-output.ts
	ffmpeg -v error -i demo-output.ts -f null - 2>&1 | tail -1 || true
	echo "demo: a peer's stream is in demo-output.ts"
	rm -f demo-peer?.ts
	[ $hold -eq 0 ] || { echo "demo: Ctrl-C to stop"; wait; }
	exit 0
fi

top_srcdir=$PWD top_builddir=$PWD
export top_srcdir top_builddir
make -s tests/lab/labwire
. tests/lab/lab.sh
lab_init
NETS=(eim seq offset eim-np open random eim seq offset eim-np eim seq)
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
lab_bg nego "$LAB_STATE/origin.log" ./treecast-origin --input sample.mp4 \
    --loop --negotiator "$N1" --channel demo
echo "demo: negotiator on $N1:3478, origin broadcasting sample.mp4" \
    "on channel 'demo'"
sleep 1
for ((k = 0; k < ${#NETS[@]}; k++)); do
	lab_bg "home$k" "$LAB_STATE/peer$k.log" ./treecast-peer \
	    --negotiator "$N1" --channel demo --http 0.0.0.0:8554 \
	    --output "$LAB_STATE/peer$k.ts"
	sleep 0.3
done
echo "demo: ${#NETS[@]} peers joining; showing the tree after" \
    "$SECONDS_SHOWN s"
sleep "$SECONDS_SHOWN"

echo
printf '%-8s %-8s %-18s %-18s %8s %s\n' peer NAT node parent frames decodes
for ((k = 0; k < ${#NETS[@]}; k++)); do
	log=$LAB_STATE/peer$k.log
	node=$(sed -n 's/.*registered as node \([0-9a-f]*\).*/\1/p' "$log" |
	    tail -1)
	parent=$(sed -n 's/.*parent: node \([0-9a-f]*\).*/\1/p' "$log" |
	    tail -1)
	chunks=$(ffprobe -v error -count_packets -select_streams v:0 \
	    -show_entries stream=nb_read_packets -of csv=p=0 \
	    "$LAB_STATE/peer$k.ts" 2>/dev/null | head -1 | tr -dc 0-9 || true)
	errs=$(ffmpeg -v error -i "$LAB_STATE/peer$k.ts" -f null - 2>&1 |
	    grep -c . || true)
	printf '%-8s %-8s %-18s %-18s %8s %s\n' "home$k" "${NETS[k]}" \
	    "${node:-?}" "${parent:-?}" "${chunks:-0}" \
	    "$([ "$errs" -le 1 ] && echo yes || echo "no ($errs errors)")"
done
cp "$LAB_STATE/peer0.ts" demo-output.ts
echo
echo "demo: what peer home0 played is in demo-output.ts (ffplay" \
    "demo-output.ts)"
echo "demo: the negotiator's API: ip netns exec $(lab_ns nego) curl" \
    "http://$N1:8080/api/nodes (also /api/links, /api/stats)"
echo "demo: a player's URL, inside home0: ip netns exec $(lab_ns home0)" \
    "ffplay http://127.0.0.1:8554/live.ts"
if [ $hold -eq 1 ]; then
	echo "demo: running; Ctrl-C to stop and clean up."
	while :; do sleep 1; done
fi
