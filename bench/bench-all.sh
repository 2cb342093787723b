#!/usr/bin/env bash
# Every benchmark of treecast, one after the other, and one table of what
# they printed: figure, value, unit, target, and whether it was met.
#
#   1. negotiator: bench/nego-bench, 600,000 clients, a keepalive every 3 s
#   2. the broker: bench/nego-bench --links, 10,000 links a second
#   3. tree manager: bench/tree-sim, 1,000,000 nodes with churn
#   4. the broadcast in the NAT lab: bench/stream-bench.sh (root)
#   5. link connect times in the NAT lab: tests/link-lab.sh (root)
#   6. STUN Binding against coturn's turnserver: bench/coturn-compare.sh
#   7. a flash crowd in the NAT lab: bench/crowd-bench.sh, 120 peers (root)
#   8. viewers under churn in the NAT lab: bench/churn-bench.sh (root)
#   9. signed chunks: bench/chunk-bench, sign and verify, per chunk and per
#      second of 5 Mbit/s video
#
# Every value comes from the benchmark's own output; nothing is filled in.
# Without root the lab steps are skipped, and the table says so.
#
#   bench/bench-all.sh [options]      from the build directory (make bench)
set -eu

nego_secs=30
stream_secs=30
churn_peers=40
churn_secs=180
skip=,
logs=

usage() {
	cat <<EOF
usage: bench/bench-all.sh [options]      (from the build directory)

Runs every treecast benchmark and prints one table: figure | value | unit |
target | met. About nine minutes on two cores as root (the NAT lab steps
need root; as another user they are skipped).

steps: nego (bench/nego-bench, 600,000 clients every 3 s), broker
(nego-bench --links, 10,000 links a second), tree (bench/tree-sim,
1,000,000 nodes), stream (bench/stream-bench.sh, root), link
(tests/link-lab.sh, root), coturn (bench/coturn-compare.sh), crowd
(bench/crowd-bench.sh, 120 peers starting at once, root), churn
(bench/churn-bench.sh: viewers coming and going, a mass departure and a
negotiator restart, each viewer's player decoding; root), chunk
(bench/chunk-bench: signing and checking chunks).

options:
  --nego-duration S   seconds of keepalives to measure (default $nego_secs)
  --stream-duration S seconds of the broadcast to measure (default $stream_secs)
  --churn-peers N     viewer slots of the churn step (default $churn_peers)
  --churn-duration S  seconds of the churn step (default $churn_secs)
  --skip LIST         steps to leave out, comma-separated (e.g. link,coturn)
  --logs DIR          keep each benchmark's full output in DIR (default: a
                      temporary directory, removed at the end)
  -h, --help          print this help and exit
EOF
}

die() {
	echo "bench-all: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case $1 in
	--nego-duration | --stream-duration | --churn-duration)
		case ${2-} in
		'' | *[!0-9]*) die "$1 '${2-}': expected seconds, 1 to 3600" ;;
		esac
		[ "${#2}" -le 4 ] && [ "$2" -ge 1 ] && [ "$2" -le 3600 ] ||
		    die "$1 '$2': expected seconds, 1 to 3600"
		case $1 in
		--nego-duration) nego_secs=$2 ;;
		--stream-duration) stream_secs=$2 ;;
		*) [ "$2" -ge 20 ] || die "$1 '$2': at least 20 s"
			churn_secs=$2 ;;
		esac
		shift 2 ;;
	--churn-peers)
		case ${2-} in
		'' | *[!0-9]*) die "$1 '${2-}': expected 2 to 200" ;;
		esac
		[ "${#2}" -le 3 ] && [ "$2" -ge 2 ] && [ "$2" -le 200 ] ||
		    die "$1 '$2': expected 2 to 200"
		churn_peers=$2
		shift 2 ;;
	--skip)
		for s in ${2//,/ }; do
			case $s in
			nego | broker | tree | stream | link | coturn | crowd | churn | chunk)
				skip+="$s," ;;
			*) die "--skip '$s': the steps are nego, broker, tree, stream, link, coturn, crowd, churn, chunk" ;;
			esac
		done
		shift 2 ;;
	--logs) [ -n "${2-}" ] || die "--logs needs a directory"; logs=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option '$1'" ;;
	esac
