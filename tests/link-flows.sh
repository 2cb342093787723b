# Links through a sequential NAT while another host behind it opens 10 new
# UDP flows a second: each flow takes the NAT's next port between the
# negotiator's look at a link's mapping and the punch, so the prediction
# must reach past it. 20 links each way with an eim host; 19 must connect.
set -eu
. "$top_srcdir/tests/lab/lab.sh"
. "$top_srcdir/tests/lab/link.sh"
ATTEMPTS=20
NEED=19

lab_init
lab_nego
lab_net a seq
lab_host a noise
lab_net b eim
lab_negotiator --no-http --log-level warn
lab_bg nego "$LAB_STATE/reflect.log" "$LAB_BIN/labtool" reflect 4000
lab_wait 10 "the reflector" lab_listening nego 4000 ||
    lab_die "the reflector did not start: $(cat "$LAB_STATE/reflect.log")"
lab_bg noise "$LAB_STATE/flows.log" "$LAB_BIN/labtool" flows 10 "$N1:4000"
sleep 2
# The noise is real: the NAT holds a flow for each of noise's datagrams.
n=$(ip netns exec "${LAB_ROUTER[a]}" conntrack -L -p udp \
    -s "$(lab_ip noise)" 2>/dev/null | wc -l)
if [ "$n" -ge 15 ]; then
	pass "noise opened $n flows through the seq NAT in 2 s"
else
	fail "noise opened $n flows in 2 s, not 20:" \
	    "$(cat "$LAB_STATE/flows.log")"
fi

link_accept a a a0
link_accept b b b0
link_ready a b

# links HOST NODE NAME: ATTEMPTS links from HOST to NODE, NEED of them ok.
links() {
	local out="$LAB_STATE/links-$1" oks median
	lab_exec "$1" "$LINK" "$N1" --id "${1}1" --link "$2" \
	    --attempts "$ATTEMPTS" >"$out.json" 2>"$out.log" || true
	oks=$(grep -c '"ok":true' "$out.json" || true)
	median=$(grep '"ok":true' "$out.json" |
	    sed -n 's/.*"connect_ms":\([0-9]*\).*/\1/p' | sort -n |
	    awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "-" }')
	if [ "$oks" -ge "$NEED" ]; then
		pass "$3 under 10 new flows/s: $oks/$ATTEMPTS ok," \
		    "median $median ms"
	else
		fail "$3 under 10 new flows/s: $oks/$ATTEMPTS ok (need $NEED):"
		grep -v '"ok":true' "$out.json" | sed 's/^/    /'
		grep -h "failed" "$out.log" | sed 's/^/    /' || true
	fi
}
links a b0 "seq->eim"
links b a0 "eim->seq"

link_end
