# Trust in the NAT lab (issue 15): a channel streams to four peers; then
#   - a second origin claims its label with another key (a real
#     treecast-origin, another --key): it is refused, gets no tree, and no
#     peer links to it;
#   - a hostile registrant (tests/lab/regtool) sends an unauthenticated
#     REGISTER for a peer's node id, then for the origin's: both refused
#     and counted, and nothing comes to it afterwards;
# and through it all the real tree stays as it was (/api/tree), every
# peer keeps its session, and every peer's /live.ts keeps growing. The
# peers named the channel by its label and pinned the origin's key.
set -eu
. "$top_srcdir/tests/lab/lab.sh"
ORIGIN=$top_builddir/treecast-origin
PEER=$top_builddir/treecast-peer
REGTOOL=$top_builddir/tests/lab/regtool
NETS=(open eim seq random)

lab_init
lab_need jq ffmpeg
[ -x "$REGTOOL" ] || lab_die "$REGTOOL not built: make check builds it"
lab_sample 20 1M

lab_nego
lab_nets ${#NETS[@]} "${NETS[@]}"
lab_net evil open
lab_broadcast --channel lab

api() {
	lab_exec nego curl -sf "http://$N1:8080/api/$1"
}
channel() {
	api tree | jq -c '.channels[] | select(.label == "lab")'
}
counter() {
	api stats | jq ".$1"
}
# The tree as "id role parent" lines, sorted: what must not move.
shape() {
	jq -r '.nodes[] | "\(.id) \(.role) \(.parent)"' <<<"$1" | sort
}
sizes() {
	for ((k = 0; k < ${#NETS[@]}; k++)); do
		stat -c %s "$LAB_STATE/peer$k.ts" 2>/dev/null || echo 0
	done
}

# One peer at a time, each registered before the next starts.
ids=()
for ((k = 0; k < ${#NETS[@]}; k++)); do
	lab_bg "p$k" "$LAB_STATE/peer$k.log" "$PEER" --negotiator "$N1" \
	    --channel lab --http 127.0.0.1:8554 --output "$LAB_STATE/peer$k.ts"
	ids+=("$(lab_node_id "$LAB_STATE/peer$k.log")")
done
key=$(sed -n 's/.*channel key \([0-9a-f]\{64\}\).*/\1/p' \
    "$LAB_STATE/origin.log" | head -1)
origin_id=$(lab_node_id "$LAB_STATE/origin.log")

# The tree settles: every peer placed, every peer receiving.
settled() {
	local c n
	c=$(channel) || return 1
	[ "$(jq '.counts.nodes' <<<"$c")" -eq ${#NETS[@]} ] &&
	    [ "$(jq '.counts.candidates' <<<"$c")" -eq 0 ] &&
	    [ "$(jq '.counts.unplaced' <<<"$c")" -eq 0 ] || return 1
	n=0
	for ((k = 0; k < ${#NETS[@]}; k++)); do
		[ -s "$LAB_STATE/peer$k.ts" ] && n=$((n + 1))
	done
	[ "$n" -eq ${#NETS[@]} ]
}
# ... and holds still: a tree just settled may still move a node or two
# (a repeater taking a leaf's slot), which is not what is tested below.
still() {
	local a b
	settled || return 1
	a=$(shape "$(channel)") || return 1
	sleep 2
	b=$(shape "$(channel)") || return 1
	[ "$a" = "$b" ]
}
lab_wait 90 "the tree to settle" settled &&
    lab_wait 6 "the tree to hold still" still || true	# 30 tries of 2 s
expect "the tree of ${#NETS[@]} peers settles and they all receive" settled
before=$(channel)
echo "$before" >"$LAB_STATE/tree-before.json"
shape "$before" | sed 's/^/    /'
expect "/api/tree names the channel by its key $key, label lab" \
    jqe --arg k "$key" '.key == $k and .name == "lab" and .label == "lab"' \
    <<<"$before"
for ((k = 0; k < ${#NETS[@]}; k++)); do
	expect "peer $k (${NETS[k]}) named label lab and pinned key ${key:0:8}..." \
	    grep -q "channel 'lab' is key $key" "$LAB_STATE/peer$k.log"
done
read -ra size0 <<<"$(sizes | tr '\n' ' ')"

# A second origin, another key, the same label.
lab_bg evil "$LAB_STATE/impostor.log" "$ORIGIN" \
    --key "$LAB_STATE/impostor.key" --input "$SAMPLE" --negotiator "$N1" \
    --channel lab --loop
lab_wait 10 "the impostor's refusal" grep -qs \
    "register refused: 403 label held by another key" \
    "$LAB_STATE/impostor.log" || true
expect "the impostor origin is refused: 403 label held by another key" \
    grep -q "register refused: 403 label held by another key" \
    "$LAB_STATE/impostor.log"
impostor_key=$(sed -n 's/.*channel key \([0-9a-f]\{64\}\).*/\1/p' \
    "$LAB_STATE/impostor.log" | head -1)
expect "err_label_taken counts it" [ "$(counter err_label_taken)" -ge 1 ]

# The hostile registrant: a peer's node id, then the origin's.
hijacked() {
	local out
	out=$(lab_exec evil "$REGTOOL" hijack "$N1" "$1" lab 5) || return 1
	echo "    regtool $1: $(tr '\n' ' ' <<<"$out")"
	grep -q '^REFUSED 403 node id in use$' <<<"$out" &&
	    grep -q '^DATAGRAMS 0$' <<<"$out"
}
expect "REGISTER claiming peer ${ids[1]}'s id: refused, no traffic after" \
    hijacked "${ids[1]}"
expect "REGISTER claiming the origin's id $origin_id: refused, no traffic" \
    hijacked "$origin_id"
expect "drop_hijack counts both" [ "$(counter drop_hijack)" -ge 2 ]

# Meanwhile: the same tree, the same sessions, the stream still flowing.
sleep 3
after=$(channel)
echo "$after" >"$LAB_STATE/tree-after.json"
expect "/api/tree is unchanged: the same nodes, roles and parents" \
    [ "$(shape "$before")" = "$(shape "$after")" ]
expect "the impostor's key has no tree and no node" \
    eval '! api tree | grep -q "$impostor_key" &&
    ! api nodes | grep -q "$impostor_key"'
expect "the impostor origin has no child" \
    eval '! grep -q ", [1-9][0-9]* children" "$LAB_STATE/impostor.log"'
for ((k = 0; k < ${#NETS[@]}; k++)); do
	expect "peer $k kept its session" \
	    eval '! grep -q "session lost" "$LAB_STATE/peer$k.log"'
done
read -ra size1 <<<"$(sizes | tr '\n' ' ')"
for ((k = 0; k < ${#NETS[@]}; k++)); do
	expect "peer $k's output grew: ${size0[k]} then ${size1[k]} bytes" \
	    [ "${size1[k]}" -gt "${size0[k]}" ]
	lab_exec "p$k" curl -s -m 3 -o "$LAB_STATE/play$k.ts" \
	    http://127.0.0.1:8554/live.ts || true
	expect "peer $k's /live.ts plays: $(stat -c %s "$LAB_STATE/play$k.ts" \
	    2>/dev/null || echo 0) bytes in 3 s" [ -s "$LAB_STATE/play$k.ts" ]
done
lab_verdict
