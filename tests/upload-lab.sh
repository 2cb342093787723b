# A repeater that cannot upload what its children need, in the NAT lab:
# peer "thin" has its upload limited to 1.2 times the stream (labwire
# --rate) and is the origin's only child (origin --fanout 1), so two
# children under it would need twice the stream. It is verified and gets
# its two children; then their STATUS shows them taking in less than it
# does, and the negotiator must make it a leaf, the children moved. Checks:
#   - thin was a repeater with two children first (the test's premise);
#   - thin ends as a non-repeater with no children in the tree, with the
#     reason, and the negotiator's log says why;
#   - its former children have another parent and keep playing: over 20 s
#     at the end their chunk counts (from their STATUS) grow by 75 % or
#     more of thin's own, which takes in the whole stream.
set -eu
. "$top_srcdir/tests/lab/lab.sh"
PEER=$top_builddir/treecast-peer

lab_init
lab_need jq ffmpeg
lab_sample 20 1M
# The stream's rate: the sample as MPEG-TS, as the origin sends it.
ffmpeg -v error -y -i "$SAMPLE" -c copy -f mpegts "$LAB_STATE/sample.ts"
kbit=$(( $(stat -c %s "$LAB_STATE/sample.ts") * 8 / 20 / 1000 ))
rate=$((kbit * 12 / 10))
echo "the stream: $kbit kbit/s; thin's upload: $rate kbit/s"

lab_nego
lab_net thin eim --rate "$rate"
lab_net kid1 eim
lab_net kid2 offset
lab_broadcast --channel up --fanout 1

channel() {
	lab_exec nego curl -sf "http://$N1:8080/api/tree" |
	    jq -c '.channels[] | select(.name == "up")'
}
node_id() {	# the node id a peer's log gives
	lab_node_id "$LAB_STATE/$1.log"
}
channel_holds() {
	channel | jqe "$@"
}
# wait_for S JQ-TEST: up to S seconds until the channel passes the test.
wait_for() {
	local s=$1
	shift
	lab_wait "$s" "/api/tree to pass a test" channel_holds "$@"
}

lab_bg thin "$LAB_STATE/thin.log" "$PEER" --negotiator "$N1" --channel up \
    --no-http
thin=$(node_id thin)
expect "thin ($thin) is verified, a repeater under the origin" \
    wait_for 30 --arg t "$thin" '.nodes[] | select(.id == $t) |
    .role == "repeater"'
# One kid at a time, each registered before the next starts.
lab_bg kid1 "$LAB_STATE/kid1.log" "$PEER" --negotiator "$N1" --channel up \
    --no-http
kid1=$(node_id kid1)
lab_bg kid2 "$LAB_STATE/kid2.log" "$PEER" --negotiator "$N1" --channel up \
    --no-http
kid2=$(node_id kid2)
expect "thin had both kids as its children" \
    wait_for 30 --arg t "$thin" --arg a "$kid1" --arg b "$kid2" \
    '[.nodes[] | select((.id == $a or .id == $b) and .parent == $t)] |
    length == 2'

expect "thin is a leaf (non-repeater, no children) within 60 s" \
    wait_for 60 --arg t "$thin" '.nodes[] | select(.id == $t) |
    .role == "nonrepeater" and (.children | length) == 0'
ch=$(channel)
echo "thin: $(jq -c --arg t "$thin" '.nodes[] | select(.id == $t) |
    {role, reason, parent, kbps_out: .health.kbps_out}' <<<"$ch")"
expect "the reason: its children lag" \
    jqe --arg t "$thin" '.nodes[] | select(.id == $t) |
    .reason | test("lag")' <<<"$ch"
expect "the negotiator's log says it" \
    grep -q "node $thin is a leaf now: its children took in" \
    "$LAB_STATE/negotiator.log"
# The kids: parents other than thin, linked, and chunks coming.
expect "both kids have another parent, and are linked to it" \
    wait_for 20 --arg t "$thin" --arg a "$kid1" --arg b "$kid2" \
    '[.nodes[] | select((.id == $a or .id == $b) and .parent != null and
    .parent != $t and .health.linked_parent == .parent)] | length == 2'
chunks() {	# kid1's, kid2's and thin's chunk counts, from their STATUS
	local ch
	ch=$(channel)
	for id in "$kid1" "$kid2" "$thin"; do
		jq -r --arg i "$id" '.nodes[] | select(.id == $i) |
		    .health.chunks // 0' <<<"$ch"
	done | paste -sd ' '
}
read -r a0 b0 t0 < <(chunks)
sleep 20
read -r a1 b1 t1 < <(chunks)
# Playing: taking in 75 % or more of what thin (at the stream's rate) does
# (STATUS comes every 2 s, so over 20 s either count may be 2 s off).
expect "kid1 keeps playing ($a0 then $a1 chunks; thin $t0 then $t1)" \
    test $(( (a1 - a0) * 10 )) -ge $(( (t1 - t0) * 75 / 10 )) -a "$a1" -gt "$a0"
expect "kid2 keeps playing ($b0 then $b1 chunks)" \
    test $(( (b1 - b0) * 10 )) -ge $(( (t1 - t0) * 75 / 10 )) -a "$b1" -gt "$b0"
lab_verdict
