# A tampering relay in the NAT lab, cut off. The origin (its channel named
# by its key, serving one child) feeds T, a test build of the peer
# (tests/lab/tamper-peer); T relays to A and B, and G sits under A or B.
# Every peer pins the channel's key (--channel KEY). Once the tree stands,
# T is told (SIGUSR1) to flip a byte of every chunk it relays. Then:
#   - T is cut off within 5 s: no one's parent in /api/tree, a
#     non-repeater for tampering, the accusation and the cut counted in
#     /api/stats and /metrics;
#   - a child of T dropped the bad chunks and reported T (the other may be
#     moved by the cut before a bad chunk reaches it); both resumed from a
#     new parent with no chunk missed;
#   - G, below them, never received a bad chunk (its log and its STATUS),
#     and every window of chunks A and G logged is the origin's;
#   - A plays on: 12 s of its /live.ts taken after the repair decode with
#     no error.
set -eu
. "$top_srcdir/tests/lab/lab.sh"
PEER=$top_builddir/treecast-peer
TAMPER=$top_builddir/tests/lab/tamper-peer

lab_init
lab_need jq ffmpeg ffprobe curl
[ -x "$TAMPER" ] || lab_die "$TAMPER not built: make check builds it"
lab_sample

lab_nego
lab_net t eim
lab_net a open
lab_net b eim
lab_net g seq
lab_broadcast --fanout 1
KEY=$(sed -n 's/.*channel key \([0-9a-f]\{64\}\) .*/\1/p' \
    "$LAB_STATE/origin.log" | head -1)
[ -n "$KEY" ] || lab_die "the origin logged no channel key"

api() {
	lab_exec nego curl -sf "http://$N1:8080/api/$1"
}
channel() {
	api tree | jq -c --arg k "$KEY" '.channels[] | select(.name == $k)'
}
# A node's object in the tree: NODE ID [CHANNEL_JSON].
node() {
	jq -c --arg id "$1" '.nodes[] | select(.id == $id)' <<<"${2:-$(channel)}"
}
declare -A id pid
# NAME BIN: a peer behind net NAME, its HTTP player output on.
start() {
	lab_bg "$1" "$LAB_STATE/$1.log" "$2" --negotiator "$N1" \
	    --channel "$KEY" --http 127.0.0.1:8554
	pid[$1]=$!
}
# The node id NAME's peer registered as, from its log.
node_id() {
	id[$1]=$(lab_node_id "$LAB_STATE/$1.log")
}
# Waits up to 30 s for a jq test of the channel to hold.
tree_holds() {
	jqe "$@" <<<"$(channel)"
}
until_tree() {
	lab_wait 30 "/api/tree to pass a test" tree_holds "$@" && return 0
	echo "    /api/tree: $(channel)"
	return 1
}
start t "$TAMPER"
node_id t
expect "T is a verified repeater under the origin" until_tree \
    --arg id "${id[t]}" '.nodes[] | select(.id == $id) |
    .role == "repeater" and .health != null and
    .health.linked_parent == .parent'
start a "$PEER"
start b "$PEER"
node_id a
node_id b
expect "A and B are repeaters under T, linked" until_tree \
    --arg t "${id[t]}" --arg a "${id[a]}" --arg b "${id[b]}" '
    [.nodes[] | select(.id == $a or .id == $b) | select(.role ==
    "repeater" and .parent == $t and .health != null and
    .health.linked_parent == $t)] | length == 2'
start g "$PEER"
node_id g
expect "G is under A or B, linked" until_tree \
    --arg a "${id[a]}" --arg b "${id[b]}" --arg g "${id[g]}" '
    .nodes[] | select(.id == $g) | (.parent == $a or .parent == $b) and
    .health != null and .health.linked_parent == .parent and
    .health.chunks > 0'
c=$(channel)
echo "$c" >"$LAB_STATE/tree-before.json"
jq -r '.nodes[] | "    \(.id) \(.role) parent \(.parent)"' <<<"$c"
gparent=$(node "${id[g]}" "$c" | jq -r .parent)
expect "no chunk was bad before the tampering" jqe '[.nodes[] |
    select(.health != null) | .health.bad_chunks] | all(. == 0)' <<<"$c"

# T tampers from now on.
t0=$(date +%s%N)
kill -USR1 "${pid[t]}"
cut=
for ((i = 0; i < 50; i++)); do
	c=$(channel)
	if jqe --arg t "${id[t]}" 'all(.nodes[]; .parent != $t)' <<<"$c"; then
		cut=$((($(date +%s%N) - t0) / 1000000))
		break
	fi
	sleep 0.1
