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
LINK=$top_builddir/tests/lab/linktool
NEGOTIATOR=$top_builddir/treecast-negotiator
command -v jq >/dev/null ||
    lab_die "jq not found: run scripts/setup.sh (Debian: jq)"

# Waits up to 60 s for linktool to say it is ready.
ready() {
	local i
	for ((i = 0; i < 600; i++)); do
		grep -q "linktool: ready" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# count CLASS: the negotiator's count of links in CLASS.
count() {
	lab_exec nego curl -s -m 5 "http://$N1:8080/api/links" |
	    jq -r ".classes.$1" 2>/dev/null || echo 0
}

# counted WHAT CLASS BEFORE: within 30 s (a class waits for both ends'
# reports, or 10 s for the one that never comes), CLASS counts more
# than BEFORE.
counted() {
	local what=$1 class=$2 before=$3 n i
	for ((i = 0; i < 60; i++)); do
		n=$(count "$class")
		[ "${n:-0}" -le "$before" ] || break
		sleep 0.5
	done
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
lab_public nego 2
N1=$(lab_ip nego 1)
N2=$(lab_ip nego 2)
lab_net i-seq seq
lab_net t-seq seq
lab_net t-kill seq
lab_net i-slow seq --delay 300 --loss 20
lab_net i-rnd random
lab_net t-rnd random
drop_strangers t-seq
drop_strangers t-kill
lab_bg nego "$LAB_STATE/negotiator.log" "$NEGOTIATOR" --listen "$N1:3478" \
    --alt-address "$N2" --http "$N1:8080" --log-level info
sleep 0.5

lab_bg t-seq "$LAB_STATE/accept-seq.log" "$LINK" "$N1" --id 7001 --accept
lab_bg t-rnd "$LAB_STATE/accept-rnd.log" "$LINK" "$N1" --id 7003 --accept
for t in seq rnd; do
	ready "$LAB_STATE/accept-$t.log" ||
	    fail "$t target is not ready: $(cat "$LAB_STATE/accept-$t.log")"
done

# Filtering.
before=$(count filtering)
lab_exec i-seq "$LINK" "$N1" --id 101 --link 7001 --attempts 1 \
    >"$LAB_STATE/filtering.json" 2>"$LAB_STATE/filtering.log" || true
expect "filtering: the link failed at the punch" \
    grep -q '"ok":false.*"step":"punch"' "$LAB_STATE/filtering.json"
counted "filtering" filtering "$before"

# Peer gone: the target dies 2 s into the punch.
lab_bg t-kill "$LAB_STATE/accept-kill.log" "$LINK" "$N1" --id 7002 --accept
victim=$!
ready "$LAB_STATE/accept-kill.log" ||
    fail "the target to kill is not ready: $(cat "$LAB_STATE/accept-kill.log")"
before=$(count peer_gone)
lab_exec i-seq "$LINK" "$N1" --id 102 --link 7002 --attempts 1 \
    >"$LAB_STATE/gone.json" 2>"$LAB_STATE/gone.log" &
linker=$!
for ((i = 0; i < 100; i++)); do
	grep -q "7002\|punch" "$LAB_STATE/accept-kill.log" 2>/dev/null && break
	sleep 0.1
done
sleep 2
kill "$victim" 2>/dev/null || true
wait "$linker" || true
expect "peer gone: the link failed" grep -q '"ok":false' "$LAB_STATE/gone.json"
counted "peer gone" peer_gone "$before"

# Lossy and slow.
before=$(count lossy)
lab_exec i-slow "$LINK" "$N1" --id 103 --link 7001 --attempts 1 \
    >"$LAB_STATE/lossy.json" 2>"$LAB_STATE/lossy.log" || true
expect "lossy: the link failed" grep -q '"ok":false' "$LAB_STATE/lossy.json"
counted "lossy path" lossy "$before"

# Random x random, through the relay.
before=$(count random)
lab_exec i-rnd "$LINK" "$N1" --id 104 --link 7003 --attempts 1 \
    >"$LAB_STATE/random.json" 2>"$LAB_STATE/random.log" || true
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
