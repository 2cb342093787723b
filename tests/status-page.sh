# The negotiator's status page, in a browser, against a tree in the NAT
# lab: the negotiator and the origin on the public segment, nine peers
# behind every kind of lab NAT (two behind random allocators, which stay
# leaves). Headless Chromium loads http://NEGOTIATOR/ and runs its script;
# in the DOM it leaves, every node that /api/tree lists must be drawn with
# the same role and parent (or be listed by a collapsed "+N"), the origin
# too, and nothing else; the figures must be /api/tree's. Before any node
# registers the page must say there are no channels, and with no
# negotiator behind it that it is unreachable. Screenshots at a desktop's
# and a phone's size are kept beside the log: status-page.png and
# status-page-phone.png (and the DOM, status-page.dom.html). /metrics must
# pass promcheck (tests/lab/promcheck.c), and promtool where installed.
set -eu
. "$top_srcdir/tests/lab/lab.sh"
PEER=$top_builddir/treecast-peer
NETS=(eim seq offset eim-np open random seq eim random)
ART=$top_builddir/tests		# where the screenshots are kept

lab_init
lab_need ffmpeg jq
lab_chromium
PROMCHECK=$top_builddir/tests/lab/promcheck
[ -x "$PROMCHECK" ] || lab_die "$PROMCHECK not built: make check builds it"
mkdir -p "$ART"
lab_sample

