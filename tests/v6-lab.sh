# IPv6 in the NAT lab (issue 16): a dual-stack host whose IPv4 NAT
# allocates ports at random (lab_net v6:random: IPv6 routed with no NAT,
# behind a stateful firewall) registers its IPv6 address (--negotiator6),
# which makes it a repeater candidate where IPv4 alone would make it a
# non-repeater; the verifier punches into it over IPv6 and it becomes a
# verified repeater. With the origin serving one child (--fanout 1), a
# second such peer joins under it, links to it over IPv6, and plays: 20 s
# of /live.ts that decode, every window of chunks the origin's.
set -eu
. "$top_srcdir/tests/lab/lab.sh"
PEER=$top_builddir/treecast-peer

lab_init
lab_need jq ffmpeg ffprobe
lab_sample

lab_nego
lab_public6 nego
N6=$(lab_ip6 nego)
lab_net p0 v6:random
lab_net p1 v6:random
# --listen6 names the address: the verifier's links try IPv6 from it.
lab_negotiator --http "$N1:8080" --log-level info --listen6 "[$N6]:3478"
lab_wait 10 "the status page on $N1:8080" lab_listening nego 8080 tcp ||
    lab_die "no status page"
lab_origin --channel lab --fanout 1

peer() {
	lab_bg "p$1" "$LAB_STATE/peer$1.log" "$PEER" --negotiator "$N1" \
	    --negotiator6 "[$N6]:3478" --channel lab --http 127.0.0.1:8554 \
	    --output "$LAB_STATE/peer$1.ts"
}
# node ID's object in the lab channel's tree.
node() {
	lab_exec nego curl -sf "http://$N1:8080/api/tree" |
	    jq -c --arg id "$1" '.channels[] | select(.name == "lab") |
	    .nodes[] | select(.id == $id)'
}
is_repeater() {
	jqe '.role == "repeater"' <<<"$(node "$1")"
}
child_of() {
	jqe --arg p "$2" '.parent == $p' <<<"$(node "$1")"
}

peer 0
id0=$(lab_node_id "$LAB_STATE/peer0.log")
expect "peer 0 registered its IPv6 address $(lab_ip6 p0)" jqe \
    --arg id "$id0" --arg a "$(lab_ip6 p0)" \
    '.nodes[] | select(.id == $id) | .ipv6 == $a' \
    <<<"$(lab_exec nego curl -sf "http://$N1:8080/api/nodes")"
lab_wait 30 "peer 0 to be a repeater" is_repeater "$id0" || true
expect "peer 0 (random IPv4 NAT, IPv6) is a repeater" is_repeater "$id0"
expect "the verifier verified it by a direct link" \
    grep -q "node $id0 verified: a direct link" "$LAB_STATE/negotiator.log"
expect "... over IPv6" \
    grep -q "to node $id0 up (direct, IPv6)" "$LAB_STATE/negotiator.log"

peer 1
id1=$(lab_node_id "$LAB_STATE/peer1.log")
lab_wait 30 "peer 1 to join under peer 0" child_of "$id1" "$id0" || true
expect "peer 1 is peer 0's child (the origin serves one)" \
    child_of "$id1" "$id0"
lab_wait 20 "peer 1 to receive" test -s "$LAB_STATE/peer1.ts" || true
expect "peer 1 linked to peer 0 over IPv6" \
    grep -q "to node $id0 up (direct, IPv6)" "$LAB_STATE/peer1.log"
lab_exec p1 curl -s -m 20 -o "$LAB_STATE/play1.ts" \
    http://127.0.0.1:8554/live.ts || true
expect "peer 1: 20 s of /live.ts that decode" \
    lab_decodes "$LAB_STATE/play1.ts" 400
expect "peer 1: its chunks are the origin's" \
    lab_same_chunks "$LAB_STATE/peer1.log" "peer 1"
expect "peer 0 relays to it: its chunks are the origin's too" \
    lab_same_chunks "$LAB_STATE/peer0.log" "peer 0"

if [ "$LAB_FAILURES" -ne 0 ]; then
	echo "--- negotiator log (tail)"
	tail -30 "$LAB_STATE/negotiator.log"
	echo "--- peer 1 log (tail)"
	tail -20 "$LAB_STATE/peer1.log"
fi
lab_verdict
