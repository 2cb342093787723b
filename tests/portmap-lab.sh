# Port mapping in the NAT lab (issue 16): peers behind random NATs whose
# routers run a real miniupnpd. A peer whose router maps (NAT-PMP and PCP
# on one, UPnP-IGD on another) becomes a verified repeater thanks to the
# mapping alone, which a random allocator never is otherwise; the same
# router with --no-portmap leaves its peer a non-repeater; a child behind
# a random NAT plays from a mapped parent; and on the way out a peer
# deletes its mappings (miniupnpd's chain is empty again).
set -eu
. "$top_srcdir/tests/lab/lab.sh"
PEER=$top_builddir/treecast-peer

lab_init
lab_need jq ffmpeg curl
lab_sample 20 1M
lab_nego
lab_net pmp random --portmap natpmp	# mapped by PCP (or NAT-PMP)
lab_net upnp random --portmap upnp	# mapped by UPnP-IGD
lab_net nopm random --portmap natpmp	# could map, is told not to
lab_net kid random			# a child that needs an open parent
lab_broadcast --channel lab --fanout 1

tree() {
	lab_exec nego curl -sf "http://$N1:8080/api/tree" |
	    jq -c '.channels[] | select(.name == "lab")'
}
role() {	# role ID: the node's role in the tree
	tree | jq -r --arg id "$1" '.nodes[] | select(.id == $id) | .role'
}
is_role() {
	[ "$(role "$1")" = "$2" ]
}
not_grep() {
	! grep -q "$@"
}
dnat_rules() {	# NET: miniupnpd's DNAT rules in NET's router
	ip netns exec "${LAB_ROUTER[$1]}" nft list chain inet filter \
	    prerouting_miniupnpd | grep -c dnat || true
}

declare -A ID PID
for p in pmp upnp nopm kid; do
	args=()
	[ "$p" != nopm ] || args=(--no-portmap)
	lab_bg "$p" "$LAB_STATE/$p.log" "$PEER" --negotiator "$N1" \
	    --channel lab "${args[@]}"
	PID[$p]=$!
	ID[$p]=$(lab_node_id "$LAB_STATE/$p.log")
	case $p in
	pmp|upnp) lab_wait 20 "$p to be a repeater" is_role "${ID[$p]}" \
	    repeater || true ;;
	esac
done

for p in pmp upnp; do
	expect "$p's peer got a mapping at start-up" \
	    grep -qE "portmap: (pcp|natpmp|upnp) at .* mapped to" "$LAB_STATE/$p.log"
	grep -E "portmap: " "$LAB_STATE/$p.log" | sed 's/^.*portmap/    portmap/'
	expect "$p's peer (random NAT, mapped) is a repeater" \
	    is_role "${ID[$p]}" repeater
	expect "$p's peer was verified by a punch into it" grep -Eq \
	    "node ${ID[$p]} (verified: a (direct|local) link|: verified by its children)" \
	    "$LAB_STATE/negotiator.log"
done
expect "upnp's peer mapped with UPnP-IGD" \
    grep -q "portmap: upnp at .* mapped to" "$LAB_STATE/upnp.log"
expect "nopm's peer (--no-portmap) asked for nothing" \
    not_grep "portmap: " "$LAB_STATE/nopm.log"
lab_wait 20 "nopm to be placed" is_role "${ID[nopm]}" nonrepeater || true
expect "nopm's peer (random NAT, --no-portmap) is a non-repeater, for its allocation" \
    jqe --arg id "${ID[nopm]}" '.nodes[] | select(.id == $id) |
    .role == "nonrepeater" and .reason == "random port allocation"' \
    <<<"$(tree)"

# The random child's parent can only be open to strangers: here, mapped.
mapped_parent() {
	tree | jqe --arg id "${ID[kid]}" --arg a "${ID[pmp]}" \
	    --arg b "${ID[upnp]}" '.nodes[] | select(.id == $id) |
	    .parent == $a or .parent == $b' >/dev/null
}
expect "the random child's parent is a mapped peer" \
    lab_wait 20 "the child under a mapped parent" mapped_parent
lab_exec kid timeout 12 curl -s http://127.0.0.1:8554/live.ts \
    -o "$LAB_STATE/kid.ts" || true
expect "the child plays: 12 s of its /live.ts decode" \
    lab_decodes "$LAB_STATE/kid.ts" 100
tree | jq -r '.nodes[] | "    \(.id) \(.role) parent \(.parent) nat \(.nat)"'

# On the way out: every mapping deleted (the node's and its links').
for p in pmp upnp; do
	n=$(dnat_rules "$p")
	echo "    $p's router: $n DNAT rules while its peer runs"
	expect "$p's router has the peer's mappings" [ "$n" -ge 1 ]
	lab_stop "${PID[$p]}"
	expect "$p's peer says its mapping was deleted" \
	    grep -Eq "portmap: [a-z]+ mapping of port [0-9]+ deleted$" \
	    "$LAB_STATE/$p.log"
	expect "$p's router has no mapping left" [ "$(dnat_rules "$p")" -eq 0 ]
	if [ "$(dnat_rules "$p")" -ne 0 ]; then
		ip netns exec "${LAB_ROUTER[$p]}" nft list chain inet filter \
		    prerouting_miniupnpd
		grep -E "portmap|link .* up" "$LAB_STATE/$p.log"
		grep -v "IGD pinhole" "$LAB_STATE/$p-miniupnpd.log" | tail -20
	fi
done
lab_verdict
