#!/bin/bash
# Birthday punching (net/link/link-birthday.c): a host behind a random allocator (lab
# "random": masquerade fully-random, address-and-port-dependent) links
# DIRECTLY, without the relay, with hosts whose mapping is endpoint-
# independent but which filter: port preserved (eim), a static offset
# (offset), not preserved (eim-np), and an eim home behind a carrier-grade
# NAT (cgnat). Both ways: the random host asks, and is asked. random->eim
# is tried BIG times (100), the issue's target of 99 % without the relay;
# the others FEW times (10), so that CI stays within time. Every attempt
# must connect (a failed birthday is retried through the relay); the
# direct share must reach 99 % over the big pair and 90 % over each other.
# Then a table of success and time-to-connect percentiles, and the
# negotiator's birthday counters.
#
#   BIG=100 FEW=10 SOCKETS=256 PROBES=2048 bash tests/link-birthday.sh
set -eu
. "$top_srcdir/tests/lab/lab.sh"
. "$top_srcdir/tests/lab/link.sh"
EASY=(eim offset eim-np cgnat)
BIG=${BIG:-100}
FEW=${FEW:-10}
BDAY=(--birthday-sockets "${SOCKETS:-256}" --birthday-probes "${PROBES:-2048}")

# verdict PAIR N MIN: N attempts reported, all ok, at least MIN % direct.
verdict() {
	local pair=$1 n=$2 min=$3 out="$LAB_STATE/pair-$1" lines oks direct
	lines=$(grep -c '"attempt"' "$out.json" || true)
	oks=$(grep -c '"ok":true' "$out.json" || true)
	direct=$(grep -c '"ok":true.*"path":"direct"' "$out.json" || true)
	if [ "$lines" -ne "$n" ]; then
		fail "$pair: $lines of $n attempts reported:" \
		    "$(tail -3 "$out.log")"
	elif [ "$oks" -ne "$n" ]; then
		fail "$pair: $oks/$n connected:"
		grep -v '"ok":true' "$out.json" | sed 's/^/    /'
	elif [ $((direct * 100)) -lt $((min * n)) ]; then
		fail "$pair: $direct/$n direct (want $min %), the rest relayed"
	else
		pass "$pair: $direct/$n direct, $((oks - direct)) relayed"
	fi
}

lab_init
lab_nego
lab_cgn carrier
lab_net i-random random
lab_net t-random random
for b in eim offset eim-np; do
	lab_net "i-$b" "$b"
	lab_net "t-$b" "$b"
done
lab_net i-cgnat eim --behind carrier
lab_net t-cgnat eim --behind carrier
lab_negotiator --http "$N1:8080" --log-level warn

link_accept t-random random 7100 "${BDAY[@]}"
for ((k = 0; k < ${#EASY[@]}; k++)); do
	link_accept "t-${EASY[k]}" "${EASY[k]}" "7000$k" "${BDAY[@]}"
done
link_ready random "${EASY[@]}"

# One pair at a time: each birthday holds hundreds of mappings.
for ((k = 0; k < ${#EASY[@]}; k++)); do
	b=${EASY[k]}
	n=$FEW
	[ "$b" != eim ] || n=$BIG
	lab_exec i-random "$LINK" "$N1" --id "10$k" --link "7000$k" \
	    --attempts "$n" "${BDAY[@]}" >"$LAB_STATE/pair-random-$b.json" \
	    2>"$LAB_STATE/pair-random-$b.log" || true
	lab_exec "i-$b" "$LINK" "$N1" --id "20$k" --link 7100 \
	    --attempts "$FEW" "${BDAY[@]}" >"$LAB_STATE/pair-$b-random.json" \
	    2>"$LAB_STATE/pair-$b-random.log" || true
	want=90
	[ "$b" != eim ] || want=99
	verdict "random-$b" "$n" "$want"
	verdict "$b-random" "$FEW" 90
done

echo
printf '%-16s %8s %6s %6s %7s %7s %7s\n' pair attempts direct relay p50 p90 p99
for b in "${EASY[@]}"; do
	for p in "random $b" "$b random"; do
		out="$LAB_STATE/pair-${p/ /-}.json"
		ms=$(grep '"path":"direct"' "$out" | ok_ms)
		printf '%-16s %8s %6s %6s %7s %7s %7s\n' "${p/ /->}" \
		    "$(grep -c '"attempt"' "$out" || true)" \
		    "$(grep -c '"ok":true.*"path":"direct"' "$out" || true)" \
		    "$(grep -c '"ok":true.*"path":"relay"' "$out" || true)" \
		    "$(pct 50 <<<"$ms")" "$(pct 90 <<<"$ms")" \
		    "$(pct 99 <<<"$ms")"
	done
done

# The negotiator chose birthday punching for every first attempt.
links=$(lab_exec nego curl -s "http://$N1:8080/api/links" || true)
bday=$(grep -o '"birthday":{[^}]*}' <<<"$links" || true)
echo "negotiator: $bday"
total=$((BIG + 7 * FEW))
chosen=$(sed -n 's/.*"links":\([0-9]*\).*/\1/p' <<<"$bday")
if [ "${chosen:-0}" -ge "$total" ]; then
	pass "the negotiator chose birthday punching $chosen times" \
	    "(for $total attempts)"
else
	fail "the negotiator chose birthday punching ${chosen:-0} times," \
	    "for $total attempts: $links"
fi

link_end
