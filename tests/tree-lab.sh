# The tree manager in the NAT lab: ten peers over every lab NAT join one
# channel. The negotiator's verifier punches into each new candidate as a
# child would; the tree it reports (/api/tree) must:
#   - never make a node behind a random allocator a repeater (sampled every
#     second while the tree forms);
#   - have every repeater verified by a punch that worked (the verifier's,
#     or a real child's), as the negotiator's log says;
#   - equal the links the peers report (their STATUS: the parent and the
#     children each is linked to), once it has settled;
#   - after a repeater with children is killed, settle again with its
#     children elsewhere, and the peers' links following;
#   - count that in /metrics (which must pass a strict format check).
set -eu
. "$top_srcdir/tests/lab/lab.sh"
PEER=$top_builddir/treecast-peer
NETS=(open eim offset eim-np seq random eim seq random open)

lab_init
lab_need jq ffmpeg
lab_sample 20 1M

lab_nego
lab_nets ${#NETS[@]} "${NETS[@]}"
lab_broadcast --channel lab

tree() {
	lab_exec nego curl -sf "http://$N1:8080/api/tree"
}
metrics() {
	lab_exec nego curl -sf "http://$N1:8080/metrics"
}
# One sample's value (a whole number) from a /metrics text.
metric() {
	awk -v k="$1" '$1 == k { printf "%d\n", $2 }' "$2"
}
# The lab channel's object.
channel() {
	tree | jq -c '.channels[] | select(.name == "lab")'
}

# One peer at a time, each registered (its node id in its log) before the
# next starts.
pids=()
ids=()
for ((k = 0; k < ${#NETS[@]}; k++)); do
	lab_bg "p$k" "$LAB_STATE/peer$k.log" "$PEER" --negotiator "$N1" \
	    --channel lab --no-http
	pids+=("$!")
	ids+=("$(lab_node_id "$LAB_STATE/peer$k.log")")
done

# The tree and the links agree: every node's parent is the one it says it
# is linked to, and its children are the ones linked to it.
agree() {
	jqe '[.nodes[] | select(.role != "origin")] | length > 0 and
	    all(.health != null and .health.age_s < 5 and
	    .parent == .health.linked_parent) ' <<<"$1" >/dev/null &&
	jqe 'all(.nodes[]; .health != null and
	    ((.children | sort) == (.health.linked_children | sort)))' \
	    <<<"$1" >/dev/null
}
# Random-allocation peers seen as repeaters, over the samples.
random_repeaters=0
settle() {
	local want=$1 c
	for ((i = 0; i < 60; i++)); do
		[ "$i" -gt 0 ] && [ $((i % 10)) -eq 0 ] &&
		    echo "    ... not settled after $i s"
		c=$(channel)
		for ((k = 0; k < ${#NETS[@]}; k++)); do
			[ "${NETS[k]}" = random ] || continue
			if jqe --arg id "${ids[k]}" '.nodes[] |
			    select(.id == $id) | .role == "repeater"' \
			    <<<"$c" >/dev/null; then
				random_repeaters=$((random_repeaters + 1))
			fi
		done
		if [ "$(jq '.counts.nodes' <<<"$c")" -eq "$want" ] &&
		    [ "$(jq '.counts.candidates' <<<"$c")" -eq 0 ] &&
		    [ "$(jq '.counts.unplaced' <<<"$c")" -eq 0 ] && agree "$c"; then
			echo "$c" >"$LAB_STATE/tree.json"
			echo "    settled within $((i + 1)) s"
			return 0
		fi
		sleep 1
	done
	echo "$c" >"$LAB_STATE/tree.json"
	return 1
}
show() {
	jq -r '.nodes[] | "    \(.id) \(.role) depth \(.depth) parent \(.parent)
	    linked \(.health.linked_parent // "-") children \(.children | length)
	    nat \(.nat)\(if .reason then " (" + .reason + ")" else "" end)"' \
	    "$LAB_STATE/tree.json" | paste - - - | tr -s ' \t' ' '
}

expect "the tree of ${#NETS[@]} peers settles, and equals the peers' links" \
    settle "${#NETS[@]}"
show
expect "no random-allocation peer was ever a repeater" \
    [ "$random_repeaters" -eq 0 ]
for ((k = 0; k < ${#NETS[@]}; k++)); do
	[ "${NETS[k]}" = random ] || continue
	expect "peer $k (random) is a non-repeater, for its allocation" \
	    jqe --arg id "${ids[k]}" '.nodes[] | select(.id == $id) |
	    .role == "nonrepeater" and .reason == "random port allocation"' \
	    "$LAB_STATE/tree.json"
done
# Every repeater passed a punch: the verifier's, or a real child's.
verified() {
	local r n=0
	for r in $(jq -r '.nodes[] | select(.role == "repeater") | .id' \
	    "$LAB_STATE/tree.json"); do
		n=$((n + 1))
		grep -Eq "node $r (verified: a (direct|local) link|: verified by its children)" \
		    "$LAB_STATE/negotiator.log" || {
			echo "    repeater $r: no punch verified it"
			return 1
		}
	done
	echo "    $n repeaters, each verified by a punched link ($(grep -c \
	    "verified: a" "$LAB_STATE/negotiator.log") by the verifier," \
	    "$(grep -c "verified by its children" "$LAB_STATE/negotiator.log")" \
	    "by a child; $(grep -c "is not a repeater:" \
	    "$LAB_STATE/negotiator.log") verifications failed)"
	[ "$n" -ge 3 ]
}
expect "every repeater was verified by a punch" verified
expect "non-repeaters have no children" jqe 'all(.nodes[];
    .role == "repeater" or .role == "origin" or (.children | length) == 0)' \
    "$LAB_STATE/tree.json"
expect "repeaters serve at most two children" jqe 'all(.nodes[];
    .role == "origin" or (.children | length) <= 2)' "$LAB_STATE/tree.json"

# A repeater with children goes: the tree repairs, the peers follow.
victim=
for ((k = 0; k < ${#NETS[@]}; k++)); do
	if jqe --arg id "${ids[k]}" '.nodes[] | select(.id == $id) |
	    .role == "repeater" and (.children | length) > 0' \
	    "$LAB_STATE/tree.json" >/dev/null; then
		victim=$k
		break
	fi
done
expect "a repeater has children" [ -n "$victim" ]
if [ -n "$victim" ]; then
	orphans=$(jq -r --arg id "${ids[victim]}" '.nodes[] |
	    select(.id == $id) | .children[]' "$LAB_STATE/tree.json")
	metrics >"$LAB_STATE/metrics-before.txt"
	kill "${pids[victim]}"
	expect "after peer $victim (${NETS[victim]}) is killed, the tree of $((
	    ${#NETS[@]} - 1 )) settles again and equals the links" \
	    settle "$(( ${#NETS[@]} - 1 ))"
	show
	for o in $orphans; do
		expect "its child $o has a new parent" jqe --arg id "$o" \
		    --arg gone "${ids[victim]}" '.nodes[] | select(.id == $id) |
		    .parent != null and .parent != $gone' "$LAB_STATE/tree.json"
	done
	expect "no random-allocation peer was ever a repeater" \
	    [ "$random_repeaters" -eq 0 ]
	# /metrics: valid, and its counters moved with the departure.
	metrics >"$LAB_STATE/metrics-after.txt"
	expect "/metrics passes promcheck" "$top_builddir/tests/lab/promcheck" \
	    "$LAB_STATE/metrics-after.txt"
	moved() {
		local a b
		a=$(metric "$1" "$LAB_STATE/metrics-before.txt")
		b=$(metric "$1" "$LAB_STATE/metrics-after.txt")
		echo "    $1: $a, then $b"
		[ "$b" "$2" "$a" ]
	}
	expect "/metrics: departures went up" \
	    moved 'treecast_tree_departures_total' -gt
	expect "/metrics: repairs went up" moved 'treecast_tree_repairs_total' -gt
	expect "/metrics: the tree's nodes went down" \
	    moved 'treecast_tree_nodes{channel="lab"}' -lt
	expect "/metrics: $(metric 'treecast_tree_joins_total' \
	    "$LAB_STATE/metrics-before.txt") joins counted, ${#NETS[@]} or more" \
	    [ "$(metric 'treecast_tree_joins_total' \
	    "$LAB_STATE/metrics-before.txt")" -ge ${#NETS[@]} ]
fi
lab_verdict