lab_nego
URL=http://$N1:8080
for ((k = 0; k < ${#NETS[@]}; k++)); do
	lab_net "p$k" "${NETS[k]}"
done
lab_negotiator --http "$N1:8080" --log-level info

# fetch PATH: the body of URL/PATH, from the negotiator's own namespace
# (the lab's public segment is not reachable from the caller's).
fetch() {
	lab_exec nego curl -sf -m 5 "$URL$1"
}

# browser OUT ARGS...: headless Chromium in the negotiator's namespace,
# with 6 s of the page's own time: three rounds of its polling.
browser() {
	local out=$1 rc=0
	shift
	rm -rf "$LAB_STATE/chromium"
	lab_exec nego timeout 90 "$CHROMIUM" --headless --no-sandbox \
	    --disable-gpu --hide-scrollbars --no-first-run \
	    --user-data-dir="$LAB_STATE/chromium" --virtual-time-budget=6000 \
	    "$@" >"$out" 2>"$LAB_STATE/chromium.log" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "    chromium failed (exit $rc):"
		tail -5 "$LAB_STATE/chromium.log" | sed 's/^/    /'
	fi
}

lab_wait 5 "/api/tree" eval 'fetch /api/tree >/dev/null 2>&1' || true
expect "the negotiator serves /api/tree" eval 'fetch /api/tree >/dev/null'

# What the page has: drawn nodes as "id role parent", and the nodes that
# collapsed "+N" summaries hide as "id role".
attr_awk='function attr(s, a) {
	if (!match(s, a "=\"[^\"]*\"")) return ""
	return substr(s, RSTART + length(a) + 2, RLENGTH - length(a) - 3)
}'
dom_drawn() {
	grep -o '<g [^>]*data-node="[^"]*"[^>]*>' "$1" | awk "$attr_awk"'
	    { print attr($0, "data-node"), attr($0, "data-role"),
	      attr($0, "data-parent") }' | sort
}
dom_hidden() {
	grep -o '<[a-z]* [^>]*data-collapsed="[^"]*"[^>]*>' "$1" |
	    awk "$attr_awk"'{ n = split(attr($0, "data-nodes"), id, " ")
	    split(attr($0, "data-roles"), role, " ")
	    for (i = 1; i <= n; i++) print id[i], role[i] }' | sort
}
# What /api/tree says of the channel: "id role parent".
api_nodes() {
	jq -r '.channels[] | select(.name == "lab") | .nodes[] |
	    "\(.id) \(.role) \(.parent // "")"' "$1" | sort
}

# No node yet: no channel, and the page says so.
DOM=$LAB_STATE/empty.dom.html
browser "$DOM" --dump-dom "$URL/"
expect "GET / serves the page" grep -q 'data-state="ok"' "$DOM"
expect "with no node registered, the page says there are no channels" \
    grep -q 'data-empty="no-channels"' "$DOM"
lab_exec nego curl -s -m 5 -D "$LAB_STATE/page.headers" \
    -o "$LAB_STATE/page.html" "$URL/" || true
expect "GET / is negotiator/status.html, as built" \
    cmp -s "$LAB_STATE/page.html" "$top_srcdir/negotiator/status.html"
expect "GET / says text/html" \
    grep -qi '^content-type: *text/html' "$LAB_STATE/page.headers"

lab_origin --channel lab
# One peer at a time, each registered before the next starts.
for ((k = 0; k < ${#NETS[@]}; k++)); do
	lab_bg "p$k" "$LAB_STATE/peer$k.log" "$PEER" --negotiator "$N1" \
	    --channel lab --no-http
	lab_node_id "$LAB_STATE/peer$k.log" >/dev/null
done

# Every peer in the tree (placed or waiting), the tree at least two levels
# deep, and then the same answer twice in a row.
want=$((${#NETS[@]} + 1))
n=0
depth=0
prev=
for ((i = 0; i < 120; i++)); do
	if fetch /api/tree >"$LAB_STATE/tree.json" 2>/dev/null &&
	    jq -e . "$LAB_STATE/tree.json" >/dev/null 2>&1; then
		n=$(api_nodes "$LAB_STATE/tree.json" | wc -l)
		depth=$(jq '[.channels[] | select(.name == "lab") |
		    .nodes[].depth // 0] | max // 0' "$LAB_STATE/tree.json")
		cur=$(api_nodes "$LAB_STATE/tree.json")
		[ "$n" -ge "$want" ] && [ "$depth" -ge 2 ] &&
		    [ "$cur" = "$prev" ] && break
		prev=$cur
	fi
	sleep 0.5
done
expect "/api/tree lists the origin and all ${#NETS[@]} peers ($n of $want)" \
    [ "$n" -ge "$want" ]
expect "the tree is at least two levels deep ($depth)" [ "$depth" -ge 2 ]
classes=$(jq -r '.channels[] | select(.name == "lab") | .nodes[].nat' \
    "$LAB_STATE/tree.json" | sort -u | tr '\n' ' ')
echo "    NAT classes in the tree: $classes"
expect "the tree holds nodes of at least four NAT classes" \
    [ "$(wc -w <<<"$classes")" -ge 4 ]

# The page against /api/tree, read before and after it: the tree must not
# have changed in between (a peer may be moved while the page loads).
DOM=$ART/status-page.dom.html
same=0
for ((try = 0; try < 4; try++)); do
	fetch /api/tree >"$LAB_STATE/before.json" || true
	fetch /api/stats >"$LAB_STATE/stats.json" || echo '{}' >"$LAB_STATE/stats.json"
	browser "$DOM" --dump-dom "$URL/"
	fetch /api/tree >"$LAB_STATE/after.json" || true
	api_nodes "$LAB_STATE/before.json" >"$LAB_STATE/api.txt"
	api_nodes "$LAB_STATE/after.json" >"$LAB_STATE/api2.txt"
	if cmp -s "$LAB_STATE/api.txt" "$LAB_STATE/api2.txt"; then
		same=1
		break
	fi
	echo "    the tree changed while the page loaded: again"
	sleep 2
done
expect "/api/tree held still while the page loaded" [ "$same" -eq 1 ]
dom_drawn "$DOM" >"$LAB_STATE/drawn.txt"
dom_hidden "$DOM" >"$LAB_STATE/hidden.txt"
echo "    the page draws $(wc -l <"$LAB_STATE/drawn.txt") nodes," \
    "$(wc -l <"$LAB_STATE/hidden.txt") more collapsed;" \
    "/api/tree lists $(wc -l <"$LAB_STATE/api.txt")"

expect "the page drew without an error" grep -q 'data-state="ok"' "$DOM"
expect "the page has a section for channel lab" \
    grep -q 'data-channel="lab"' "$DOM"
on_page() {
	local id role parent bad=0
	while read -r id role parent; do
		if grep -qxF "$id $role $parent" "$LAB_STATE/drawn.txt" ||
		    grep -qxF "$id $role" "$LAB_STATE/hidden.txt"; then
			continue
		fi
		echo "    $id ($role, parent ${parent:-none}) is not on the page" \
		    "as such: $(grep "^$id " "$LAB_STATE/drawn.txt" \
		    "$LAB_STATE/hidden.txt" || echo absent)"
		bad=$((bad + 1))
	done <"$LAB_STATE/api.txt"
	[ "$bad" -eq 0 ] && [ -s "$LAB_STATE/api.txt" ]
}
expect "every node of /api/tree is on the page, with its role and parent" \
    on_page
origin=$(jq -r '.channels[] | select(.name == "lab") | .origin' \
    "$LAB_STATE/before.json")
expect "the origin ($origin) is drawn as the origin, at the top" \
    grep -qxF "$origin origin " "$LAB_STATE/drawn.txt"
only_known() {
	local extra
	extra=$({ cut -d' ' -f1 "$LAB_STATE/drawn.txt"
	    cut -d' ' -f1 "$LAB_STATE/hidden.txt"; } | sort |
	    comm -23 - <(cut -d' ' -f1 "$LAB_STATE/api.txt" | sort))
	[ -z "$extra" ] || echo "    not in /api/tree: $extra"
	[ -z "$extra" ] && [ "$(cut -d' ' -f1 "$LAB_STATE/drawn.txt" |
	    sort | uniq -d | wc -l)" -eq 0 ]
}
expect "the page draws no node twice and none that /api/tree does not list" \
    only_known
# fig KEY: the figure the page shows for KEY.
fig() {
	sed -n "s/.*data-fig=\"$1\">\([^<]*\)<.*/\1/p" "$DOM" | head -1 |
	    tr -d ,
}
same_figures() {
	local key api page bad=0
	for key in nodes repeaters candidates nonrepeaters unplaced \
	    free_slots max_depth; do
		api=$(jq ".channels[] | select(.name == \"lab\") | .counts.$key" \
		    "$LAB_STATE/before.json")
		page=$(fig "$key")
		echo "    $key: /api/tree $api, the page $page"
		[ "$api" = "$page" ] || bad=1
	done
	api=$(jq '.channels[] | select(.name == "lab") |
	    (.connectible * 100 + 0.5 | floor)' "$LAB_STATE/before.json")
	page=$(fig connectible)
	echo "    connectible: /api/tree $api %, the page $page"
	[ "$page" = "$api %" ] || bad=1
	return $bad
}
expect "the figures are /api/tree's" same_figures
# The rest of the figures come from /api/stats: delivered bytes only grow,
# so with some before the page loaded, it must show the origin's share.
shows_rates() {
	local key bad=0
	for key in joins departures repairs offload; do
		echo "    $key: the page $(fig "$key")"
	done
	for key in joins departures repairs; do
		[[ "$(fig "$key")" =~ ^[0-9.]+$ ]] || bad=1
	done
	if [ "$(jq '.delivered_bytes // 0' "$LAB_STATE/stats.json")" -gt 0 ]
	then
		[[ "$(fig offload)" == *" %" ]] || bad=1
	fi
	return $bad
}
expect "the page shows joins, departures and repairs a minute, and the origin's share" \
    shows_rates
# Continuity (issue 18): each peer's own playout, reported in its STATUS,
# summed by channel; the page shows the channel's, as /api/tree has it.
playout_figures() {
	local api page nodes bad=0
	api=$(jq -r '.channels[] | select(.name == "lab") |
	    .playout.continuity * 10000 | round / 100 | tostring' \
	    "$LAB_STATE/before.json")
	page=$(fig continuity)
	nodes=$(jq '[.channels[] | select(.name == "lab") | .nodes[] |
	    select(.role != "origin" and .health != null) |
	    select(.health.played_s > 0 and (.health.continuity |
	    type) == "number")] | length' "$LAB_STATE/before.json")
	echo "    continuity: /api/tree $api %, the page $page;" \
	    "$nodes peers report their playout; stalls: the page" \
	    "$(fig stalls); demoted_lag: /api/stats" \
	    "$(jq '.tree_demoted_lag' "$LAB_STATE/stats.json"), the page" \
	    "$(fig demoted_lag)"
	[ "${page% %}" = "$(printf '%.2f' "$api")" ] || bad=1
	[ "$nodes" -gt 0 ] || bad=1
	[[ "$(fig stalls)" =~ ^[0-9]+$ ]] || bad=1
	[[ "$(jq '.tree_demoted_lag' "$LAB_STATE/stats.json")" =~ ^[0-9]+$ ]] ||
	    bad=1
	[ "$(fig demoted_lag)" = "$(jq '.tree_demoted_lag' \
	    "$LAB_STATE/stats.json")" ] || bad=1
	return $bad
}
expect "the page shows the channel's continuity and stalls, and the peers report theirs" \
    playout_figures
# The failure classes: a row each, its count /api/links's.
shows_classes() {
	local k n bad=0
	for k in random lossy filtering mapping peer_gone unknown; do
		n=$(grep -o "data-link-class=\"$k\" data-count=\"[0-9]*\"" "$DOM" |
		    grep -o '[0-9]*"$' | tr -d '"')
		if [ -z "$n" ] || [ "$n" != "$(jq -r ".classes.$k" \
		    "$LAB_STATE/links.json" 2>/dev/null)" ]; then
			echo "    class $k: page '$n', /api/links $(jq -c .classes \
			    "$LAB_STATE/links.json" 2>/dev/null)"
			bad=1
		fi
	done
	return $bad
}
lab_exec nego curl -s -m 5 "$URL/api/links" >"$LAB_STATE/links.json" || true
expect "the page shows the links' failure classes, as /api/links counts them" \
    shows_classes

# Screenshots, kept: a desktop and a phone (375 px wide).
png_size() {	# the IHDR chunk's width and height
	od -An -tu4 --endian=big -j16 -N8 "$1" | awk '{ print $1 "x" $2 }'
}
rm -f "$ART/status-page.png" "$ART/status-page-phone.png"
browser /dev/null --window-size=1280,1000 \
    --screenshot="$ART/status-page.png" "$URL/"
browser /dev/null --window-size=375,800 \
    --screenshot="$ART/status-page-phone.png" "$URL/"
expect "a screenshot at 1280x1000: $ART/status-page.png" \
    eval '[ "$(png_size "$ART/status-page.png" 2>/dev/null)" = 1280x1000 ]'
expect "a screenshot at 375x800: $ART/status-page-phone.png" \
    eval '[ "$(png_size "$ART/status-page-phone.png" 2>/dev/null)" = 375x800 ]'

# /metrics, the Prometheus text format.
lab_exec nego curl -s -m 5 -D "$LAB_STATE/metrics.headers" \
    -o "$LAB_STATE/metrics.txt" -w '%{http_code}' "$URL/metrics" \
    >"$LAB_STATE/metrics.code" || true
expect "the negotiator serves /metrics" \
    grep -qx 200 "$LAB_STATE/metrics.code"
expect "/metrics says text/plain; version=0.0.4" \
    grep -qi '^content-type: *text/plain; *version=0\.0\.4' \
    "$LAB_STATE/metrics.headers"
promcheck_metrics() {
	"$PROMCHECK" "$LAB_STATE/metrics.txt" 2>&1 | head -20 | sed 's/^/    /'
	"$PROMCHECK" "$LAB_STATE/metrics.txt" >/dev/null 2>&1
}
expect "/metrics passes promcheck" promcheck_metrics
playout_metrics() {
	local bad=0 m
	for m in 'treecast_playout_continuity_ratio{channel="lab"} ' \
	    'treecast_playout_played_milliseconds{channel="lab"} ' \
	    'treecast_playout_stalled_milliseconds{channel="lab"} ' \
	    'treecast_playout_stalls{channel="lab"} ' \
	    'treecast_tree_demoted_lag_total '; do
		grep -qF "$m" "$LAB_STATE/metrics.txt" ||
		    { echo "    no $m"; bad=1; }
	done
	return $bad
}
expect "/metrics has the channel's continuity, playout and demoted_lag" \
    playout_metrics
expect "/metrics counts links by failure class" \
    grep -q '^treecast_link_class_total{class="filtering"} [0-9]' \
    "$LAB_STATE/metrics.txt"
# promtool exits 3 for lint alone (names, units): promcheck's warnings.
promtool_metrics() {
	local rc=0
	promtool check metrics <"$LAB_STATE/metrics.txt" \
	    >"$LAB_STATE/promtool.txt" 2>&1 || rc=$?
	sed 's/^/    /' "$LAB_STATE/promtool.txt" | head -20
	[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ]
}
if command -v promtool >/dev/null; then
	expect "/metrics passes promtool check metrics" promtool_metrics
fi

# With no negotiator behind it (a file: URL, where every fetch fails), the
# page says so and keeps trying.
browser "$LAB_STATE/alone.dom.html" --dump-dom \
    "file://$top_srcdir/negotiator/status.html"
expect "with no negotiator, the page says it is unreachable and retries" \
    grep -q 'negotiator unreachable, retrying' "$LAB_STATE/alone.dom.html"
lab_verdict
