# The NAT lab tests itself: for every behaviour, the mapping a reflector on
# the public segment sees is what the behaviour promises, unsolicited
# packets are dropped and replies to solicited flows pass.
set -eu
. "$top_srcdir/tests/lab/lab.sh"
LABTOOL=$top_builddir/tests/lab/labtool

# map HOST DEST... -> fills LOCAL, MIP[], MPORT[] and RTT[] from labtool map
map() {
	local host=$1 line i=0 local_ mapped rtt
	shift
	MIP=() MPORT=() RTT=()
	while read -r local_ mapped rtt; do
		LOCAL=$local_
		MIP[i]=${mapped%:*}
		MPORT[i]=${mapped##*:}
		RTT[i]=${rtt%.*}
		i=$((i + 1))
	done < <(lab_exec "$host" "$LABTOOL" map "$@")
	[ "$i" -eq $# ] || { fail "$host: labtool map $* answered $i of $#"; return 1; }
}

lab_init
lab_public pub 2
lab_public stranger
lab_public6 pub
lab_public6 stranger
lab_net dual v6:eim
for b in eim offset eim-np seq random; do
	lab_net "$b" "$b"
done
lab_net open open
lab_host seq seq2
lab_net slow eim --delay 100
lab_net lossy eim --loss 100
lab_net capped eim --rate 2000
lab_cgn carrier
lab_net cgn1 eim --behind carrier
lab_net cgn2 eim --behind carrier
lab_cgn hairpin --hairpin
lab_net hp1 eim --behind hairpin
lab_net hp2 eim --behind hairpin

lab_bg pub "$LAB_STATE/reflect-pub.log" "$LABTOOL" reflect 3478 3479
lab_bg stranger "$LAB_STATE/reflect-stranger.log" "$LABTOOL" reflect 3478
A=$(lab_ip pub):3478
B=$(lab_ip pub):3479
C=$(lab_ip stranger):3478
# The reflectors are up when they answer.
for i in $(seq 50); do
	lab_exec open "$LABTOOL" map "$A" "$C" >/dev/null 2>&1 && break
	sleep 0.1
done

for b in eim offset eim-np seq random open; do
	wan=$(lab_wan "$b")
	map "$b" "$A" "$B" || continue
	l=$LOCAL a=${MPORT[0]} p=${MPORT[1]}
	expect "$b: mapped address is the router's ($wan)" \
	    test "${MIP[0]}" = "$wan" -a "${MIP[1]}" = "$wan"
	case $b in
	eim|open)
		expect "$b: port preserved both ways ($l -> $a, $p)" \
		    test "$a" = "$l" -a "$p" = "$l" ;;
	offset)
		expect "$b: +$LAB_OFFSET_K both ways ($l -> $a, $p)" \
		    test "$a" -eq $((l + LAB_OFFSET_K)) -a "$p" -eq "$a" ;;
	eim-np)
		expect "$b: same port both ways, not preserved, in 20000-30000 ($l -> $a, $p)" \
		    test "$a" = "$p" -a "$a" != "$l" -a "$a" -ge 20000 -a "$a" -le 30000 ;;
	seq)
		expect "$b: +1 for the second destination ($a, $p)" \
		    test "$p" -eq $((a + 1)) ;;
	random)
		expect "$b: a new port for the second destination ($a, $p)" \
		    test "$a" != "$p" -a "$a" != "$l" ;;
	esac

	# A fresh socket: a new flow.
	map "$b" "$A" || continue
	l2=$LOCAL n=${MPORT[0]}
	case $b in
	eim|open)
		expect "$b: fresh socket preserved ($l2 -> $n)" test "$n" = "$l2" ;;
	offset)
		expect "$b: fresh socket +$LAB_OFFSET_K ($l2 -> $n)" \
		    test "$n" -eq $((l2 + LAB_OFFSET_K)) ;;
	eim-np)
		expect "$b: fresh socket gets another port ($n after $a)" \
		    test "$n" != "$a" -a "$n" != "$l2" ;;
	seq)
		expect "$b: fresh socket +1 again ($n after $p)" \
		    test "$n" -eq $((p + 1)) ;;
	random)
		# Three more flows: a sequential or fixed pattern would show
		# as equal steps.
		map "$b" "$A" "$B" "$C" || continue
		d1=$((MPORT[1] - MPORT[0])) d2=$((MPORT[2] - MPORT[1]))
		expect "$b: no pattern in ${MPORT[*]}" \
		    test "$d1" != "$d2" -a "${MPORT[0]}" != "$LOCAL" ;;
	esac

	out=$(lab_exec "$b" "$LABTOOL" filter "$A" "$B" "$C")
	if [ "$b" = open ]; then
		want="solicited=1 other_port=1 other_host=1"
	else
		want="solicited=1 other_port=0 other_host=0"
	fi
	expect "$b: filtering: $out" test "$out" = "$want"
