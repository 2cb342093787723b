#!/usr/bin/env bash
# treecast-negotiator against coturn's turnserver, answering plain STUN
# Binding requests (RFC 8489, no credential) under one load generator
# (nego-bench --binding: 1,000 sockets on 127.1.x.y, every answer checked).
# Both servers run on 127.0.0.1 with the same number of worker threads and
# answer with the same attributes (XOR-MAPPED-ADDRESS and FINGERPRINT:
# turnserver gets its production options). For each server in turn the
# offered rate doubles from --start until a step fails (loss over 0.1 % or
# p99 over 5 ms, or the generator offers under 98 % of the rate: it shares
# the cores with the server), then bisects
# between the last pass and the first failure. A failed step is run once
# more before it counts. Prints every step, each server's highest
# sustained rate and treecast's divided by coturn's.
#
#   bench/coturn-compare.sh [options]      from the build directory
set -eu

threads=$(nproc)
step=5
start=25000
bisect=3
max_loss=0.1
max_p99=5
nego_port=34790
turn_port=34795

usage() {
	cat <<EOF
usage: bench/coturn-compare.sh [options]      (from the build directory)

Drives treecast-negotiator and coturn's turnserver with the same plain STUN
Binding load, steps the rate up to each one's highest sustained rate and
prints treecast's divided by coturn's. About two minutes on two cores.

options:
  --threads N         worker threads of each server (default: one per CPU, $threads)
  --step SECONDS      length of each step (default $step)
  --start RATE        first offered rate, requests/s (default $start)
  --bisect N          bisection steps after the first failure (default $bisect)
  --max-loss PCT      a step passes with at most this loss (default $max_loss)
  --max-p99 MS        and at most this p99 response time (default $max_p99)
  --ports P1,P2       the negotiator's port (it takes P1+1 too) and
                      turnserver's (default $nego_port,$turn_port)
  -h, --help          print this help and exit
EOF
}

die() {
	echo "coturn-compare: $*" >&2
	exit 1
}

# A positive integer from min to max, or a message naming the option.
int_arg() {
	case $2 in
	'' | *[!0-9]*) die "$1 '$2': expected a number from $3 to $4" ;;
	esac
	[ "${#2}" -le 9 ] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] ||
	    die "$1 '$2': expected a number from $3 to $4"
}

dec_arg() {
	[[ $2 =~ ^[0-9]+(\.[0-9]+)?$ ]] && [ "${#2}" -le 12 ] ||
	    die "$1 '$2': expected a decimal number"
}

while [ $# -gt 0 ]; do
	case $1 in
	--threads) int_arg "$1" "${2-}" 1 256; threads=$2; shift 2 ;;
	--step) int_arg "$1" "${2-}" 1 600; step=$2; shift 2 ;;
	--start) int_arg "$1" "${2-}" 100 10000000; start=$2; shift 2 ;;
	--bisect) int_arg "$1" "${2-}" 0 10; bisect=$2; shift 2 ;;
	--max-loss) dec_arg "$1" "${2-}"; max_loss=$2; shift 2 ;;
	--max-p99) dec_arg "$1" "${2-}"; max_p99=$2; shift 2 ;;
	--ports)
		[[ ${2-} =~ ^([0-9]+),([0-9]+)$ ]] ||
		    die "--ports '${2-}': expected two ports, P1,P2"
		int_arg --ports "${BASH_REMATCH[1]}" 1 65534
		int_arg --ports "${BASH_REMATCH[2]}" 1 65535
		nego_port=${BASH_REMATCH[1]}
		turn_port=${BASH_REMATCH[2]}
		shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option '$1'" ;;
	esac
done

top_builddir=${top_builddir:-$PWD}
BENCH=$top_builddir/bench/nego-bench
NEGO=$top_builddir/treecast-negotiator
for f in "$BENCH" "$NEGO"; do
	[ -x "$f" ] || die "$f not found: run from the build directory" \
	    "after make (or set top_builddir)"
