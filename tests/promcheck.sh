# promcheck, the Prometheus text format checker that the status page's
# test runs on /metrics, checked itself: a valid exposition passes, and
# each broken one fails with the violation named and its line.
set -u
PROMCHECK=${top_builddir:?}/tests/lab/promcheck
[ -x "$PROMCHECK" ] || { echo "FAIL: $PROMCHECK not built"; exit 1; }
passed=0
failed=0

verdict() {
	if [ "$1" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok: $2"
	else
		failed=$((failed + 1))
		echo "FAIL: $2"
	fi
}

# valid WHAT TEXT: promcheck accepts TEXT (given with printf %b).
valid() {
	local out rc
	out=$(printf '%b' "$2" | "$PROMCHECK" 2>/dev/null)
	rc=$?
	[ "$rc" -eq 0 ] || echo "    $out"
	verdict "$rc" "valid: $1"
}

# invalid WHAT LINE PATTERN TEXT [OPTION]: promcheck rejects TEXT with an
# error at LINE that matches PATTERN (grep -E).
invalid() {
	local out rc ok=1
	out=$(printf '%b' "$4" | "$PROMCHECK" ${5:-} 2>/dev/null)
	rc=$?
	if [ "$rc" -eq 1 ] && grep -Eq "^$2: error: .*($3)" <<<"$out"; then
		ok=0
	else
		echo "    exit $rc, wanted 1 and '$2: error: ...$3': $out"
	fi
	verdict "$ok" "invalid: $1"
}

GOOD='# HELP treecast_datagrams_total Datagrams, by outcome: \\\\ and \\n escaped.
# TYPE treecast_datagrams_total counter
treecast_datagrams_total{outcome="answered"} 12
treecast_datagrams_total{outcome="dropped",reason="a \\"quoted\\" \\\\ \\n value"} 3 1700000000000
# a comment that is neither HELP nor TYPE
# TYPE treecast_nodes gauge
treecast_nodes 9

# TYPE treecast_link_ms histogram
treecast_link_ms_bucket{le="100"} 1
treecast_link_ms_bucket{le="+Inf"} 3
treecast_link_ms_sum 1234.5
treecast_link_ms_count 3
# TYPE treecast_rtt_seconds summary
treecast_rtt_seconds{quantile="0.5"} NaN
treecast_rtt_seconds{quantile="0.99"} +Inf
treecast_rtt_seconds_sum -Inf
treecast_rtt_seconds_count 0x1p3
treecast_ratio {a="b", c = "d",} 1e-3 -5
treecast_tiny 1e-400
'
valid "every type, escapes, NaN and the infinities, a timestamp" "$GOOD"
valid "one untyped sample" 'treecast_up 1\n'
valid "the playout gauges, a ratio and milliseconds by channel" \
    '# HELP treecast_playout_continuity_ratio Share not stalled.\n# TYPE treecast_playout_continuity_ratio gauge\ntreecast_playout_continuity_ratio{channel="lab"} 0.9953\n# TYPE treecast_playout_stalled_milliseconds gauge\ntreecast_playout_stalled_milliseconds{channel="lab"} 184\n'
valid "a counter without _total is only a warning" \
    '# TYPE treecast_links counter\ntreecast_links 1\n'
valid "HELP without text" '# HELP treecast_up\ntreecast_up 1\n'

invalid "empty" 1 "empty" ''
invalid "no final newline" 1 "newline" 'treecast_up 1'
invalid "CR LF" 1 "carriage return" 'treecast_up 1\r\n'
invalid "not UTF-8" 1 "UTF-8" 'treecast_up{a="\xff"} 1\n'
invalid "a name with a dash" 1 "metric name" 'treecast-up 1\n'
invalid "a name without the prefix" 2 "does not start with 'treecast_'" \
    'treecast_up 1\nprocess_up 1\n'
invalid "a label name starting with a digit" 1 "label name" \
    'treecast_up{1a="b"} 1\n'
invalid "__name__ as a label" 1 "reserved" 'treecast_up{__name__="x"} 1\n'
invalid "a label twice" 1 "twice" 'treecast_up{a="1",a="2"} 1\n'
invalid "a label value with \\t" 1 "escape" 'treecast_up{a="x\\ty"} 1\n'
invalid "a label value not closed" 1 "not closed" 'treecast_up{a="x} 1\n'
invalid "an unquoted label value" 1 "not quoted" 'treecast_up{a=x} 1\n'
invalid "a label set not closed" 1 "not closed|expected" \
    'treecast_up{a="x" 1\n'
invalid "no value" 1 "no value" 'treecast_up\n'
invalid "a word for a value" 1 "not a float" 'treecast_up one\n'
invalid "a signed NaN" 1 "not a float" 'treecast_up -NaN\n'
invalid "a value out of range" 1 "not a float" 'treecast_up 1e999\n'
invalid "hexadecimal without p" 1 "not a float" 'treecast_up 0x10\n'
invalid "digits with _" 1 "not a float" 'treecast_up 1_000\n'
invalid "a fractional timestamp" 1 "timestamp" 'treecast_up 1 1.5\n'
invalid "text after the timestamp" 1 "after the timestamp" \
    'treecast_up 1 2 3\n'
invalid "an unknown type" 1 "none of" '# TYPE treecast_up counters\n'
invalid "TYPE twice" 2 "second TYPE" \
    '# TYPE treecast_up gauge\n# TYPE treecast_up gauge\ntreecast_up 1\n'
invalid "TYPE after the samples" 2 "after its samples" \
    'treecast_up 1\n# TYPE treecast_up gauge\n'
invalid "HELP twice" 2 "second HELP" \
    '# HELP treecast_up a\n# HELP treecast_up b\ntreecast_up 1\n'
invalid "a family in two groups" 3 "not together" \
    'treecast_a{x="1"} 1\ntreecast_b 1\ntreecast_a{x="2"} 1\n'
invalid "a series twice, labels in another order" 2 "again" \
    'treecast_a{x="1",y="2"} 1\ntreecast_a{y="2",x="1"} 2\n'
invalid "a histogram without +Inf" 2 "\\+Inf" \
    '# TYPE treecast_h histogram\ntreecast_h_bucket{le="1"} 1\ntreecast_h_sum 1\ntreecast_h_count 1\n'
invalid "a histogram bucket without le" 2 "without an le" \
    '# TYPE treecast_h histogram\ntreecast_h_bucket 1\n'
invalid "a bare histogram sample" 2 "_bucket, _sum or _count" \
    '# TYPE treecast_h histogram\ntreecast_h 1\n'
invalid "a summary without quantile" 2 "quantile" \
    '# TYPE treecast_s summary\ntreecast_s 1\n'
invalid "-W: a counter without _total" 1 "_total" \
    '# TYPE treecast_links counter\ntreecast_links 1\n' -W

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