done

# Two hosts behind one sequential NAT share its allocator.
map seq "$A" && first=${MPORT[0]}
map seq2 "$A" && second=${MPORT[0]}
expect "seq: the second inside host takes the next port ($first, $second)" \
    test "$second" -eq $((first + 1))

# The second public address answers too (RFC 5780's other address).
map eim "$(lab_ip pub 2):3478" &&
    expect "pub's second address reflects" test "${MPORT[0]}" = "$LOCAL"

# conntrack -F forgets the mappings: a sequential NAT then still counts on.
lab_flush seq
map seq "$A" &&
    expect "seq: after conntrack -F the allocator goes on (${MPORT[0]})" \
    test "${MPORT[0]}" -gt "$second"

# Double NAT: home eim routers behind one carrier-grade NAT (RFC 6888),
# which maps endpoint-independently into 10000-19999. The world sees the
# CGN's address; each home router's own WAN is on the carrier LAN.
cwan=$(lab_wan carrier)
for h in cgn1 cgn2; do
	inner=$(lab_wan_inner "$h")
	expect "$h: its home router's WAN $inner is in 100.64.0.0/10" \
	    test "${inner#100.64.}" != "$inner"
	map "$h" "$A" "$B" || continue
	l=$LOCAL a=${MPORT[0]} p=${MPORT[1]}
	expect "$h: mapped address is the CGN's ($cwan), not the home router's" \
	    test "${MIP[0]}" = "$cwan" -a "${MIP[1]}" = "$cwan" -a "$(lab_wan "$h")" = "$cwan"
	expect "$h: same port both ways, not preserved, in $LAB_CGN_PORTS ($l -> $a, $p)" \
	    test "$a" = "$p" -a "$a" != "$l" -a "$a" -ge 10000 -a "$a" -le 19999
	map "$h" "$B" "$A" || continue
	expect "$h: a fresh socket: another port, one for both (${MPORT[*]} after $a)" \
	    test "${MPORT[0]}" = "${MPORT[1]}" -a "${MPORT[0]}" != "$a" \
	    -a "${MPORT[0]}" != "$LOCAL"
	eval "cport_$h=${MPORT[0]}"
	out=$(lab_exec "$h" "$LABTOOL" filter "$A" "$B" "$C")
	expect "$h: filtering: $out" \
	    test "$out" = "solicited=1 other_port=0 other_host=0"
done
expect "two homes behind one CGN: two mappings ($cport_cgn1, $cport_cgn2)" \
    test "$cport_cgn1" != "$cport_cgn2"
# Unsolicited from the public side, to the CGN's address: nothing comes.
if lab_exec stranger "$LABTOOL" map "$cwan:$cport_cgn1" >/dev/null 2>&1; then
	fail "CGN: an unsolicited packet to $cwan:$cport_cgn1 got an answer"
else
	pass "CGN: unsolicited input to $cwan:$cport_cgn1 dropped"
fi

# hairpin CGN PORT1 PORT2 HOST1 HOST2 M1 M2: HOST1 (a reflector on PORT1) sends
# to HOST2's mapping of PORT2 on CGN's address (M2) (HOST2's home router lets in
# only what answers it), then HOST2 asks it, on the CGN's address, from
# PORT2, at HOST1's mapping M1. Prints the address HOST1 saw, or nothing.
hairpin() {
	local w m1=$6 m2=$7 out i
	w=$(lab_wan "$1")
	lab_bg "$4" "$LAB_STATE/hairpin-$4.log" "$LABTOOL" reflect "$2"
	sleep 0.2
	for i in $(seq 5); do	# a poke or two may come before it binds
		lab_exec "$4" bash -c "echo -n 'POKE $w:$m2' >/dev/udp/$(lab_ip "$4")/$2" \
		    2>/dev/null || true
		sleep 0.1
	done
	out=$(lab_exec "$5" "$LABTOOL" map --bind "$3" "$w:$m1" 2>/dev/null) || true
	echo "${out#* }" | cut -d' ' -f1
}