done

top_builddir=${top_builddir:-$PWD}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=$(cd "$top_builddir" && pwd)
export top_srcdir top_builddir
for f in treecast-negotiator bench/nego-bench bench/tree-sim bench/chunk-bench; do
	[ -x "$top_builddir/$f" ] || die "$top_builddir/$f not found: run" \
	    "from the build directory after make (or set top_builddir)"
done

if [ -n "$logs" ]; then
	mkdir -p "$logs" || die "--logs '$logs': cannot make the directory"
	logs=$(cd "$logs" && pwd)
	keep=1
else
	logs=$(mktemp -d "${TMPDIR:-/tmp}/bench-all.XXXXXX")
	keep=0
fi
child=
cleanup() {
	if [ -n "$child" ]; then
		kill "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	[ "$keep" = 1 ] || rm -rf "$logs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

root=0
[ "$(id -u)" -eq 0 ] && root=1
steps=9
k=0
failed=0
notes=()
rows=()

# row FIGURE VALUE UNIT [OP LIMIT]: a line of the table; OP is <, <=, >=
# or =, and without one the figure has no target.
row() {
	rows+=("$1|$2|$3|${4-}|${5-}")
}

# fig FILE NAME: the first word after NAME on the line that starts with it
# (nego-bench's and tree-sim's "figure   value unit" lines), or "-".
fig() {
	awk -v n="$2" 'index($0, n) == 1 {
		split(substr($0, length(n) + 1), a, " "); print a[1]; f = 1; exit
	} END { if (!f) print "-" }' "$1"
}