done
echo "$c" >"$LAB_STATE/tree-after.json"
echo "    T no one's parent after ${cut:-more than 5000} ms"
expect "T is cut off within 5 s of its first bad chunk" [ -n "$cut" ]
expect "T is a non-repeater, for tampering" jqe --arg t "${id[t]}" \
    '.nodes[] | select(.id == $t) | .role == "nonrepeater" and
    (.reason | test("signature"))' <<<"$c"
s=$(api stats)
echo "    /api/stats: $(jq -c '{accusations, accuse_refused, parents_cut}' \
    <<<"$s")"
expect "/api/stats counts the accusation and the cut" jqe \
    '.accusations >= 1 and .parents_cut == 1' <<<"$s"
lab_exec nego curl -sf "http://$N1:8080/metrics" >"$LAB_STATE/metrics.txt"
expect "/metrics counts the cut" grep -qx 'treecast_parents_cut_total 1' \
    "$LAB_STATE/metrics.txt"
expect "/metrics passes promcheck" "$top_builddir/tests/lab/promcheck" \
    "$LAB_STATE/metrics.txt"
expect "the negotiator logged the cut" grep -q \
    "node ${id[t]}: cut off for tampering" "$LAB_STATE/negotiator.log"

# The tree settles with every peer linked to its parent, none to T.
expect "A, B and G settle under new parents, linked" until_tree \
    --arg t "${id[t]}" '
    ([.nodes[] | select(.role != "origin")] | length) == 4 and
    all(.nodes[]; .role == "origin" or (.parent != null and
    .parent != $t and .health != null and .health.linked_parent == .parent))'
c=$(channel)
jq -r '.nodes[] | "    \(.id) \(.role) parent \(.parent)"' <<<"$c"
# The first of T's children to get a bad chunk reports it; the other may
# be moved away by the cut (the negotiator's MOVE) before its own comes.
reporters=
for p in a b; do
	if grep -q "fails the channel's signature from parent ${id[t]}: dropped" \
	    "$LAB_STATE/$p.log"; then
		reporters+="$p "
		expect "$p's STATUS counts the bad chunks it dropped" jqe \
		    --arg id "${id[$p]}" '.nodes[] | select(.id == $id) |
		    .health.bad_chunks >= 1' <<<"$c"
	fi
	expect "$p resumed from a new parent, with no chunk missed" eval \
	    "grep -q 'resuming at chunk' '$LAB_STATE/$p.log' &&
	    ! grep -q 'gap:' '$LAB_STATE/$p.log'"
done
echo "    T's children that dropped its bad chunks and reported it: ${reporters:-none}"
expect "a child of T dropped its bad chunks and reported it" [ -n "$reporters" ]

# A plays on: 12 s of its output, taken after the repair, decode.
lab_exec a curl -s -m 12 -o "$LAB_STATE/play-a.ts" \
    http://127.0.0.1:8554/live.ts || true
expect "A: 12 s of /live.ts after the repair decode with no error" \
    lab_decodes "$LAB_STATE/play-a.ts" 250

# Below T's children, nothing bad ever came.
kill "${pid[g]}" "${pid[a]}"
# Their last words: the "N chunks in, ..." line a peer logs as it ends.
lab_wait 5 "G's and A's last words" eval \
    'grep -q "chunks in, " "$LAB_STATE/g.log" &&
    grep -q "chunks in, " "$LAB_STATE/a.log"' || true
grep "chunks in, " "$LAB_STATE/g.log" | tail -1 | sed 's/^/    g: /'
expect "G received no bad chunk (its log)" eval \
    "grep -Eq 'chunks in, [0-9]+ missed, 0 bad, ' '$LAB_STATE/g.log' &&
    ! grep -q ': dropped; reporting the parent' '$LAB_STATE/g.log'"
expect "G received no bad chunk (its STATUS)" jqe --arg g "${id[g]}" \
    '.nodes[] | select(.id == $g) | .health.bad_chunks == 0' <<<"$c"
expect "G kept its parent ($gparent) or moved, never under T" jqe \
    --arg t "${id[t]}" --arg g "${id[g]}" '.nodes[] | select(.id == $g) |
    .parent != $t' <<<"$c"
expect "A's chunks are the origin's" lab_same_chunks "$LAB_STATE/a.log" a
expect "G's chunks are the origin's" lab_same_chunks "$LAB_STATE/g.log" g
lab_verdict
