# Two labs at once both work; a lab whose test is killed half-way, even
# with SIGKILL, leaves no namespace, interface, nft table or process behind.
set -eu
. "$top_srcdir/tests/lab/lab.sh"
lab_require
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

links_before=$(ip -o link | wc -l)

# A zombie is dead: its parent was the killed test, and whoever inherits it
# may be slow to reap it.
alive() {
	[ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"
}

# Namespaces left by lab $1, after waiting up to 10 s for its reaper.
leftovers() {
	local i
	for ((i = 0; i < 100; i++)); do
		ip netns list | grep -q "^$1-" || return 0
		sleep 0.1
	done
	ip netns list | grep "^$1-" | tr '\n' ' '
}

# 1. Two labs at once.
bash "$top_srcdir/tests/lab/mini.sh" "$work/one" >"$work/one.log" 2>&1 & p1=$!
bash "$top_srcdir/tests/lab/mini.sh" "$work/two" >"$work/two.log" 2>&1 & p2=$!
wait $p1 || fail "first of two concurrent labs: $(cat "$work/one.log")"
wait $p2 || fail "second of two concurrent labs: $(cat "$work/two.log")"
read -r lab1 _ <"$work/one" || true
read -r lab2 _ <"$work/two" || true
[ -n "${lab1:-}" ] && [ "${lab1:-}" != "${lab2:-}" ] ||
    fail "two concurrent labs need two names (${lab1:-?}, ${lab2:-?})"
for l in ${lab1:-} ${lab2:-}; do
	left=$(leftovers "$l")
	[ -z "$left" ] || fail "lab $l left: $left"
done
[ "$LAB_FAILURES" -ne 0 ] || pass "two labs at once ($lab1, $lab2)"

# 2. Killed half-way, by each signal a test runner or a user may send. (A
# shell started in the background ignores SIGINT and cannot trap it, so
# SIGINT, a terminal's Ctrl-C, is left out here: it takes the TERM path.)
for sig in KILL TERM HUP; do
	before=$LAB_FAILURES
	rm -f "$work/held"
	# env --default-signal: a shell cannot trap a signal it was started
	# with ignored (nohup ignores SIGHUP), so the held lab starts with
	# every signal at its default, whatever this test inherited.
	setsid env --default-signal bash "$top_srcdir/tests/lab/mini.sh" \
	    "$work/held" hold >"$work/held.log" 2>&1 </dev/null &
	holder=$!
	for ((i = 0; i < 300; i++)); do
		[ -s "$work/held" ] && break
		sleep 0.1
	done
	if [ ! -s "$work/held" ]; then
		fail "SIG$sig: the held lab never came up: $(cat "$work/held.log")"
		kill -9 $holder 2>/dev/null || true
		continue
	fi
	read -r lab pid reflector <"$work/held"
	kill -s "$sig" "$pid"
	left=$(leftovers "$lab")
	[ -z "$left" ] || fail "SIG$sig: lab $lab left namespaces: $left"
	sleep 0.2
	! alive "$reflector" ||
	    fail "SIG$sig: lab $lab left its reflector (pid $reflector) running"
	pgrep -f "labwire $lab-" >/dev/null &&
	    fail "SIG$sig: lab $lab left a labwire running"
	[ ! -e "/run/treecast-lab/$lab" ] ||
	    fail "SIG$sig: lab $lab left /run/treecast-lab/$lab"
	# A held lab that outlived its signal would hold this test forever.
	kill -9 $holder 2>/dev/null || true
	wait $holder 2>/dev/null || true
	[ "$LAB_FAILURES" -ne "$before" ] ||
	    pass "SIG$sig half-way: lab $lab removed"
done

links_after=$(ip -o link | wc -l)
[ "$links_after" -eq "$links_before" ] ||
    fail "interfaces in the test's namespace went from $links_before to $links_after"

lab_verdict