# busy: how much of the CPUs other processes use, over one second of
# /proc/stat (user, nice, system, irq, softirq, steal against the total),
# in percent. Nothing of ours runs between steps.
busy() {
	local a b
	a=$(head -1 /proc/stat)
	sleep 1
	b=$(head -1 /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN {
		n = split(a, x, " "); split(b, y, " ")
		for (i = 2; i <= n && i <= 9; i++) {
			d = y[i] - x[i]; t += d
			if (i != 5 && i != 6) u += d	# idle, iowait
		}
		printf "%.0f", (t > 0 ? 100 * u / t : 0)
	}'
}

# run NAME DESCRIPTION COMMAND...: a step, its output to $logs/NAME.log, a
# progress line before and after. Returns the command's status.
run() {
	local name=$1 what=$2 t0 rc=0 b
	shift 2
	k=$((k + 1))
	# Up to 10 s for the last step's leftovers (a lab's teardown) to go.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		b=$(busy)
		[ "$b" -ge 15 ] || break
	done
	t0=$(date +%s)
	echo "[$k/$steps] $what (other processes: $b % of the CPUs) ..." >&2
	[ "$b" -lt 15 ] ||
	    notes+=("$name: other processes used $b % of the CPUs just before it: its figures may be disturbed")
	"$@" >"$logs/$name.log" 2>&1 &
	child=$!
	wait "$child" || rc=$?
	child=
	if [ $rc -eq 0 ]; then
		echo "      done in $(($(date +%s) - t0)) s" >&2
	else
		echo "      exit status $rc after $(($(date +%s) - t0)) s;" \
		    "the end of its output:" >&2
		tail -8 "$logs/$name.log" | sed 's/^/      | /' >&2
		failed=$((failed + 1))
		notes+=("$name: exit status $rc (its figures, where it printed any, are still shown)")
	fi
	return $rc
}

skipped() {	# skipped NAME DESCRIPTION WHY
	k=$((k + 1))
	echo "[$k/$steps] $2: skipped ($3)" >&2
	notes+=("$1: skipped ($3)")
}

t_start=$(date +%s)

# 1. The negotiator (issue 3): 600,000 clients, a keepalive every 3 s.
if [[ $skip == *,nego,* ]]; then
	skipped nego "negotiator, 600,000 clients" "--skip"
	row "negotiator 600k clients T=3 s: loss" skipped "%" = 0
	row "negotiator 600k clients T=3 s: p99 response" skipped "ms" "<" 5
	row "negotiator memory per registered client" skipped "bytes" "<" 256
else
	run nego "negotiator: 600,000 clients, a keepalive every 3 s, $nego_secs s" \
	    "$top_builddir/bench/nego-bench" --negotiator \
	    "$top_builddir/treecast-negotiator" --clients 600000 --interval 3 \
	    --duration "$nego_secs" || true
	f=$logs/nego.log
	row "negotiator 600k clients T=3 s: answered keepalives" \
	    "$(fig "$f" "answered keepalives")" "req/s"
	row "negotiator 600k clients T=3 s: loss" "$(fig "$f" "loss")" "%" = 0
	row "negotiator 600k clients T=3 s: p50 response" \
	    "$(fig "$f" "p50 response time")" "ms"
	row "negotiator 600k clients T=3 s: p99 response" \
	    "$(fig "$f" "p99 response time")" "ms" "<" 5
	row "negotiator 600k clients T=3 s: CPU" \
	    "$(fig "$f" "negotiator CPU (of one core)")" "% of a core"
	row "negotiator memory per registered client" \
	    "$(fig "$f" "memory per registered client")" "bytes" "<" 256
fi

# 2. The broker: 10,000 links a second among 100,000 clients (each link
# answered by its peer and reported 1 s later), beside their keepalives.
if [[ $skip == *,broker,* ]]; then
	skipped broker "broker, 10,000 links a second" "--skip"
	row "broker 10k links/s: links refused" skipped "links" = 0
else
	run broker "broker: 10,000 links a second, 100,000 clients, 20 s" \
	    "$top_builddir/bench/nego-bench" --negotiator \
	    "$top_builddir/treecast-negotiator" --clients 100000 \
	    --links 10000 --connect-ms 1000 --duration 20 || true
	f=$logs/broker.log
	row "broker 10k links/s: links brokered" \
	    "$(fig "$f" "links brokered (GO)")" "links/s"
	row "broker 10k links/s: links refused" \
	    "$(fig "$f" "links refused")" "links" = 0
	row "broker 10k links/s: p99 LINK to GO" \
	    "$(fig "$f" "p99 LINK to GO")" "ms"
	row "broker 10k links/s: negotiator CPU" \
	    "$(fig "$f" "negotiator CPU (of one core)")" "% of a core"
fi

# 3. The tree manager (issue 6): 1,000,000 nodes, then as many departures.
if [[ $skip == *,tree,* ]]; then
	skipped tree "tree manager, 1,000,000 nodes" "--skip"
	row "tree-sim 1M nodes: placements (time in tree_join)" skipped \
	    "joins/s" ">=" 100000
else
	run tree "tree manager: 1,000,000 nodes with churn, checked" \
	    "$top_builddir/bench/tree-sim" -n 1000000 -c 1 --check || true
	f=$logs/tree.log
	row "tree-sim 1M nodes: placements (time in tree_join)" \
	    "$(fig "$f" "placements per second ")" "joins/s" ">=" 100000
	row "tree-sim 1M nodes: placements (whole run, wall)" \
	    "$(fig "$f" "placements per second, wall")" "joins/s"
	row "tree-sim 1M nodes: repair moves per departure" \
	    "$(fig "$f" "repair moves per departure")" "moves"
fi

# 4. The broadcast in the NAT lab (issue 5).
if [[ $skip == *,stream,* ]] || [ $root = 0 ]; then
	if [ $root = 0 ]; then
		skipped stream "broadcast in the NAT lab" \
		    "needs root: network namespaces"
	else
		skipped stream "broadcast in the NAT lab" "--skip"
	fi
	row "stream: peer start to first chunk, slowest peer" skipped "ms" \
	    "<" 1000
	row "stream: delay added per hop, worst hop" skipped "ms" "<" 5
	row "stream: CPU of a peer relaying to two, worst" skipped \
	    "% of a core" "<" 5
else
	run stream "broadcast in the NAT lab: 5 Mbit/s to 7 peers, $stream_secs s" \
	    bash "$top_srcdir/bench/stream-bench.sh" "$stream_secs" || true
	f=$logs/stream.log
	# Peer rows: p0 eim 1 600 ms 0.6 ms 2 3.0%
	first=$(awk '$1 ~ /^p[0-9]+$/ && $5 == "ms" && $4 ~ /^[0-9]+$/ {
		n++; if ($4 > m) m = $4 } END { print n ? m : "-" }' "$f")
	hop=$(sed -n 's/.*this hop adds \([0-9.-]*\) ms.*/\1/p' "$f" |
	    awk '{ n++; if ($1 > m || n == 1) m = $1 } END { print n ? m : "-" }')
	relay=$(sed -n "s/^relaying peers' CPU: \(.*\) % of a core.*/\1/p" "$f" |
	    awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) {
		n++; if ($i > m) m = $i } } END { print n ? m : "-" }')
	share=$(sed -n 's/.*the origin sent \([0-9.]*\) %.*/\1/p' "$f" | tail -1)
	row "stream: peer start to first chunk, slowest peer" "$first" "ms" \
	    "<" 1000
	row "stream: delay added per hop, worst hop" "$hop" "ms" "<" 5
	row "stream: CPU of a peer relaying to two, worst" "$relay" \
	    "% of a core" "<" 5
	row "stream: origin upload against all peers' intake" "${share:--}" "%"
