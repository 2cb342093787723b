# treecast-probe from behind every NAT of the lab, against a negotiator
# with a second address (RFC 5780): 10 runs each, every one right; then
# each registers, and the negotiator's registry holds the same profile.
# With PROBE_AGAINST=coturn (tests/probe-coturn.sh), against coturn's
# turnserver instead: the probe works with any RFC 5780 STUN server.
set -eu
. "$top_srcdir/tests/lab/lab.sh"
PROBE=$top_builddir/treecast-probe
NEGOTIATOR=$top_builddir/treecast-negotiator
SERVER=${PROBE_AGAINST:-negotiator}
RUNS=${PROBE_RUNS:-10}



# What each behaviour must be reported as: mapping allocation offset delta filtering
declare -A WANT=(
	[open]="none preserved 0 0 endpoint-independent"
	[eim]="endpoint-independent preserved 0 0 address-and-port-dependent"
	[offset]="endpoint-independent offset $LAB_OFFSET_K 0 address-and-port-dependent"
	[eim-np]="endpoint-independent random 0 0 address-and-port-dependent"
	[seq]="address-and-port-dependent sequential 0 1 address-and-port-dependent"
	[random]="address-and-port-dependent random 0 0 address-and-port-dependent"
	[cgnat]="endpoint-independent random 0 0 address-and-port-dependent"
	[cgnat-hp]="endpoint-independent offset $((LAB_CGN_BLOCK0 - 40000)) 0 address-and-port-dependent"
)
# cgnat: double NAT, a home eim router behind a carrier-grade NAT (lab_cgn):
# endpoint-independent behind endpoint-independent is endpoint-independent,
# and the CGN does not preserve ports. cgnat-hp: the same behind a
# hairpinning CGN (lab_cgn --hairpin), deterministic: its first home's
# ports 40000-44999 go to 10000-14999, an offset.
BEHAVIOURS="open eim offset eim-np seq random cgnat cgnat-hp"

lab_init
lab_public nego 2
lab_cgn carrier
lab_cgn hairpin --hairpin
for b in $BEHAVIOURS; do
	if [ "$b" = cgnat ]; then
		lab_net "$b" eim --behind carrier
	elif [ "$b" = cgnat-hp ]; then
		lab_net "$b" eim --behind hairpin
	else
		lab_net "$b" "$b"
	fi
done
N1=$(lab_ip nego 1)
N2=$(lab_ip nego 2)
if [ "$SERVER" = coturn ]; then
	command -v turnserver >/dev/null ||
	    lab_die "turnserver not found: run scripts/setup.sh (Debian: coturn)"
	lab_bg nego "$LAB_STATE/negotiator.log" turnserver -n --stun-only \
	    --no-cli --no-tls --no-dtls -L "$N1" -L "$N2" -p 3478 \
	    --alt-listening-port 3479 --log-file stdout --simple-log
else
	lab_bg nego "$LAB_STATE/negotiator.log" "$NEGOTIATOR" --listen "$N1:3478" \
	    --alt-address "$N2" --http 127.0.0.1:8080 --stats 0 --log-level debug
fi
for i in $(seq 50); do
	lab_exec open "$PROBE" "$N1" >/dev/null 2>&1 && break
	sleep 0.2
done

got() {	# got JSON -> "mapping allocation offset delta filtering"
	echo "$(json_get mapping "$1") $(json_get allocation "$1")" \
	    "$(json_get offset "$1") $(json_get delta "$1")" \
	    "$(json_get filtering "$1")"
}

# Every behaviour at once (each has its own router); runs one after another.
for b in $BEHAVIOURS; do
	(
		for ((i = 1; i <= RUNS; i++)); do
			lab_exec "$b" "$PROBE" --json "$N1" 2>&1 || echo "exit $?"
		done >"$LAB_STATE/probe-$b.out"
	) &
done
wait

for b in $BEHAVIOURS; do
	right=0
	while read -r line; do
		if [ "$(got "$line")" = "${WANT[$b]}" ]; then
			right=$((right + 1))
		else
			echo "  $b: $line"
		fi
	done <"$LAB_STATE/probe-$b.out"
	if [ "$right" -eq "$RUNS" ]; then
		pass "$b: $RUNS of $RUNS runs report ${WANT[$b]}"
	else
		fail "$b: $right of $RUNS runs report ${WANT[$b]}"
	fi
	# The external address is the router's.
	ext=$(json_get external "$(head -1 "$LAB_STATE/probe-$b.out")")
	[ "${ext%:*}" = "$(lab_wan "$b")" ] ||
	    fail "$b: external $ext is not behind $(lab_wan "$b")"
done

if [ "$SERVER" = coturn ]; then
	lab_verdict
	exit
fi

# Registered, the negotiator holds the same profile.
for b in $BEHAVIOURS; do
	lab_bg "$b" "$LAB_STATE/stay-$b.out" "$PROBE" --json --register --stay \
	    --channel lab "$N1"
done
for b in $BEHAVIOURS; do
	for i in $(seq 100); do
		grep -q node_id "$LAB_STATE/stay-$b.out" 2>/dev/null && break
		sleep 0.1
	done
	line=$(grep node_id "$LAB_STATE/stay-$b.out" || true)
	id=$(json_get node_id "$line")
	if [ -z "$id" ]; then
		fail "$b: the probe did not register: $(cat "$LAB_STATE/stay-$b.out")"
		continue
	fi
	node=$(lab_exec nego curl -sf "http://127.0.0.1:8080/api/nodes?id=$id")
	reg="$(json_get mapping "$node") $(json_get allocation "$node")"
	reg="$reg $(json_get offset "$node") $(json_get delta "$node")"
	reg="$reg $(json_get filtering "$node")"
	if [ "$reg" = "$(got "$line")" ] && [ "$reg" = "${WANT[$b]}" ]; then
		pass "$b: the registry holds node $id as $reg"
	else
		fail "$b: registry has '$reg' for node $id, probe said '$(got "$line")'"
	fi
	[ "$(json_get role "$node")" = probe ] && [ "$(json_get channel "$node")" = lab ] ||
	    fail "$b: registry role/channel wrong: $node"
done

# Keepalives keep them there: wait past the expiry (10 s) and look again.
sleep 11
# (The negotiator's own verifier is registered too: count the probes.)
count=$(lab_exec nego curl -sf http://127.0.0.1:8080/api/nodes |
    grep -o '"role":"probe"' | grep -c . || true)
nb=$(wc -w <<<"$BEHAVIOURS")
[ "$count" = "$nb" ] && pass "after 11 s of keepalives all $nb are registered" ||
    fail "after 11 s, $count probes registered (want $nb)"
stats=$(lab_exec nego curl -sf http://127.0.0.1:8080/api/stats)
ka=$(json_get keepalive "$stats")
[ "${ka:-0}" -ge 12 ] && pass "keepalives counted: $ka" ||
    fail "keepalives counted: ${ka:-none}"

if [ "$LAB_FAILURES" -ne 0 ]; then
	echo "--- negotiator log (tail)"
	tail -30 "$LAB_STATE/negotiator.log"
fi
lab_verdict