done
command -v turnserver >/dev/null ||
    die "turnserver not found (Debian: apt-get install coturn)"
for p in "$nego_port" $((nego_port + 1)) "$turn_port"; do
	[ -z "$(ss -Hlun "( sport = :$p )")" ] ||
	    die "UDP port $p is in use: choose others with --ports"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/coturn-compare.XXXXXX")
started=()
cleanup() {
	local p
	for p in "${started[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${started[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A port pid label
port[treecast]=$nego_port
port[coturn]=$turn_port
"$NEGO" --listen "127.0.0.1:$nego_port" --alt-port $((nego_port + 1)) \
    --no-relay --no-http --threads "$threads" --stats 0 --log-level warn \
    2>"$work/negotiator.log" &
pid[treecast]=$!
started+=("$!")
# --no-software-attribute, --no-stun-backward-compatibility and
# --response-origin-only-with-rfc5780: turnserver's answer then carries
# what the negotiator's does, XOR-MAPPED-ADDRESS and FINGERPRINT.
turnserver -n --stun-only --no-cli --no-tls --no-dtls --no-tcp \
    -L 127.0.0.1 -p "$turn_port" --relay-threads "$threads" \
    --no-software-attribute --no-stun-backward-compatibility \
    --response-origin-only-with-rfc5780 --db "$work/turndb" \
    --log-file "$work/turnserver.log" --simple-log --no-stdout-log \
    >/dev/null 2>&1 &
pid[coturn]=$!
started+=("$!")
coturn_version=$(turnserver --version 2>/dev/null | head -1)
label[treecast]="treecast-negotiator"
label[coturn]="coturn turnserver ${coturn_version:-?}"

for name in treecast coturn; do
	for ((i = 0; i < 50; i++)); do
		kill -0 "${pid[$name]}" 2>/dev/null ||
		    die "${label[$name]} exited at start:" \
		    "$(tail -3 "$work"/negotiator.log "$work"/turnserver*.log \
		    2>/dev/null)"
		[ -n "$(ss -Hlun "( sport = :${port[$name]} )")" ] && break
		sleep 0.1
	done
	[ $i -lt 50 ] || die "${label[$name]} is not listening on" \
	    "127.0.0.1:${port[$name]}"
done
sleep 0.5

# fig FILE NAME: the value on nego-bench's line for the figure NAME.
fig() {
	awk -v n="$2" 'index($0, n) == 1 {
		split(substr($0, length(n) + 1), a, " "); print a[1]; f = 1; exit
	} END { if (!f) exit 1 }' "$1" || die "no '$2' in $1: $(cat "$1")"
}

# run NAME RATE: one step; sets offered answered loss p50 p99 cpu verdict.
run() {
	local out=$work/$1-$2.txt
	"$BENCH" --binding --server "127.0.0.1:${port[$1]}" --rate "$2" \
	    --duration "$step" --pid "${pid[$1]}" >"$out" 2>"$out.err" ||
	    die "nego-bench failed against ${label[$1]}: $(cat "$out.err")"
	kill -0 "${pid[$1]}" 2>/dev/null || die "${label[$1]} died at $2/s"
	offered=$(fig "$out" "offered Binding requests")
	answered=$(fig "$out" "answered Binding requests")
	loss=$(fig "$out" "loss")
	p50=$(fig "$out" "p50 response time")
	p99=$(fig "$out" "p99 response time")
	cpu=$(fig "$out" "server CPU (of one core)")
	[ "$answered" != 0 ] || die "${label[$1]} answered nothing:" \
	    "$(tail -4 "$out")"
	verdict=$(awk -v r="$2" -v o="$offered" -v l="$loss" -v p="$p99" \
	    -v ml="$max_loss" -v mp="$max_p99" 'BEGIN {
		if (o < 0.98 * r) print "short"
		else if (l > ml) print "loss"
		else if (p > mp) print "p99"
		else print "pass"
	}')
	printf '%-10s %10s %10s %10s %8s %7s %7s %6s  %s\n' "$1" "$2" \
	    "$offered" "$answered" "$loss" "$p50" "$p99" "$cpu" "$verdict"
}

