# Links through double NAT: hosts behind home eim routers behind one
# carrier-grade NAT (lab_cgn: endpoint-independent, ports not preserved)
# link with open, eim, seq and random hosts on the public side, both ways,
# and two homes behind the one CGN link to each other. 5 attempts each, 100
# messages each way on every link; every one must connect: directly where
# a punch can join the pair (a random allocator too, by birthday
# punching: the CGN maps endpoint-independently), through the relay where
# none can (two homes behind one CGN, which does not hairpin: the first
# punch fails, the broker relays them from then on). Two homes behind
# a hairpinning CGN (lab_cgn --hairpin) link directly, through it. Then a
# table of paths and connect times.
set -eu
. "$top_srcdir/tests/lab/lab.sh"
LINK=$top_builddir/tests/lab/linktool
NEGOTIATOR=$top_builddir/treecast-negotiator
PUBLIC=(open eim seq random)
ATTEMPTS=${ATTEMPTS:-5}

# Waits up to 30 s for linktool to say it is ready.
ready() {
	local i
	for ((i = 0; i < 300; i++)); do
		grep -q "linktool: ready" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Lines of JSON FILE... -> the connect_ms of the ok ones, one a line.
ok_ms() {
	cat "$@" | grep '"ok":true' |
	    sed -n 's/.*"connect_ms":\([0-9-]*\).*/\1/p' || true
}

# pct P: the Pth percentile (nearest rank) of the numbers on stdin.
pct() {
	sort -n | awk -v p="$1" '{ v[NR] = $1 }
	    END { i = int((p * NR + 99) / 100); print NR ? v[i] : "-" }'
}

# The paths of the ok lines of FILE, "direct/relay" when mixed.
ok_paths() {
	grep '"ok":true' "$1" | sed -n 's/.*"path":"\([^"]*\)".*/\1/p' |
	    sort -u | paste -sd/ || true
}

# verdict PAIR WANT: every attempt of PAIR reported, ok, on path WANT.
verdict() {
	local pair=$1 want=$2 out="$LAB_STATE/pair-$1" lines oks paths
	lines=$(grep -c '"attempt"' "$out.json" || true)
	oks=$(grep -c '"ok":true' "$out.json" || true)
	paths=$(ok_paths "$out.json")
	if [ "$lines" -ne "$ATTEMPTS" ]; then
		fail "$pair: $lines of $ATTEMPTS attempts reported:" \
		    "$(tail -3 "$out.log")"
	elif [ "$oks" -eq "$ATTEMPTS" ] && [ "$paths" = "$want" ]; then
		pass "$pair: $oks/$ATTEMPTS $paths, median" \
		    "$(ok_ms "$out.json" | pct 50) ms"
	else
		fail "$pair: $oks/$ATTEMPTS ok, path ${paths:-none} (want $want):"
		grep -v '"ok":true' "$out.json" | sed 's/^/    /'
	fi
}

lab_init
lab_public nego 2
N1=$(lab_ip nego 1)
lab_cgn carrier
lab_net i-cgn eim --behind carrier
lab_net t-cgn eim --behind carrier
lab_net t-cgn2 eim --behind carrier
lab_cgn hairpin --hairpin
lab_net i-hp eim --behind hairpin
lab_net t-hp eim --behind hairpin
for b in "${PUBLIC[@]}"; do
	lab_net "i-$b" "$b"
	lab_net "t-$b" "$b"
done
lab_bg nego "$LAB_STATE/negotiator.log" "$NEGOTIATOR" --listen "$N1:3478" \
    --alt-address "$(lab_ip nego 2)" --http "$N1:8080" --log-level warn
sleep 0.5	# the negotiator binds; discovery retransmits anyway

# Target ids: 7000k for t-PUBLIC[k], 7100 for t-cgn, 7200 for t-cgn2,
# 7300 for t-hp.
for ((k = 0; k < ${#PUBLIC[@]}; k++)); do
	lab_bg "t-${PUBLIC[k]}" "$LAB_STATE/accept-${PUBLIC[k]}.log" "$LINK" \
	    "$N1" --id "7000$k" --accept
done
lab_bg t-cgn "$LAB_STATE/accept-cgn.log" "$LINK" "$N1" --id 7100 --accept
lab_bg t-cgn2 "$LAB_STATE/accept-cgn2.log" "$LINK" "$N1" --id 7200 --accept
lab_bg t-hp "$LAB_STATE/accept-hp.log" "$LINK" "$N1" --id 7300 --accept
for t in "${PUBLIC[@]}" cgn cgn2 hp; do
	ready "$LAB_STATE/accept-$t.log" ||
	    fail "$t target is not ready: $(cat "$LAB_STATE/accept-$t.log")"
done

# Round k: the CGN host links out to t-PUBLIC[k] while i-PUBLIC[k] links in
# to t-cgn, so no target serves two at once.
for ((k = 0; k < ${#PUBLIC[@]}; k++)); do
	b=${PUBLIC[k]}
	lab_exec i-cgn "$LINK" "$N1" --id "10$k" --link "7000$k" \
	    --attempts "$ATTEMPTS" >"$LAB_STATE/pair-cgnat-$b.json" \
	    2>"$LAB_STATE/pair-cgnat-$b.log" &
	lab_exec "i-$b" "$LINK" "$N1" --id "20$k" --link 7100 \
	    --attempts "$ATTEMPTS" >"$LAB_STATE/pair-$b-cgnat.json" \
	    2>"$LAB_STATE/pair-$b-cgnat.log" &
	wait
done
# Two homes behind the one CGN: the same public address, no hairpinning,
# and each other's 10.x addresses behind other home routers.
lab_exec i-cgn "$LINK" "$N1" --id 300 --link 7200 --attempts "$ATTEMPTS" \
    >"$LAB_STATE/pair-cgnat-cgnat.json" 2>"$LAB_STATE/pair-cgnat-cgnat.log" &
# Two homes behind a hairpinning CGN.
lab_exec i-hp "$LINK" "$N1" --id 400 --link 7300 --attempts "$ATTEMPTS" \
    >"$LAB_STATE/pair-hairpin-hairpin.json" \
    2>"$LAB_STATE/pair-hairpin-hairpin.log" &
wait

for b in "${PUBLIC[@]}"; do
	want=direct	# random: birthday punching (link/link.c)
	verdict "cgnat-$b" "$want"
	verdict "$b-cgnat" "$want"
done
verdict cgnat-cgnat relay
verdict hairpin-hairpin direct

echo
printf '%-16s %8s %4s  %-13s %7s %7s\n' pair attempts ok path median p95
pairs=()
for b in "${PUBLIC[@]}"; do
	pairs+=("cgnat-$b" "$b-cgnat")
done
for p in "${pairs[@]}" cgnat-cgnat hairpin-hairpin; do
	out="$LAB_STATE/pair-$p.json"
	printf '%-16s %8s %4s  %-13s %7s %7s\n' "${p/-/->}" \
	    "$(grep -c '"attempt"' "$out" || true)" \
	    "$(grep -c '"ok":true' "$out" || true)" \
	    "$(ok_paths "$out")" "$(ok_ms "$out" | pct 50)" \
	    "$(ok_ms "$out" | pct 95)"
done

# The two homes' punches that failed, as the negotiator counted them.
links=$(lab_exec nego curl -s "http://$N1:8080/api/links" || true)
retried=$(grep -o '{"a":[^}]*"failed_[^}]*}' <<<"$links" || true)
if [ -n "$retried" ]; then
	echo "note: attempts that failed before a link came up, by pair:"
	sed 's/^/note:   /' <<<"$retried"
fi

if [ "$LAB_FAILURES" -ne 0 ]; then
	echo "--- negotiator log (tail)"
	tail -30 "$LAB_STATE/negotiator.log"
fi
lab_verdict
