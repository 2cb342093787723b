#!/usr/bin/env bash
# Viewers under churn, measured in the NAT lab (root): PEERS viewer slots
# (default 40), each behind a NAT of its own (eim, seq, offset, open,
# eim-np, random in turn), watch a 1 Mbit/s broadcast for SECONDS (default
# 180). Each viewer stays for a session time drawn from a log-normal
# distribution (median 4 min, sigma 1: heavy-tailed, a few stay for an
# hour), multiplied by --scale (default 0.1: minutes pass as tenths of
# them; at least 5 s), then departs: SIGTERM (it says goodbye) or, for
# --vanish PCT of departures (default 20), SIGKILL (it vanishes); a new
# viewer takes its slot a second after it is gone. At --mass-at S (default
# 40 % of the run) 25 % of the viewers depart at once; at --restart-at S
# (default 65 %) the negotiator is killed (SIGKILL) and started again.
#
# Each viewer's player is tests/lab/labplay on its peer's /live.ts: it
# decodes the video (libavcodec) and models a playout buffer: play starts
# with 1 s of decoded media held, a stall begins when the buffer runs dry
# and ends when 0.5 s are held again; start-up is not a stall. Printed:
# the continuity index (share of playback time not stalled), stalls and
# stalled seconds per viewer-minute, chunks lost (the gaps the peers
# logged), the time from a parent's departure (its signal) to each of its
# children's next chunk (p50, p99, max; graceful and vanished apart): how
# long its stream stopped until another node (its new parent, or its
# standby) fed it, the departing parent's own chunks meanwhile counted
# (a leaving peer serves its children until they have moved), and the
# handoff apart (departure to the other node's first chunk); the tree's
# other moves, and after the negotiator's restart how long until
# every viewer it had was registered again, and the stalls in the 10 s
# after it. Exits 1 if a target is missed: continuity >= 99.5 %, no chunk
# lost, p99 departure to next chunk < 1000 ms, all registered again within
# 5 s, no stall after the restart.
#
# --seed N makes the sessions and departures repeatable; --logs DIR keeps
# every process's log there; --no-standby runs the peers with
# --no-standby (the repair without the standby parent's bridge, the old
# parent feeding on and the drain), for comparison.
#
#   bench/churn-bench.sh [--peers N] [--seconds S] [--scale F] [--vanish PCT]
#       [--mass-at S] [--restart-at S] [--seed N] [--logs DIR] [--no-standby]
#                                         from the build directory
set -euo pipefail
npeers=40
secs=180
scale=0.1
vanish=20
mass_at=
restart_at=
seed=$RANDOM
logs=
peer_opts=()
num() {	# OPT VALUE MIN MAX [int]
	local re='^[0-9]+([.][0-9]+)?$'
	[ -z "${5:-}" ] || re='^[0-9]+$'
	[[ ${2:-} =~ $re ]] && awk -v v="$2" -v a="$3" -v b="$4" \
	    'BEGIN { exit !(v >= a && v <= b) }' ||
	    { echo "churn-bench: $1 '${2:-}': expected $3 to $4" >&2; exit 2; }
}
while [ $# -gt 0 ]; do
	case $1 in
	--peers) num "$1" "${2:-}" 2 200 int; npeers=$2; shift 2 ;;
	--seconds) num "$1" "${2:-}" 20 3600 int; secs=$2; shift 2 ;;
	--scale) num "$1" "${2:-}" 0.001 10; scale=$2; shift 2 ;;
	--vanish) num "$1" "${2:-}" 0 100 int; vanish=$2; shift 2 ;;
	--mass-at) num "$1" "${2:-}" 0 3600 int; mass_at=$2; shift 2 ;;
	--restart-at) num "$1" "${2:-}" 0 3600 int; restart_at=$2; shift 2 ;;
	--seed) num "$1" "${2:-}" 0 2147483647 int; seed=$2; shift 2 ;;
	--logs) logs=${2:?--logs needs a directory}; shift 2 ;;
	--no-standby) peer_opts+=(--no-standby); shift ;;
	-h | --help)
		sed -n '2,39p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	*)
		echo "churn-bench: unknown argument '$1' (see --help)" >&2
		exit 2 ;;
	esac