fi

# 5. Link connect times in the NAT lab (issue 4): every ordered pair of
# NAT behaviours, 5 attempts each.
if [[ $skip == *,link,* ]]; then
	skipped link "link connect times in the NAT lab" "--skip"
elif [ $root = 0 ]; then
	skipped link "link connect times in the NAT lab" "needs root: network namespaces"
elif [ ! -x "$top_builddir/tests/lab/linktool" ] &&
    ! make -C "$top_builddir" tests/lab/linktool >"$logs/linktool-make.log" 2>&1; then
	skipped link "link connect times in the NAT lab" \
	    "tests/lab/linktool would not build: see make check"
else
	run link "link connect times in the NAT lab: 36 pairs x 5 links" \
	    bash "$top_srcdir/tests/link-lab.sh" || true
	# Summary rows: "all direct    105  direct   112   155" (median, p95 ms)
	for path in direct local relay; do
		read -r n med p95 < <(awk -v p="$path" '$1 == "all" &&
		    $2 == p && NF >= 6 { print $3, $(NF - 1), $NF; f = 1; exit }
		    END { if (!f) print "- - -" }' "$logs/link.log")
		row "link connect, $path: median of $n links" "$med" "ms"
		row "link connect, $path: p95" "$p95" "ms"
	done
fi

# 6. STUN Binding against coturn (issue 8).
if [[ $skip == *,coturn,* ]] || ! command -v turnserver >/dev/null; then
	if [[ $skip == *,coturn,* ]]; then
		skipped coturn "STUN Binding against coturn" "--skip"
	else
		skipped coturn "STUN Binding against coturn" \
		    "turnserver not installed (Debian: coturn)"
	fi
	row "STUN Binding, treecast / coturn" skipped "ratio" ">=" 1
else
	run coturn "STUN Binding, treecast-negotiator and coturn, rates stepped up" \
	    bash "$top_srcdir/bench/coturn-compare.sh" || true
	f=$logs/coturn.log
	tc=$(sed -n 's/^sustained treecast-negotiator: \([0-9]*\) \/s.*/\1/p' "$f")
	ct=$(sed -n 's/^sustained coturn[^:]*: \([0-9]*\) \/s.*/\1/p' "$f")
	ratio=$(sed -n 's/^ratio treecast\/coturn: \([0-9.-]*\).*/\1/p' "$f")
	threads=$(sed -n 's/.*with \([0-9]*\) worker threads.*/\1/p' "$f")
	row "STUN Binding sustained, treecast-negotiator (${threads:-?} threads)" \
	    "${tc:--}" "req/s"
	row "STUN Binding sustained, coturn turnserver (${threads:-?} threads)" \
	    "${ct:--}" "req/s"
	row "STUN Binding, treecast / coturn" "${ratio:--}" "ratio" ">=" 1
fi

# 7. A flash crowd in the NAT lab: 120 peers behind NATs of every kind start
# at the same moment.
if [[ $skip == *,crowd,* ]] || [ $root = 0 ]; then
	if [ $root = 0 ]; then
		skipped crowd "flash crowd in the NAT lab" \
		    "needs root: network namespaces"
	else
		skipped crowd "flash crowd in the NAT lab" "--skip"
	fi
	row "crowd of 120 at once: peers with video" skipped "peers" = 120
else
	run crowd "flash crowd in the NAT lab: 120 peers start at once" \
	    bash "$top_srcdir/bench/crowd-bench.sh" --peers 120 || true
	f=$logs/crowd.log
	num() {	# FILE NAME: fig, or "-" when it is not a number
		local v
		v=$(fig "$1" "$2")
		[[ $v =~ ^[0-9.]+$ ]] && echo "$v" || echo -
	}
	row "crowd of 120 at once: peers with video" \
	    "$(num "$f" "peers with video")" "peers" = 120
	row "crowd of 120 at once: start to first chunk, p50" \
	    "$(num "$f" "first chunk after start, p50")" "ms"
	row "crowd of 120 at once: start to first chunk, slowest" \
	    "$(num "$f" "first chunk after start, max")" "ms"
	row "crowd of 120 at once: all placed in the tree" \
	    "$(num "$f" "all placed in the tree")" "s"
	row "crowd of 120 at once: every candidate verified or not" \
	    "$(num "$f" "every candidate decided")" "s"
fi

# 8. Viewers under churn in the NAT lab (issue 18): sessions drawn from a
# heavy-tailed distribution, a mass departure, a negotiator restart.
if [[ $skip == *,churn,* ]] || [ $root = 0 ]; then
	if [ $root = 0 ]; then
		skipped churn "viewers under churn in the NAT lab" \
		    "needs root: network namespaces"
	else
		skipped churn "viewers under churn in the NAT lab" "--skip"
	fi
	row "churn: continuity index" skipped "%" ">=" 99.5
	row "churn: chunks lost" skipped "chunks" = 0
	row "churn: departure to next chunk, p99" skipped "ms" "<" 1000
	row "churn: negotiator restart, all registered again" skipped "ms" \
	    "<=" 5000
else
	run churn "viewers under churn in the NAT lab: $churn_peers slots, $churn_secs s" \
	    bash "$top_srcdir/bench/churn-bench.sh" --peers "$churn_peers" \
	    --seconds "$churn_secs" || true
	f=$logs/churn.log
	cnum() {	# FILE NAME: fig, or "-" when it is not a number
		local v
		v=$(fig "$1" "$2")
		[[ $v =~ ^[0-9.]+$ ]] && echo "$v" || echo -
	}
	row "churn: viewer-minutes played" \
	    "$(cnum "$f" "viewer-minutes played")" "min"
	row "churn: departures, all (SIGTERM and SIGKILL)" \
	    "$(cnum "$f" "departures (vanished: SIGKILL)")" "viewers"
	row "churn: continuity index" "$(cnum "$f" "continuity index")" "%" \
	    ">=" 99.5
	row "churn: stalls per viewer-minute" \
	    "$(cnum "$f" "stalls per viewer-minute")" "stalls"
	row "churn: stalled per viewer-minute" \
	    "$(cnum "$f" "stalled per viewer-minute")" "s"
	row "churn: chunks lost" "$(cnum "$f" "chunks lost")" "chunks" = 0
	row "churn: departure to next chunk, p50" \
	    "$(cnum "$f" "departure to next chunk, p50")" "ms"
	row "churn: departure to next chunk, p99" \
	    "$(cnum "$f" "departure to next chunk, p99")" "ms" "<" 1000
	row "churn: negotiator restart, all registered again" \
	    "$(cnum "$f" "negotiator restart: all registered again after")" \
	    "ms" "<=" 5000
	row "churn: stalls around the negotiator restart" \
	    "$(cnum "$f" "negotiator restart: stalls from 1 s before to 10 s after")" \
	    "stalls" = 0
fi

# 9. Signed chunks (issue 15): (a) Ed25519 on every chunk, what treecast
# does; (b) BLAKE2b per chunk and a signature per 64, for comparison.
if [[ $skip == *,chunk,* ]]; then
	skipped chunk "signed chunks" "--skip"
	row "chunk (a) Ed25519 each: verify, per second of 5 Mbit/s" skipped \
	    "us" "<" 50000
else
	run chunk "signed chunks: sign and verify, 12 KB chunks" \
	    "$top_builddir/bench/chunk-bench" || true
	f=$logs/chunk.log
	for o in "(a) Ed25519 per chunk" "(b) per window"; do
		case $o in
		"(a)"*) name="chunk (a) Ed25519 each" ;;
		*) name="chunk (b) BLAKE2b each, Ed25519 per 64" ;;
		esac
		for op in sign verify; do
			row "$name: $op, per chunk" \
			    "$(fig "$f" "$o: $op, per chunk")" "ns"
			if [ "$o" = "(a) Ed25519 per chunk" ] && [ $op = verify ]; then
				row "$name: $op, per second of 5 Mbit/s" \
				    "$(fig "$f" "$o: $op, per second")" "us" "<" 50000
			else
				row "$name: $op, per second of 5 Mbit/s" \
				    "$(fig "$f" "$o: $op, per second")" "us"
			fi
		done
	done
