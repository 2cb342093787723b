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
. "$top_srcdir/tests/lab/link.sh"
PUBLIC=(open eim seq random)
ATTEMPTS=${ATTEMPTS:-5}

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
lab_nego
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
lab_negotiator --http "$N1:8080" --log-level warn

# Target ids: 7000k for t-PUBLIC[k], 7100 for t-cgn, 7200 for t-cgn2,
# 7300 for t-hp.
for ((k = 0; k < ${#PUBLIC[@]}; k++)); do
	link_accept "t-${PUBLIC[k]}" "${PUBLIC[k]}" "7000$k"
done
link_accept t-cgn cgn 7100
link_accept t-cgn2 cgn2 7200
link_accept t-hp hp 7300
link_ready "${PUBLIC[@]}" cgn cgn2 hp

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
	want=direct	# random: birthday punching (net/link/link-birthday.c)
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
link_end "$links"
