# What the link tests share (tests/link-*.sh, tests/lab/link-matrix.sh):
# source it after lab.sh.
#
#   link_accept HOST NAME ID [ARG...]
#                       linktool accepting links as node ID on HOST, log
#                       $LAB_STATE/accept-NAME.log; its pid in $!
#   link_ready [--secs S] NAME...
#                       waits (up to S s, default 30) for each acceptor
#                       NAME to be ready; a failed check for each that is not
#   link_end [LINKS]    the pairs whose attempts failed before a link came
#                       up, from LINKS (/api/links), as notes; the
#                       negotiator's log tail if a check failed; lab_verdict
#   ok_ms FILE...       the connect_ms of the ok lines of linktool's JSON
#   pct P               the Pth percentile (nearest rank) of stdin's numbers
#   ok_paths FILE       the paths of FILE's ok lines, "direct/relay" if mixed
LINK=$top_builddir/tests/lab/linktool

link_accept() {
	local host=$1 name=$2 id=$3
	shift 3
	lab_bg "$host" "$LAB_STATE/accept-$name.log" "$LINK" "$N1" --id "$id" \
	    --accept "$@"
}

link_ready() {
	local secs=30 t
	if [ "$1" = --secs ]; then
		secs=$2
		shift 2
	fi
	for t in "$@"; do
		lab_ready "$LAB_STATE/accept-$t.log" "$secs" ||
		    fail "$t target is not ready: $(cat "$LAB_STATE/accept-$t.log")"
	done
}

ok_ms() {
	cat "$@" | grep '"ok":true' |
	    sed -n 's/.*"connect_ms":\([0-9-]*\).*/\1/p' || true
}

pct() {
	sort -n | awk -v p="$1" '{ v[NR] = $1 }
	    END { i = int((p * NR + 99) / 100); print NR ? v[i] : "-" }'
}

ok_paths() {
	grep '"ok":true' "$1" | sed -n 's/.*"path":"\([^"]*\)".*/\1/p' |
	    sort -u | paste -sd/ || true
}

link_end() {
	local retried
	retried=$(grep -o '{"a":[^}]*"failed_[^}]*}' <<<"${1:-}" || true)
	if [ -n "$retried" ]; then
		echo "note: attempts that failed before a link came up, by pair:"
		sed 's/^/note:   /' <<<"$retried"
	fi
	if [ "$LAB_FAILURES" -ne 0 ]; then
		echo "--- negotiator log (tail)"
		tail -30 "$LAB_STATE/negotiator.log"
	fi
	lab_verdict
}
