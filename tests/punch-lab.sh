# Hole punching through the lab's NATs, then UDT on the punched socket:
# pairs of hosts behind different NATs learn their profiles, have the
# negotiator reflect a fresh socket's mapping, predict their next ports,
# exchange candidates (through files here: the broker comes with the links
# issue), punch with authenticated checks and move 100 messages each way
# over UDT. A side behind a random allocator cannot predict: it must fail
# cleanly, at that step.
set -eu
. "$top_srcdir/tests/lab/lab.sh"
PUNCH=$top_builddir/tests/lab/punchtool
NEGOTIATOR=$top_builddir/treecast-negotiator


# Ordered pairs: every predictable behaviour on each side at least once.
PAIRS="eim:seq seq:eim seq:seq offset:eim-np eim-np:offset open:seq seq:open eim:eim random:eim"

lab_init
lab_public nego 2
N1=$(lab_ip nego 1)
i=0
for p in $PAIRS; do
	i=$((i + 1))
	lab_net "p${i}a" "${p%%:*}"
	lab_net "p${i}b" "${p##*:}"
done
lab_bg nego "$LAB_STATE/negotiator.log" "$NEGOTIATOR" --listen "$N1:3478" \
    --alt-address "$(lab_ip nego 2)" --no-http --log-level warn
sleep 0.5	# the negotiator binds; discovery retransmits anyway

i=0
for p in $PAIRS; do
	i=$((i + 1))
	mkdir -p "$LAB_STATE/x$i"
	for side in a b; do
		peer=b
		[ $side = b ] && peer=a
		( lab_exec "p$i$side" "$PUNCH" "$N1" "$LAB_STATE/x$i" "$side" \
		    "$peer" "secret-$i-$LAB" 100 >"$LAB_STATE/out$i$side" \
		    2>&1 || true ) &
	done
done
wait

i=0
for p in $PAIRS; do
	i=$((i + 1))
	a=$(grep '"me"' "$LAB_STATE/out${i}a" || cat "$LAB_STATE/out${i}a")
	b=$(grep '"me"' "$LAB_STATE/out${i}b" || cat "$LAB_STATE/out${i}b")
	case $p in
	random:*)
		if [ "$(json_get ok "$a")" = false ] &&
		    [ "$(json_get stage "$a")" = predict ]; then
			pass "$p: the random side failed cleanly at prediction"
		else
			fail "$p: expected a clean failure at prediction: $a"
		fi
		;;
	*)
		if [ "$(json_get ok "$a")" = true ] &&
		    [ "$(json_get ok "$b")" = true ]; then
			pass "$p: punched in $(json_get punch_ms "$b") ms," \
			    "UDT up in $(json_get connect_ms "$b") ms, 100 messages each way"
		else
			fail "$p: $a / $b"
		fi
		;;
	esac
done
lab_verdict