done
mass_at=${mass_at:-$((secs * 40 / 100))}
restart_at=${restart_at:-$((secs * 65 / 100))}
top_builddir=${top_builddir:-$PWD}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
export top_srcdir top_builddir
. "$top_srcdir/tests/lab/lab.sh"
KINDS=(eim seq offset open eim-np random)
PLAY=$top_builddir/tests/lab/labplay
MEDIAN_S=240	# a session's median, before --scale
SIGMA=1.0	# of the session time's logarithm
MIN_MS=5000	# no session is shorter, compressed
REFILL_MS=1000	# a new viewer takes a slot this long after it emptied

[ -x "$PLAY" ] || { echo "churn-bench: $PLAY not built (make check builds it)" >&2; exit 1; }
lab_init
lab_need jq
lab_sample 20 1M
lab_nego
echo "churn-bench: building $npeers NATed networks" >&2
lab_nets "$npeers" "${KINDS[@]}"
nets=("${LAB_KINDS[@]}")

now_ms() {
	local t=${EPOCHREALTIME/./}
	echo "${t:0:-3}"
}
negotiator() {
	LAB_NEGO_LOG=$LAB_STATE/negotiator-$1.log lab_negotiator \
	    --http "$N1:8080" --log-level info
	nego_pid=$LAB_NEGO_PID
}
api() {
	lab_exec nego curl -sf -m 2 "http://$N1:8080/api/$1"
}
negotiator 1
lab_origin --channel churn
origin=$LAB_ORIGIN_PID

# rnd: R, the next of a repeatable sequence of 15-bit numbers (the high
# bits of a linear congruential generator), in this shell.
rng=$seed
rnd() {
	rng=$(( (rng * 1103515245 + 12345) % 2147483648 ))
	R=$(( rng >> 16 ))
}
# session_ms: SESSION_MS, a log-normal session time, compressed.
session_ms() {
	local u1 u2
	rnd; u1=$R
	rnd; u2=$R
	SESSION_MS=$(awk -v u1="$u1" -v u2="$u2" -v m="$MEDIAN_S" \
	    -v s="$SIGMA" -v f="$scale" -v lo="$MIN_MS" 'BEGIN {
		u1 = (u1 + 0.5) / 32768; u2 = u2 / 32768
		z = sqrt(-2 * log(u1)) * cos(2 * 3.14159265 * u2)
		ms = 1000 * f * exp(log(m) + s * z)
		printf "%d", ms < lo ? lo : ms
	}')
}

# Slot k holds viewer instance inst[k] (peer pid ppid[k], player pid
# qpid[k]) until end[k], or is empty (ppid 0) until due[k].
declare -a inst ppid qpid end due gone
ninst=0
DEPS=$LAB_STATE/departures	# "ms instance signal", one a departure
: >"$DEPS"
start_viewer() {	# slot
	local k=$1 i=$ninst t
	ninst=$((ninst + 1))
	lab_bg "p$k" "$LAB_STATE/peer-$i.log" "$top_builddir/treecast-peer" \
	    --negotiator "$N1" --channel churn "${peer_opts[@]+"${peer_opts[@]}"}"
	ppid[k]=$!
	lab_bg "p$k" "$LAB_STATE/play-$i.log" "$PLAY" \
	    http://127.0.0.1:8554/live.ts
	qpid[k]=$!
	inst[k]=$i
	session_ms
	end[k]=$(($(now_ms) + SESSION_MS))
	echo "$i $k $SESSION_MS" >>"$LAB_STATE/sessions"
}
depart() {	# slot: the player stops first, so it counts only while the peer was there
	local k=$1 sig=TERM
	rnd
	if [ $((R % 100)) -lt "$vanish" ]; then
		sig=KILL
	fi
	kill -TERM "${qpid[k]}" 2>/dev/null || true
	kill -"$sig" "${ppid[k]}" 2>/dev/null || true
	echo "$(now_ms) ${inst[k]} $sig" >>"$DEPS"
	gone[k]=${ppid[k]}
	ppid[k]=0
	due[k]=$(($(now_ms) + REFILL_MS))
}
alive() {	# slot: its viewer's peer runs
	[ "${ppid[$1]}" != 0 ] && kill -0 "${ppid[$1]}" 2>/dev/null
}

