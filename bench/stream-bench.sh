#!/usr/bin/env bash
# The broadcast, measured in the NAT lab (root): a 5 Mbit/s sample from the
# origin on the public segment to seven peers behind NATs, three levels
# deep, for SECONDS (default 30). Prints, from the peers' own figures:
# time from a peer's start to its first chunk (a keyframe, where its player
# starts), the stream's delay at each depth (origin timestamp to arrival,
# one clock for the whole lab) and what each hop adds, the CPU of peers
# relaying to two children, and the origin's upload against what all
# peers received.
#
# With --delay MS and --loss PCT every NATed peer's home network has that
# delay (each way) and loss on its router's WAN link (tests/lab/lab.sh; the
# open host has no router).
#
# --logs DIR keeps every process's log there.
#
#   bench/stream-bench.sh [--delay MS] [--loss PCT] [--logs DIR] [SECONDS]
#                                         from the build directory
set -euo pipefail
wan=()
logs=
while [ $# -gt 0 ]; do
	case $1 in
	--logs)
		logs=${2:?--logs needs a directory}
		shift 2 ;;
	--delay | --loss)
		[[ ${2:-} =~ ^[0-9]+([.][0-9]+)?$ ]] ||
		    { echo "stream-bench: $1 ${2:-}: not a number" >&2; exit 2; }
		wan+=("$1" "$2")
		shift 2 ;;
	-h | --help)
		sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	*)
		break ;;
	esac
done
secs=${1:-30}
[[ $secs =~ ^[0-9]+$ ]] ||
    { echo "stream-bench: $secs: not a number of seconds" >&2; exit 2; }
top_builddir=${top_builddir:-$PWD}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
export top_srcdir top_builddir
. "$top_srcdir/tests/lab/lab.sh"
NETS=(eim seq offset open eim-np eim seq)