fi

# The table.
met=0
targets=0
w=10
for r in "${rows[@]}"; do
	IFS='|' read -r fig_ val unit op lim <<<"$r"
	[ "${#fig_}" -le "$w" ] || w=${#fig_}
done
echo
printf "| %-${w}s | %12s | %-11s | %-10s | %-3s |\n" figure value unit target met
printf "|%s|%s|%s|%s|%s|\n" "$(printf -- '-%.0s' $(seq $((w + 2))))" \
    "--------------" "-------------" "------------" "-----"
for r in "${rows[@]}"; do
	IFS='|' read -r fig_ val unit op lim <<<"$r"
	if [ -z "$op" ]; then
		target=
		ok=
	elif [ "$val" = skipped ]; then
		target="$op $lim"
		[ "$op" != = ] || target=$lim
		ok=-
	else
		target="$op $lim"
		[ "$op" != = ] || target=$lim
		targets=$((targets + 1))
		ok=$(awk -v v="$val" -v op="$op" -v t="$lim" 'BEGIN {
			if (v !~ /^-?[0-9]+(\.[0-9]+)?$/) { print "no"; exit }
			v += 0
			r = op == "<" ? v < t : op == "<=" ? v <= t : \
			    op == ">=" ? v >= t : v == t
			print r ? "yes" : "no"
		}')
		[ "$ok" != yes ] || met=$((met + 1))
	fi
	printf "| %-${w}s | %12s | %-11s | %-10s | %-3s |\n" "$fig_" "$val" \
	    "$unit" "$target" "$ok"
done
echo
echo "$met of $targets targets met (skipped ones not counted);" \
    "$(($(date +%s) - t_start)) s in all."
for n in "${notes[@]+"${notes[@]}"}"; do
	echo "note: $n"
done
[ "$keep" = 0 ] || echo "each benchmark's output: $logs/"
[ $failed -eq 0 ]