cpu0=$(head -1 /proc/stat)
load0=$(cut -d' ' -f1 /proc/loadavg)
t0=$(now_ms)
for ((k = 0; k < npeers; k++)); do
	ppid[k]=0
	gone[k]=0
	due[k]=$((t0 + k * 200))	# arrivals spread over the first seconds
done
mass_done=0 restart_ms= rereg_ms= missing= next_note=10000
t_end=$((t0 + secs * 1000))
echo "churn-bench: $npeers viewer slots for $secs s (seed $seed);" \
    "mass departure at $mass_at s, negotiator restart at $restart_at s" >&2
while :; do
	now=$(now_ms)
	[ "$now" -lt "$t_end" ] || break
	el=$((now - t0))
	for ((k = 0; k < npeers; k++)); do
		if [ "${ppid[k]}" = 0 ]; then
			if [ "$now" -ge "${due[k]}" ] && { [ "${gone[k]}" = 0 ] ||
			    ! kill -0 "${gone[k]}" 2>/dev/null; }; then
				start_viewer "$k"
			fi
		elif [ "$now" -ge "${end[k]}" ]; then
			depart "$k"
		fi
	done
	if [ "$mass_done" = 0 ] && [ "$el" -ge $((mass_at * 1000)) ]; then
		mass_done=1
		live=()
		for ((k = 0; k < npeers; k++)); do
			[ "${ppid[k]}" = 0 ] || live+=("$k")
		done
		n=$(( (${#live[@]} + 3) / 4 ))
		echo "churn-bench: $((el / 1000)) s: $n of ${#live[@]} viewers" \
		    "depart at once" >&2
		echo "$now $n" >"$LAB_STATE/mass"
		for ((j = 0; j < n; j++)); do	# a random n of them
			rnd
			m=$((R % ${#live[@]}))
			depart "${live[m]}"
			live=("${live[@]:0:m}" "${live[@]:m+1}")
		done
	fi
	if [ -z "$restart_ms" ] && [ "$el" -ge $((restart_at * 1000)) ]; then
		# Those registered before, and still there after, must come
		# back: "slot instance node" of each.
		regd=$(api "nodes?limit=10000" | jq -r '.nodes[] |
		    select(.role == "peer") | .id')
		want=()
		for ((k = 0; k < npeers; k++)); do
			[ "${ppid[k]}" != 0 ] || continue
			id=$(sed -n 's/.*registered as node \([0-9a-f]*\).*/\1/p' \
			    "$LAB_STATE/peer-${inst[k]}.log" | head -1)
			if [ -n "$id" ] && grep -qx "$id" <<<"$regd"; then
				want+=("$k ${inst[k]} $id")
			fi
		done
		echo "churn-bench: $((el / 1000)) s: negotiator killed and" \
		    "started again (${#want[@]} viewers registered)" >&2
		kill -KILL "$nego_pid"
		while kill -0 "$nego_pid" 2>/dev/null; do sleep 0.05; done
		restart_ms=$(now_ms)
		negotiator 2
	fi
	if [ -n "$restart_ms" ] && [ -z "$rereg_ms" ] &&
	    [ "$now" -lt $((restart_ms + 30000)) ]; then
		have=" $(api "nodes?limit=10000" 2>/dev/null | jq -r '.nodes[] |
		    select(.role == "peer") | .id' 2>/dev/null | tr '\n' ' ' ||
		    true) "
		# Of those wanted, the ones whose viewer is still there.
		missing=0
		for w in "${want[@]+"${want[@]}"}"; do
			read -r k i id <<<"$w"
			if [[ $have != *" $id "* ]] && [ "${inst[k]}" = "$i" ] &&
			    alive "$k"; then
				missing=$((missing + 1))
			fi
		done
		[ "$missing" -gt 0 ] || rereg_ms=$(($(now_ms) - restart_ms))
	fi
	if [ "$el" -ge "$next_note" ]; then
		live=0
		for ((k = 0; k < npeers; k++)); do
			[ "${ppid[k]}" = 0 ] || live=$((live + 1))
		done
		note=
		if [ -n "$restart_ms" ] && [ -z "$rereg_ms" ]; then
			note=", $missing not registered again"
		fi
		echo "churn-bench: $((el / 1000)) s: $live viewers," \
		    "$(wc -l <"$DEPS") departures$note" >&2
		next_note=$((next_note + 10000))
	fi
	sleep 0.1
done
tree=$(api tree || echo '{}')
cpu1=$(head -1 /proc/stat)
load1=$(cut -d' ' -f1 /proc/loadavg)
# The players, then the viewers (they drain their children), then the
# broadcast, each gone before the next.
players=() viewers=()
for ((k = 0; k < npeers; k++)); do
	[ "${ppid[k]}" = 0 ] || { players+=("${qpid[k]}"); viewers+=("${ppid[k]}"); }
done
[ ${#players[@]} -eq 0 ] || lab_stop "${players[@]}"
[ ${#viewers[@]} -eq 0 ] || lab_stop "${viewers[@]}"
lab_stop "$origin" "$nego_pid"
if [ -n "$logs" ]; then
	mkdir -p "$logs"
	cp "$LAB_STATE"/*.log "$DEPS" "$LAB_STATE/sessions" "$logs"/
	[ ! -f "$LAB_STATE/mass" ] || cp "$LAB_STATE/mass" "$logs"/
fi

# --- the figures, from the players' and peers' own logs
ms_of() {	# log lines "2026-12-03T12:56:48.123Z rest" -> "MS rest"
	TZ=UTC awk '{
		s = $1; gsub(/[-T:Z]/, " ", s); split(s, a, /[ .]/)
		ms = mktime(a[1] " " a[2] " " a[3] " " a[4] " " a[5] " " \
		    a[6]) * 1000 + a[7]
		$1 = sprintf("%.0f", ms); print
	}'
}
# Each instance's node id, and the departures by node.
declare -A node_of
for ((i = 0; i < ninst; i++)); do
	node_of[$i]=$(sed -n 's/.*registered as node \([0-9a-f]*\).*/\1/p' \
	    "$LAB_STATE/peer-$i.log" | head -1)
done
DEPN=$LAB_STATE/departures-by-node	# "node ms signal"
while read -r ms i sig; do
	[ -z "${node_of[$i]}" ] || echo "${node_of[$i]} $ms $sig"
done <"$DEPS" >"$DEPN"
# Each child's first chunk from another node after losing a parent (the
# new parent, or its standby): "ms child old after_ms wait_ms", wait_ms
# the longest it waited for a chunk since (the old parent may feed on).
NEXT=$LAB_STATE/next-chunks
for ((i = 0; i < ninst; i++)); do
	{ grep "first chunk .* from the \(new parent\|standby\)" "$LAB_STATE/peer-$i.log" ||
	    true; } | ms_of | awk -v i="$i" '{ print $1, i, $(NF), $(NF - 5), $(NF - 9) }'
done >"$NEXT"
# Departure to next chunk, per child of a departed parent: how long the
# stream stopped, from the departure until another node fed it (the
# departure to that chunk, or the longest wait between, if the departing
# parent fed on meanwhile); the handoff itself (departure to the other
# node's first chunk) apart; the other moves apart.
awk 'NR == FNR { dep[$1] = $2; sig[$1] = $3; next }
    {
	ms = $1; child = $2; old = $3; after = $4; wait = $5
	if ((old in dep) && ms >= dep[old] && ms - dep[old] < 60000) {
		k = child " " old
		if (!(k in seen)) {
			seen[k] = 1
			d = ms - dep[old]
			print "dep", sig[old], (wait ~ /^[0-9]+$/ && wait < d ? wait : d)
			print "handoff", sig[old], d
		}
	} else
		print "move", "-", after
    }' "$DEPN" "$NEXT" >"$LAB_STATE/repairs"
pct() {	# KIND SIGNAL|all P -> the Pth percentile (nearest rank), or "-"
	awk -v k="$1" -v s="$2" '$1 == k && (s == "all" || $2 == s) { print $3 }' \
	    "$LAB_STATE/repairs" | sort -n | awk -v p="$3" '{ v[NR] = $1 }
	    END { i = int((p * NR + 99) / 100); if (i < 1) i = 1
		print NR ? v[i] : "-" }'
}
cnt() {
	awk -v k="$1" -v s="$2" '$1 == k && (s == "all" || $2 == s)' \
	    "$LAB_STATE/repairs" | wc -l
}
# The players.
read -r played stalled stalls longest viewers unstarted < <(cat \
    "$LAB_STATE"/play-*.log |
    sed -n 's/^labplay: played \([0-9.]*\) s, stalled \([0-9.]*\) s in \([0-9]*\) stalls (longest \([0-9]*\) ms), startup \([0-9-]*\) ms.*/\1 \2 \3 \4 \5/p' |
    awk '{ p += $1; s += $2; n += $3; if ($4 > m) m = $4; v++
	if ($5 < 0) u++ }
    END { printf "%.3f %.3f %d %d %d %d\n", p, s, n, m, v, u }')
minutes=$(awk -v p="$played" -v s="$stalled" 'BEGIN { printf "%.2f", (p + s) / 60 }')
continuity=$(awk -v p="$played" -v s="$stalled" \
    'BEGIN { if (p + s > 0) printf "%.3f", 100 * p / (p + s); else print "-" }')
lost=$(cat "$LAB_STATE"/peer-*.log | sed -n \
    's/.*gap: chunks \([0-9]*\) to \([0-9]*\) never came.*/\1 \2/p' |
    awk '{ n += $2 - $1 + 1 } END { print n + 0 }')
restart_stalls=-
if [ -n "$restart_ms" ]; then
	restart_stalls=$(cat "$LAB_STATE"/play-*.log | { grep '^stall at' || true; } |
	    sed 's/^stall at //' | ms_of |
	    awk -v a="$restart_ms" '$1 >= a - 1000 && $1 < a + 10000' | wc -l)
fi
ndep=$(wc -l <"$DEPS")
nkill=$(grep -c ' KILL$' "$DEPS" || true)
mass=$(awk '{ print $2 }' "$LAB_STATE/mass" 2>/dev/null || echo -)
ch=$(jq -c '.channels[]? | select(.name == "churn")' <<<"$tree" 2>/dev/null || true)

printf '%-52s %s\n' "viewer slots, NATs" "$npeers ($(printf '%s\n' \
    "${nets[@]}" | sort | uniq -c | awk '{ printf "%s%d %s", \
    (NR > 1 ? ", " : ""), $1, $2 }'))"
printf '%-52s %s\n' "viewers (sessions), players that reported" "$ninst, $viewers"
printf '%-52s %s\n' "viewers gone before their first picture" "$unstarted"
printf '%-52s %s\n' "viewer-minutes played" "$minutes"
printf '%-52s %s\n' "departures (vanished: SIGKILL)" "$ndep ($nkill)"
printf '%-52s %s\n' "mass departure at once" "$mass at ${mass_at} s"
printf '%-52s %s %%\n' "continuity index" "$continuity"
printf '%-52s %s\n' "stalls" "$stalls (longest $longest ms)"
printf '%-52s %s\n' "stalls per viewer-minute" "$(awk -v n="$stalls" \
    -v m="$minutes" 'BEGIN { printf "%.3f", (m > 0 ? n / m : 0) }')"
printf '%-52s %s s\n' "stalled per viewer-minute" "$(awk -v s="$stalled" \
    -v m="$minutes" 'BEGIN { printf "%.3f", (m > 0 ? s / m : 0) }')"
printf '%-52s %s\n' "chunks lost" "$lost"
printf '%-52s %s\n' "children of departed parents, next chunk seen" "$(cnt dep all)"
printf '%-52s %s ms\n' "departure to next chunk, p50" "$(pct dep all 50)"
printf '%-52s %s ms\n' "departure to next chunk, p99" "$(pct dep all 99)"
printf '%-52s %s ms\n' "departure to next chunk, max" "$(pct dep all 100)"
printf '%-52s %s ms (%s children)\n' "departure to next chunk, graceful, p50" \
    "$(pct dep TERM 50)" "$(cnt dep TERM)"
printf '%-52s %s ms (%s children)\n' "departure to next chunk, vanished, p50" \
    "$(pct dep KILL 50)" "$(cnt dep KILL)"
printf '%-52s %s ms\n' "departure to next chunk, vanished, p99" "$(pct dep KILL 99)"
printf '%-52s %s ms, %s ms\n' "handoff: departure to the new node's chunk, p50, p99" \
    "$(pct handoff all 50)" "$(pct handoff all 99)"
printf '%-52s %s\n' "other moves by the tree, link loss to next chunk p50" \
    "$(cnt move all), $(pct move all 50) ms"
printf '%-52s %s\n' "negotiator restart: all registered again after" \
    "$([ -n "$rereg_ms" ] && echo "$rereg_ms ms" || echo "not within 30 s")"
printf '%-52s %s\n' "negotiator restart: stalls from 1 s before to 10 s after" \
    "$restart_stalls"
printf '%-52s %s\n' "machine: CPUs busy during the run, load average" \
    "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {
	n = split(a, x, " "); split(b, y, " ")
	for (i = 2; i <= n && i <= 9; i++) {
		d = y[i] - x[i]; t += d
		if (i != 5 && i != 6) u += d	# idle, iowait
	}
	printf "%.0f %%", (t > 0 ? 100 * u / t : 0)
    }') (this bench included), $load0 at the start, $load1 at the end"
if [ -n "$ch" ]; then
	printf '%-52s %s\n' "tree at the end: nodes, repeaters, depth" \
	    "$(jq -r '.counts | "\(.nodes), \(.repeaters), \(.max_depth)"' <<<"$ch")"
fi

miss=0
target() {	# WHAT TEST...
	local what=$1
	shift
	if "$@"; then
		echo "target met: $what"
	else
		echo "target missed: $what"
		miss=1
	fi
}
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a ~ /^[0-9.]+$/ && a + 0 <= b + 0) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a ~ /^[0-9.]+$/ && a + 0 >= b + 0) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a ~ /^[0-9.]+$/ && a + 0 < b + 0) }'; }
target "continuity >= 99.5 %" ge "$continuity" 99.5
target "no chunk lost" le "$lost" 0
target "p99 departure to next chunk < 1000 ms" lt "$(pct dep all 99)" 1000
target "every node registered again within 5 s of the restart" \
    le "${rereg_ms:-x}" 5000
target "no stall around the negotiator's restart" le "$restart_stalls" 0
[ "$miss" = 0 ]