lab_init
lab_sample 20 5M
lab_nego
for ((k = 0; k < ${#NETS[@]}; k++)); do
	if [ "${NETS[k]}" = open ]; then
		lab_net "p$k" open	# no router to slow down
	else
		lab_net "p$k" "${NETS[k]}" ${wan[@]+"${wan[@]}"}
	fi
done
lab_negotiator --no-http --log-level warn
lab_origin --channel bench
origin=$LAB_ORIGIN_PID
# One peer at a time, each registered before the next starts.
pids=()
for ((k = 0; k < ${#NETS[@]}; k++)); do
	lab_bg "p$k" "$LAB_STATE/peer$k.log" "$top_builddir/treecast-peer" \
	    --negotiator "$N1" --channel bench --no-http
	pids+=("$!")
	lab_node_id "$LAB_STATE/peer$k.log" >/dev/null
done
echo "bench: 7 peers joined; measuring for $secs s" >&2
sleep 5
cpu() {	# utime + stime, in clock ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}
declare -A cpu0
for p in "${pids[@]}"; do cpu0[$p]=$(cpu "$p"); done
t0=$(date +%s.%N)
sleep "$secs"
t1=$(date +%s.%N)
declare -A cpu1
for p in "${pids[@]}"; do cpu1[$p]=$(cpu "$p"); done
# The peers' logs as of the window's end: stopping them makes the tree
# move the rest (a leaving peer drains its children), and their last
# lines would tell of the teardown, not of the broadcast.
for ((k = 0; k < ${#NETS[@]}; k++)); do
	cp "$LAB_STATE/peer$k.log" "$LAB_STATE/peer$k.window"
done
lab_stop "${pids[@]}"
lab_stop "$origin"
if [ -n "$logs" ]; then
	mkdir -p "$logs"
	cp "$LAB_STATE"/*.log "$logs"/
fi

# Depth of each node from the parents the peers logged.
declare -A parent_of depth_of node_of
origin_id=$(sed -n 's/.*registered as node \([0-9a-f]*\).*/\1/p' \
    "$LAB_STATE/origin.log" | tail -1)
for ((k = 0; k < ${#NETS[@]}; k++)); do
	log=$LAB_STATE/peer$k.window
	node_of[$k]=$(sed -n 's/.*registered as node \([0-9a-f]*\).*/\1/p' \
	    "$log" | tail -1)
	parent_of[${node_of[$k]}]=$(sed -n \
	    's/.*parent: node \([0-9a-f]*\).*/\1/p' "$log" | tail -1)
done
depth() {
	local n=$1 d=0
	while [ -n "$n" ] && [ "$n" != "$origin_id" ] && [ $d -lt 16 ]; do
		n=${parent_of[$n]:-}
		d=$((d + 1))
	done
	echo $d
}
hz=$(getconf CLK_TCK)
[ ${#wan[@]} -eq 0 ] || echo "every peer's WAN link: ${wan[*]}"
printf '%-6s %-7s %5s %12s %14s %10s %9s %8s\n' peer NAT depth \
    first_chunk delay_p50 children cpu missed
declare -A lat_sum lat_n
relay_cpu=()
received=0
for ((k = 0; k < ${#NETS[@]}; k++)); do
	log=$LAB_STATE/peer$k.window
	d=$(depth "${node_of[$k]}")
	first=$(sed -n 's/.*first chunk .* after \([0-9]*\) ms.*/\1/p' "$log" |
	    head -1)
	last=$(grep "chunks (.*) in" "$log" | tail -1)
	p50=$(sed -n 's/.*latency p50 \([0-9.]*\) ms.*/\1/p' <<<"$last")
	kids=$(sed -n 's/.*, \([0-9]*\) children.*/\1/p' <<<"$last")
	mb=$(sed -n 's/.* chunks (\([0-9.]*\) MB) in.*/\1/p' <<<"$last")
	missed=$(sed -n 's/.* in, \([0-9]*\) missed.*/\1/p' <<<"$last")
	p=${pids[k]}
	c=$(awk -v a="${cpu0[$p]}" -v b="${cpu1[$p]}" -v hz="$hz" \
	    -v t0="$t0" -v t1="$t1" \
	    'BEGIN { printf "%.1f", 100 * (b - a) / hz / (t1 - t0) }')
	printf '%-6s %-7s %5s %9s ms %11s ms %10s %8s%% %8s\n' "p$k" \
	    "${NETS[k]}" "$d" "${first:--}" "${p50:--}" "${kids:-0}" "$c" \
	    "${missed:--}"
	if [ -n "$p50" ]; then
		lat_sum[$d]=$(awk -v a="${lat_sum[$d]:-0}" -v b="$p50" \
		    'BEGIN { print a + b }')
		lat_n[$d]=$(( ${lat_n[$d]:-0} + 1 ))
	fi
	[ "${kids:-0}" -ge 2 ] && relay_cpu+=("$c")
	received=$(awk -v a="$received" -v b="${mb:-0}" 'BEGIN { print a + b }')
done
echo
prev=0
for d in 1 2 3; do
	[ -n "${lat_n[$d]:-}" ] || continue
	m=$(awk -v s="${lat_sum[$d]}" -v n="${lat_n[$d]}" \
	    'BEGIN { printf "%.1f", s / n }')
	echo "delay at depth $d: $m ms (mean of the peers' medians);" \
	    "this hop adds $(awk -v a="$m" -v b="$prev" \
	    'BEGIN { printf "%.1f", a - b }') ms"
	prev=$m
done
sent=$(grep "chunks and .* MB sent" "$LAB_STATE/origin.log" | tail -1 |
    sed -n 's/.* \([0-9.]*\) MB sent.*/\1/p')
echo "relaying peers' CPU: ${relay_cpu[*]:-none} % of a core"
echo "origin upload ${sent:-?} MB; all peers received $received MB" \
    "(payload); the origin sent $(awk -v a="${sent:-0}" -v b="$received" \
    'BEGIN { if (b > 0) printf "%.0f", 100 * a / b; else print "-" }') %"