# The search, one state per server: lo the highest rate passed (its
# figures in best), hi the lowest failed, nb bisection steps taken.
declare -A lo hi nb best why finished
for name in treecast coturn; do
	lo[$name]=0; hi[$name]=; nb[$name]=0; best[$name]=; why[$name]=
	finished[$name]=0
done

# next_rate NAME: sets rate to the server's next step, or fails when its
# search is over.
next_rate() {
	local n=$1
	if [ -z "${hi[$n]}" ]; then
		if [ "${lo[$n]}" -eq 0 ]; then rate=$start; else rate=$((lo[$n] * 2)); fi
		[ "$rate" -le 10000000 ] || return 1
	else
		[ "${nb[$n]}" -lt "$bisect" ] || return 1
		rate=$(( (lo[$n] + hi[$n]) / 2 / 1000 * 1000 ))
		[ "$rate" -gt "${lo[$n]}" ] && [ "$rate" -lt "${hi[$n]}" ] || return 1
		nb[$n]=$((nb[$n] + 1))
	fi
}

echo "coturn-compare: plain STUN Binding requests (52 bytes: SOFTWARE and" \
    "FINGERPRINT, no credential)"
echo "from 1000 sockets on 127.1.x.y (bench/nego-bench --binding), $step s a" \
    "step; a step passes with loss <= $max_loss % and p99 <= $max_p99 ms."
echo "Both servers on 127.0.0.1 with $threads worker threads:" \
    "treecast-negotiator --threads $threads, turnserver --relay-threads" \
    "$threads (plus its listener, auth and admin threads); $(nproc) CPUs," \
    "shared with the generator."
echo
printf '%-10s %10s %10s %10s %8s %7s %7s %6s  %s\n' server "rate/s" \
    "offered/s" "answered/s" "loss %" "p50 ms" "p99 ms" "CPU %" result
t0=$(date +%s)
short=
while [ "${finished[treecast]}" -eq 0 ] || [ "${finished[coturn]}" -eq 0 ]; do
	for name in treecast coturn; do
		[ "${finished[$name]}" -eq 0 ] || continue
		if ! next_rate "$name"; then
			finished[$name]=1
			continue
		fi
		run "$name" "$rate"
		[ "$verdict" != short ] || short=1
		if [ "$verdict" != pass ]; then
			run "$name" "$rate"	# once more before it counts
			[ "$verdict" != short ] || short=1
		fi
		if [ "$verdict" = pass ]; then
			lo[$name]=$rate
			best[$name]="$answered $p50 $p99 $cpu"
		else
			hi[$name]=$rate
			why[$name]="$rate/s failed ($verdict: loss $loss %, p99 $p99 ms, offered $offered/s)"
		fi
	done
done

echo
echo "highest sustained rate ($(($(date +%s) - t0)) s of steps):"
for name in treecast coturn; do
	if [ "${lo[$name]}" -eq 0 ]; then
		printf 'sustained %s: 0 /s (the first step, %s/s, failed)\n' \
		    "${label[$name]}" "$start"
		continue
	fi
	read -r a b c d <<<"${best[$name]}"
	printf 'sustained %s: %s /s (offered %s/s; p50 %s ms, p99 %s ms, CPU %s %% of a core)\n' \
	    "${label[$name]}" "$a" "${lo[$name]}" "$b" "$c" "$d"
	[ -z "${why[$name]}" ] || echo "  next: ${why[$name]}"
done
ratio=$(awk -v a="${best[treecast]%% *}" -v b="${best[coturn]%% *}" \
    'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "-" }')
echo "ratio treecast/coturn: $ratio"
[ -z "$short" ] ||
    echo "(short: the generator offered under 98 % of the rate, the cores" \
    "being full; a failure like the others.)"
