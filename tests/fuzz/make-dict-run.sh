#!/usr/bin/env bash
# Writes the fuzzers' dictionary, tests/fuzz/treecast.dict, from the
# protocol's rows, failing if a row breaks the protocol's rules
# (tests/fuzz/make-dict.c), and checks that every row made its lines:
# four per method (one per class), one per attribute, and the cookie.
set -euo pipefail
b=${top_builddir:-.} s=${top_srcdir:-.}
dict=$b/tests/fuzz/treecast.dict
"$b/tests/fuzz/make-dict" "$dict"
rows() {	# FILE MACRO: the X( rows of #define MACRO(X)
	awk -v m="#define $2(X)" 'index($0, m) == 1 { on = 1; next }
	    on && /^[[:space:]]*X\(/ { n++ } on && !/\\$/ { on = 0 }
	    END { print n + 0 }' "$1"
}
methods=$(( $(rows "$s/net/wire/proto.h" TC_METHODS) + 1 ))	# and Binding
attrs=$(( $(rows "$s/net/wire/stun.h" STUN_ATTRS) + $(rows "$s/net/wire/proto.h" TC_ATTRS) ))
want=$((1 + 4 * methods + attrs))
got=$(grep -c '^[A-Za-z0-9_-]*="' "$dict")
[ "$got" -eq "$want" ] || {
	echo "make-dict-run: $got entries in $dict, want $want ($methods methods, $attrs attributes)" >&2
	exit 1
}
# RFC 8489 §5: REGISTER (0x0C1) as a request is the type 0x0281.
grep -qx 'register_request="\\x02\\x81"' "$dict" ||
    { echo "make-dict-run: no REGISTER request line (0x0281) in $dict" >&2; exit 1; }
echo "make-dict-run: $got entries ($methods methods, $attrs attributes) in $dict"