# A hairpinning CGN (deterministic, RFC 7422): each home router's ports map
# one to one into its block, and a packet from the carrier LAN to the
# CGN's address goes to the mapping's owner, from the sender's mapping.
hwan=$(lab_wan hairpin)
for h in hp1 hp2; do
	map "$h" "$A" "$B" || continue
	want=$(lab_cgn_port "$h" "$LOCAL")
	expect "$h: deterministic: $LOCAL -> $hwan:$want both ways (${MIP[0]}:${MPORT[0]}, ${MPORT[1]})" \
	    test "${MIP[0]}" = "$hwan" -a "${MPORT[0]}" = "$want" -a "${MPORT[1]}" = "$want"
	out=$(lab_exec "$h" "$LABTOOL" filter "$A" "$B" "$C")
	expect "$h: filtering: $out" \
	    test "$out" = "solicited=1 other_port=0 other_host=0"
done
m1=$(lab_cgn_port hp1 40200) m2=$(lab_cgn_port hp2 40300)
got=$(hairpin hairpin 40200 40300 hp1 hp2 "$m1" "$m2")
expect "hairpinning: hp2 -> $hwan:$m1 reaches hp1, from $hwan:$m2 (${got:-nothing})" \
    test "$got" = "$hwan:$m2"
# The plain CGN does not hairpin: the same, with cgn1's and cgn2's
# mappings of those ports, gets nothing through.
m1=$(lab_exec cgn1 "$LABTOOL" map --bind 40200 "$A" | cut -d' ' -f2)
m2=$(lab_exec cgn2 "$LABTOOL" map --bind 40300 "$A" | cut -d' ' -f2)
got=$(hairpin carrier 40200 40300 cgn1 cgn2 "${m1##*:}" "${m2##*:}")
expect "no --hairpin: cgn2 -> $m1 does not reach cgn1 (${got:-nothing})" \
    test -z "$got"

# A slow WAN link: 100 ms each way can only lengthen the RTT.
# The first exchange also waits for ARP; the second is one round trip.
map slow "$A" "$A" &&
    expect "--delay 100 (each way): RTT ${RTT[1]} ms >= 200" test "${RTT[1]}" -ge 200
# 100% loss: nothing gets through (labtool retries, then fails).
if lab_exec lossy "$LABTOOL" map "$A" >/dev/null 2>&1; then
	fail "--loss 100: a reply got through"
else
	pass "--loss 100: no reply"
fi

# blast HOST: 6 Mbit/s of UDP for 2 s from HOST to a sink on pub; sets
# SENT and GOT (bytes).
blast() {
	local out=$LAB_STATE/sink-$1.out i
	lab_bg pub "$out" "$LABTOOL" sink 5000
	for i in $(seq 50); do
		grep -q ready "$out" 2>/dev/null && break
		sleep 0.1
	done
	SENT=$(lab_exec "$1" "$LABTOOL" blast 6000 2000 "$(lab_ip pub):5000")
	for i in $(seq 50); do
		[ "$(wc -l <"$out")" -ge 2 ] && break
		sleep 0.1
	done
	GOT=$(sed -n '2s/ .*//p' "$out")
	GOT=${GOT:-0}
}
# --rate 2000: the upload carries 2 Mbit/s of frames (1,242 bytes for each
# 1,200 of payload): over 2 s and the 100 ms queue, at most 2000 * 2.1 / 8
# kB, and well over half of 2000 * 2 / 8 kB however slow the machine.
blast capped
expect "--rate 2000: $GOT of $SENT bytes sent at 6 Mbit/s, 500 kB at the rate" \
    test "$GOT" -le 525000 -a "$GOT" -ge 300000
# Uncapped, the same blast gets through.
blast eim
expect "no --rate: $GOT of $SENT bytes sent at 6 Mbit/s came" \
    test "$GOT" -ge $((SENT * 9 / 10))

# v6:eim: IPv4 as eim; IPv6 routed with no NAT (the host's own address
# and port), behind the home's stateful firewall: only the flow it opened
# gets in.
map dual "$A" && expect "dual: IPv4 mapped to the router's ($(lab_wan dual))" \
    test "${MIP[0]}" = "$(lab_wan dual)"
A6="[$(lab_ip6 pub)]:3478" B6="[$(lab_ip6 pub)]:3479"
C6="[$(lab_ip6 stranger)]:3478"
if map dual "$A6" "$B6"; then
	expect "dual: IPv6 not translated (${MIP[0]}:${MPORT[0]}, local $LOCAL)" \
	    test "${MIP[0]}" = "[$(lab_ip6 dual)]" -a "${MPORT[0]}" = "$LOCAL" \
	    -a "${MPORT[1]}" = "$LOCAL"
fi
out=$(lab_exec dual "$LABTOOL" filter "$A6" "$B6" "$C6")
expect "dual: IPv6 filtering: $out" \
    test "$out" = "solicited=1 other_port=0 other_host=0"
expect "eim, IPv4 alone: no IPv6 address" \
    test -z "$(lab_exec eim ip -6 addr show scope global)"

lab_verdict
