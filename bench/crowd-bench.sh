#!/usr/bin/env bash
# A flash crowd in the NAT lab (root): PEERS viewers (default 30), each
# behind a NAT of its own (the lab's behaviours in turn: eim, seq, offset,
# open, eim-np, random), start at the same moment and join one channel
# while the origin streams a 1 Mbit/s sample. Prints how the crowd was
# served: each peer's time from its start to its first chunk (p50, p90,
# max), when the tree had placed every peer and decided every candidate
# (sampled from /api/tree every half second), the JOINs refused for want of
# a slot (503, retried every second), the verifier's verdicts, the tree it
# became, and the peers it left unplaced. It waits up to 120 s for every
# peer's video, and exits 1 if a peer had none by then.
#
# --logs DIR keeps every process's log there.
#
#   bench/crowd-bench.sh [--peers N] [--logs DIR]    from the build directory
set -euo pipefail
npeers=30
logs=
while [ $# -gt 0 ]; do
	case $1 in
	--peers)
		[[ ${2:-} =~ ^[0-9]+$ ]] && [ "$2" -ge 2 ] && [ "$2" -le 200 ] ||
		    { echo "crowd-bench: --peers '${2:-}': expected 2 to 200" >&2
		    exit 2; }
		npeers=$2
		shift 2 ;;
	--logs)
		logs=${2:?--logs needs a directory}
		shift 2 ;;
	-h | --help)
		sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	*)
		echo "crowd-bench: unknown argument '$1' (see --help)" >&2
		exit 2 ;;
	esac
done
top_builddir=${top_builddir:-$PWD}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
export top_srcdir top_builddir
. "$top_srcdir/tests/lab/lab.sh"
KINDS=(eim seq offset open eim-np random)
LIMIT_S=120	# gives up on peers without video after this

lab_init
lab_need jq
lab_sample 20 1M
lab_nego
echo "crowd-bench: building $npeers NATed networks" >&2
lab_nets "$npeers" "${KINDS[@]}"
nets=("${LAB_KINDS[@]}")
lab_broadcast --channel crowd
origin=$LAB_ORIGIN_PID

api() {
	lab_exec nego curl -sf "http://$N1:8080/api/$1"
}
now_ms() {
	date +%s%3N
}
# A peer's very first chunk, as it logs it ("first chunk N after MS ms",
# " (a keyframe)" after N); not the first chunk from a new parent or the
# standby after a repair ("first chunk N from the ...").
FIRST='first chunk [0-9]*\( (a keyframe)\)\{0,1\} after'
with_video() {	# peers whose log has their first chunk
	grep -l "$FIRST" "$LAB_STATE"/peer*.log 2>/dev/null | grep -c . || true
}

pids=()
t0=$(now_ms)
for ((k = 0; k < npeers; k++)); do
	lab_bg "p$k" "$LAB_STATE/peer$k.log" "$top_builddir/treecast-peer" \
	    --negotiator "$N1" --channel crowd --no-http
	pids+=("$!")
done
started=$(($(now_ms) - t0))
echo "crowd-bench: $npeers peers started in $started ms" >&2

