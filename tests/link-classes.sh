# Failure classes (README, "Failure classes"): links made to fail, each
# for one cause, and the negotiator's /api/links must count each under its
# class. In turn:
#   filtering   two seq homes (address-and-port-dependent), the target's
#               router dropping every datagram from the internet but the
#               negotiator's: checks sent, none let through;
#   peer gone   the same pair, the target killed (by its pid) mid-punch;
#   lossy       an initiator behind a WAN of 300 ms each way and 20 %
#               loss (labwire), to a seq home whose router drops the
#               checks as above: the negotiator's path measurements say
#               the path is lossy and slow;
#   random      random x random, relayed: prediction impossible.
set -eu
. "$top_srcdir/tests/lab/lab.sh"
. "$top_srcdir/tests/lab/link.sh"
lab_need jq

# count CLASS: the negotiator's count of links in CLASS.
count() {
	lab_exec nego curl -s -m 5 "http://$N1:8080/api/links" |
	    jq -r ".classes.$1" 2>/dev/null || echo 0
}

# counts_more CLASS BEFORE: CLASS counts more than BEFORE, now $n.
counts_more() {
	n=$(count "$1")
	[ "${n:-0}" -gt "$2" ]
}
# attempt NAME HOST ID TARGET: one link from HOST (as ID) to TARGET,
# $LAB_STATE/NAME.json and .log.
attempt() {
	lab_exec "$2" "$LINK" "$N1" --id "$3" --link "$4" --attempts 1 \
	    >"$LAB_STATE/$1.json" 2>"$LAB_STATE/$1.log" || true
}
# counted WHAT CLASS BEFORE: within 30 s (a class waits for both ends'
# reports, or 10 s for the one that never comes), CLASS counts more
# than BEFORE.
counted() {
	local what=$1 class=$2 before=$3
	n=0
	lab_wait 30 "$class to count more than $before" \
	    counts_more "$class" "$before" || true
	if [ "${n:-0}" -gt "$before" ]; then
		pass "$what: counted as $class ($before -> $n)"
	else
		fail "$what: $class still $n;" \
		    "$(lab_exec nego curl -s -m 5 "http://$N1:8080/api/links" |
		    jq -c '.classes, [.pairs[] | {a, b, classes}]')"
	fi
}

# drop_strangers NET: NET's router lets in, from the internet, only what
# comes from the negotiator.
drop_strangers() {
	ip netns exec "${LAB_ROUTER[$1]}" nft -f - <<-EOF
	table inet classes {
	 chain inbound { type filter hook forward priority -10;
	  iifname "wan" meta l4proto udp ip saddr != { $N1, $N2 } drop
	 }
	}
	EOF
}

lab_init
lab_nego
N2=$(lab_ip nego 2)
lab_net i-seq seq
lab_net t-seq seq
lab_net t-kill seq
lab_net i-slow seq --delay 300 --loss 20
lab_net i-rnd random
lab_net t-rnd random
drop_strangers t-seq
drop_strangers t-kill
lab_negotiator --http "$N1:8080" --log-level info

link_accept t-seq seq 7001
link_accept t-rnd rnd 7003
link_ready --secs 60 seq rnd

# Filtering.
before=$(count filtering)
attempt filtering i-seq 101 7001
expect "filtering: the link failed at the punch" \
    grep -q '"ok":false.*"step":"punch"' "$LAB_STATE/filtering.json"
counted "filtering" filtering "$before"

# Peer gone: the target dies 2 s into the punch.
link_accept t-kill kill 7002
victim=$!
link_ready --secs 60 kill
before=$(count peer_gone)
attempt gone i-seq 102 7002 &
linker=$!
lab_wait 10 "the target to be asked for the link" \
    grep -qs "7002\|punch" "$LAB_STATE/accept-kill.log" || true
sleep 2
kill "$victim" 2>/dev/null || true
wait "$linker" || true
expect "peer gone: the link failed" grep -q '"ok":false' "$LAB_STATE/gone.json"
counted "peer gone" peer_gone "$before"

# Lossy and slow.
before=$(count lossy)
attempt lossy i-slow 103 7001
expect "lossy: the link failed" grep -q '"ok":false' "$LAB_STATE/lossy.json"
counted "lossy path" lossy "$before"

# Random x random, through the relay.
before=$(count random)
attempt random i-rnd 104 7003
expect "random x random: relayed" \
    grep -q '"ok":true.*"path":"relay"' "$LAB_STATE/random.json"
counted "random x random" random "$before"

lab_exec nego curl -s -m 5 "http://$N1:8080/api/links" >"$LAB_STATE/links.json"
echo "classes: $(jq -c .classes "$LAB_STATE/links.json")"
lab_exec nego curl -s -m 5 "http://$N1:8080/metrics" |
    grep '^treecast_link_class_total' | sed 's/^/metrics: /'
if [ "$LAB_FAILURES" -ne 0 ]; then
	for f in filtering gone lossy random; do
		echo "--- $f"
		cat "$LAB_STATE/$f.json" "$LAB_STATE/$f.log" | tail -8
	done
	echo "--- negotiator log (tail)"
	tail -30 "$LAB_STATE/negotiator.log"
fi
lab_verdict