placed_ms= decided_ms= next_note=5000
while :; do
	el=$(($(now_ms) - t0))
	counts=$(api tree | jq -c '.channels[] | select(.name == "crowd") |
	    .counts' 2>/dev/null || true)
	[ -n "$counts" ] || counts='{}'
	placed=$(jq -r '.placed // 0' <<<"$counts")
	cands=$(jq -r '.candidates // 0' <<<"$counts")
	nodes=$(jq -r '.nodes // 0' <<<"$counts")
	[ -n "$placed_ms" ] || [ "$placed" -lt "$npeers" ] || placed_ms=$el
	[ -n "$decided_ms" ] || [ "$nodes" -lt "$npeers" ] ||
	    [ "$cands" -ne 0 ] || decided_ms=$el
	video=$(with_video)
	if [ "$el" -ge "$next_note" ]; then
		echo "crowd-bench: $((el / 1000)) s: $nodes in the tree," \
		    "$placed placed, $cands candidates, $video with video" >&2
		next_note=$((next_note + 5000))
	fi
	if [ "$video" -ge "$npeers" ] && [ -n "$placed_ms" ] &&
	    [ -n "$decided_ms" ]; then
		break
	fi
	[ "$el" -lt $((LIMIT_S * 1000)) ] || break
	sleep 0.5
done
tree=$(api tree)
links=$(api links)
stats=$(api stats)
lab_stop "${pids[@]}"
lab_stop "$origin"
if [ -n "$logs" ]; then
	mkdir -p "$logs"
	cp "$LAB_STATE"/*.log "$logs"/
fi

# The peers' own figures: time to the first chunk, JOINs refused.
firsts=$(for ((k = 0; k < npeers; k++)); do
	sed -n "s/.*$FIRST \\([0-9]*\\) ms.*/\\2/p" \
	    "$LAB_STATE/peer$k.log" | head -1
done | sort -n)
got=$(grep -c . <<<"$firsts" || true)
pct() {	# the Pth percentile (nearest rank) of $firsts
	awk -v p="$1" '{ v[NR] = $1 }
	    END { i = int((p * NR + 99) / 100); print NR ? v[i] : "-" }' \
	    <<<"$firsts"
}
refused=$(cat "$LAB_STATE"/peer*.log | grep -c "no parent yet (503" || true)
ch=$(jq -c '.channels[] | select(.name == "crowd")' <<<"$tree")
sec() {	# ms -> "S.S s", or "not within the limit"
	if [ -n "$1" ]; then
		awk -v m="$1" 'BEGIN { printf "%.1f s", m / 1000 }'
	else
		echo "not within ${LIMIT_S} s"
	fi
}

printf '%-40s %s\n' "peers started at once" "$npeers (in $started ms)"
printf '%-40s %s\n' "NATs" "$(printf '%s\n' "${nets[@]}" | sort |
    uniq -c | awk '{ printf "%s%d %s", (NR > 1 ? ", " : ""), $1, $2 }')"
printf '%-40s %s\n' "peers with video" "$got of $npeers"
printf '%-40s %s\n' "first chunk after start, p50" "$(pct 50) ms"
printf '%-40s %s\n' "first chunk after start, p90" "$(pct 90) ms"
printf '%-40s %s\n' "first chunk after start, max" "$(pct 100) ms"
printf '%-40s %s\n' "all placed in the tree" "$(sec "$placed_ms")"
printf '%-40s %s\n' "every candidate decided" "$(sec "$decided_ms")"
printf '%-40s %s\n' "JOINs refused for want of a slot (503)" "$refused"
printf '%-40s %s\n' "verifier: verified, failed" \
    "$(jq -r '"\(.tree_verified // "-"), \(.tree_verify_failed // "-")"' \
    <<<"$stats")"
printf '%-40s %s\n' "verified by a real child" \
    "$(jq -r '.tree_verified_by_child // "-"' <<<"$stats")"
printf '%-40s %s\n' "tree: repeaters, non-repeaters, depth" \
    "$(jq -r '.counts | "\(.repeaters), \(.nonrepeaters), \(.max_depth)"' \
    <<<"$ch")"
printf '%-40s %s\n' "unplaced at the end (the shortfall)" \
    "$(jq -r '[.nodes[] | select(.role != "origin" and .parent == null) |
    .nat] | "\(length)\(if length > 0 then " (" + (group_by(.) |
    map("\(length) \(.[0])") | join(", ")) + ")" else "" end)"' <<<"$ch")"
links_by() {	# the peers' links that came up by path $1
	jq -r --arg k "$1" '[.pairs[] | .[$k] // 0] | add // 0' <<<"$links"
}
printf '%-40s %s\n' "peers' links up: direct, relay, local" \
    "$(links_by direct), $(links_by relay), $(links_by local)"
[ "$got" -eq "$npeers" ]
