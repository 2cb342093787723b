# treecast NAT lab: real NAT behaviour in Linux network namespaces.
#
# Source this file from a bash test, then:
#
#   lab_init                      unique names, teardown on every exit path
#   lab_public NAME [NADDR]       a host on the public segment (NADDR = 1 or 2
#                                 addresses, for RFC 5780's second address)
#   lab_net NAME BEHAVIOUR [--delay MS] [--loss PCT] [--rate KBIT]
#                                 a home network: a router doing BEHAVIOUR and
#                                 one inside host, also called NAME; --delay
#                                 and --loss make its WAN link slow and lossy
#                                 (each way: a flow through it gains 2*MS of
#                                 RTT), --rate limits its upload (the WAN
#                                 link out of the router) to KBIT kbit/s, with
#                                 100 ms of queue and drops beyond it. netem
#                                 is not in these machines' kernels, so a
#                                 labwire process (TAP devices) is that link.
#   lab_cgn NAME [--hairpin]      a carrier-grade NAT (RFC 6888): a carrier
#                                 router on the public segment with a carrier
#                                 LAN in 100.64.0.0/10 (RFC 6598), mapping
#                                 endpoint-independently, ports not
#                                 preserved (10000-19999), with a home
#                                 router's firewall. --hairpin: deterministic
#                                 (RFC 7422), each home router a block of
#                                 5000 ports that its ports 40000-44999 (its
#                                 inside hosts' ephemeral ports) map into one
#                                 to one, so that a packet from the carrier
#                                 LAN to the CGN's address and a mapped port
#                                 goes to that mapping's owner, from the
#                                 sender's mapping (up to 8 homes)
#   lab_net NAME BEHAVIOUR --portmap upnp|natpmp
#                                 a router that also maps ports on request:
#                                 a real miniupnpd (miniupnpd-nftables) in
#                                 its namespace, serving UPnP-IGD, or
#                                 NAT-PMP and PCP (one switch in
#                                 miniupnpd), to its LAN; its log is
#                                 $LAB_STATE/NAME-miniupnpd.log
#   lab_net NAME BEHAVIOUR --behind CGN
#                                 a home network whose router's WAN is on
#                                 CGN's carrier LAN: double NAT
#   lab_host NET NAME             one more inside host behind NET's router
#   lab_ip NAME [N]               a host's (Nth) address
#   lab_public6 NAME, lab_ip6 NAME  IPv6 (tests/lab/lab-v6.sh)
#   lab_wan NET                   the public address of NET's router (of
#                                 its CGN, behind one; of a CGN, its own)
#   lab_wan_inner NET             the WAN address of NET's router itself:
#                                 behind a CGN, its 100.64 carrier address
#   lab_cgn_port NET PORT         behind a hairpinning CGN, the CGN's port
#                                 for NET's router's port PORT
#   lab_ns NAME                   a host's namespace name
#   lab_exec NAME CMD...          run CMD on host NAME (its command prefix is
#                                 "ip netns exec $(lab_ns NAME)")
#   lab_bg NAME LOG CMD...        run CMD on NAME in the background, output
#                                 to LOG; the teardown kills it
#   lab_flush NET                 forget NET's (or a CGN's) conntrack state
#   lab_down                      tear everything down (also done at exit)
#
# and, to wait for something rather than sleep:
#
#   lab_wait SECONDS WHAT CMD...  poll CMD every 0.2 s until it succeeds;
#                                 after SECONDS, say "timed out waiting
#                                 for WHAT" and fail
#   lab_listening NAME PORT [tcp] a socket on host NAME bound to PORT (udp)
#   lab_ready LOG [SECONDS]       wait (30 s) for linktool's "ready" in LOG
#
# the broadcast every stream test starts (treecast's own daemons):
#
#   lab_need CMD...               lab_die unless every CMD is installed
#   lab_sample [SECS [RATE]]      the bundled sample, $SAMPLE
#   lab_nego                      the public host "nego", two addresses
#                                 (RFC 5780); sets N1, its first
#   lab_nets N KIND...            N home networks p0, p1, ... with the
#                                 behaviours KIND... in turn (LAB_KINDS[k]
#                                 is pk's)
#   lab_negotiator [ARG...]       treecast-negotiator on nego, $N1:3478,
#                                 log $LAB_STATE/negotiator.log (or
#                                 $LAB_NEGO_LOG), with ARGs; returns once
#                                 it listens, its pid in LAB_NEGO_PID
#   lab_broadcast [ARG...]        lab_negotiator with its status page on
#                                 $N1:8080, then treecast-origin on nego
#                                 feeding $SAMPLE in a loop, with ARGs
#                                 (--channel, --fanout), log
#                                 $LAB_STATE/origin.log; returns once both
#                                 are up and the origin registered
#   lab_origin [ARG...]           that origin alone (lab_broadcast's second
#                                 half), once the negotiator runs; its pid
#                                 in LAB_ORIGIN_PID
#   lab_stop PID...               kill them, and wait (10 s) until they end
#   lab_chromium                  sets CHROMIUM, the browser, or lab_die
#   lab_node_id LOG               the node id a peer (or origin) LOG says
#                                 it registered as, waiting up to 10 s
#   lab_decodes FILE MINFRAMES    FILE, a capture of /live.ts cut where the
#                                 player stopped, decodes (ffmpeg) with no
#                                 error up to its last half second and has
#                                 MINFRAMES video frames or more
#   lab_same_chunks LOG NAME      every window of chunks LOG's peer saw
#                                 has the digest the origin logged for it
#   jqe ARG...                    jq -e, quiet: a test of a JSON document
#
# and, for the verdicts of a test:
#
#   pass WHAT / fail WHAT         count a check and print "ok:" or "FAIL:"
#   expect WHAT COMMAND...        pass or fail as COMMAND succeeds
#   lab_verdict                   print "N passed, N failed"; false if any
#   json_get KEY JSON             a string or number field of a flat object
#
# BEHAVIOUR is one of (DESIGN.md, "The NAT lab"):
#   open         no NAT, no firewall: the host sits on the public segment
#   eim          endpoint-independent mapping, port preserved   (masquerade)
#   offset[:K]   endpoint-independent, external = internal + K   (K = 1000)
#   eim-np       endpoint-independent, port not preserved (20000-30000)
#   seq          address-and-port-dependent, each new flow +1 from 20000
#   random       address-and-port-dependent, random ports (fully-random)
#   v6:KIND      dual stack: KIND's IPv4 NAT, and IPv6 (tests/lab/lab-v6.sh)
# Every router drops unsolicited input on its WAN side and forwards only
# established flows inward, as home routers do; conntrack filters by address
# and port whatever the mapping.
#
# Nothing is made in the caller's namespace: the public segment is a bridge
# in a namespace of its own, and every veth is created directly inside the
# namespaces it joins, so deleting this lab's namespaces removes every
# interface and nft table it made. A reaper process outside the test's
# session does that even when the test is killed with SIGKILL.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_BIN=${LAB_BIN:-${top_builddir:-$LAB_DIR/../..}/tests/lab}
LAB_PUBLIC_NET=198.51.100		# TEST-NET-2, only inside the lab
. "$LAB_DIR/lab-v6.sh"	# IPv6: lab_public6, lab_ip6, lab_net v6:KIND
LAB_EPHEMERAL="40000 59999"		# inside hosts' ephemeral ports
LAB_OFFSET_K=1000
LAB_SEQ_BASE=20000
LAB_SEQ_N=2000
LAB_CGN_PORTS=10000-19999		# apart from every home NAT's ports
# A hairpinning CGN's subscriber n (from 0) has block LAB_CGN_BLOCK0 +
# n * LAB_CGN_BLOCK: its home router's ports 40000-44999 (its inside
# hosts' ephemeral ports) map one to one into it, anything else into
# LAB_CGN_SPARE.
LAB_CGN_BLOCK0=10000
LAB_CGN_BLOCK=5000
LAB_CGN_SUBS=8
LAB_CGN_SPARE=60000-65535

declare -gA LAB_IPS=() LAB_WANS=() LAB_ROUTER=() LAB_NETIDX=() LAB_HOSTS=()
declare -gA LAB_INNER=() LAB_CGNS=() LAB_CGNIDX=() LAB_CGNNEXT=()
declare -gA LAB_CGNHAIR=() LAB_NETEPH=() LAB_CGNSUB=()
LAB=
LAB_NEXT_PUB=10
LAB_NEXT_NET=1
LAB_NEXT_PLUG=1
LAB_NEXT_CGN=1

lab_die() {
	echo "lab: $*" >&2
	exit 1
}

# Fails a test that cannot build a lab: skip (77) when not root, except in
# CI, where the lab tests must run for real.
lab_require() {
	local t
	if [ "$(id -u)" -ne 0 ]; then
		if [ -n "${CI:-}" ]; then
			echo "lab: the NAT lab needs root, and CI must run it" >&2
			exit 99
		fi
		echo "lab: skipped: the NAT lab needs root" >&2
		exit 77
	fi
	for t in ip nft conntrack; do
		command -v "$t" >/dev/null ||
		    lab_die "'$t' not found: run scripts/setup.sh (Debian: iproute2 nftables conntrack)"
	done
}

lab_init() {
	lab_require
	LAB=tcl$$r$RANDOM
	LAB_STATE=/run/treecast-lab/$LAB
	mkdir -p "$LAB_STATE"
	trap 'lab__exit' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	# The reaper outlives a killed test: it waits for this shell to end,
	# then removes whatever is left of this lab.
	setsid "${BASH:-bash}" "$LAB_DIR/reap.sh" "$$" "$LAB" \
	    </dev/null >/dev/null 2>&1 &
	echo $! >"$LAB_STATE/reaper"
	disown $!	# a test's "wait" must not wait for it

	ip netns add "$LAB-sw" || lab_die "cannot create namespace $LAB-sw"
	lab__nsdefaults "$LAB-sw"
	ip -n "$LAB-sw" link add br0 type bridge
	ip -n "$LAB-sw" link set br0 up
}

lab__exit() {
	local rc=$?
	trap - EXIT INT TERM HUP
	lab_down
	exit $rc
}

lab_down() {
	[ -n "$LAB" ] || return 0
	bash "$LAB_DIR/reap.sh" --now "$LAB"
	LAB=
}

lab__nsdefaults() {
	ip -n "$1" link set lo up
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
	    net.ipv6.conf.default.disable_ipv6=1
}

# Connects a new interface in namespace $1 (named $2) to a bridge, br0 of
# the public segment or bridge $4 in namespace $3: a veth pair, or with
# WIRE_OPTS (--delay MS --loss PCT --rate KBIT) a labwire process, whose
# --rate limits what leaves $1.
lab__plug() {
	local ns=$1 ifname=$2 sw=${3:-$LAB-sw} br=${4:-br0} port=p$LAB_NEXT_PLUG i
	LAB_NEXT_PLUG=$((LAB_NEXT_PLUG + 1))
	if [ -n "${WIRE_OPTS:-}" ]; then
		[ -x "$LAB_BIN/labwire" ] || lab_die "$LAB_BIN/labwire not built (make check builds it)"
		"$LAB_BIN/labwire" "$ns" "$ifname" "$sw" "$port" $WIRE_OPTS \
		    >"$LAB_STATE/wire-$port.log" 2>&1 </dev/null &
		disown $!
		for ((i = 0; i < 100; i++)); do
			grep -q ready "$LAB_STATE/wire-$port.log" 2>/dev/null && break
			kill -0 $! 2>/dev/null || break
			sleep 0.05
		done
		grep -q ready "$LAB_STATE/wire-$port.log" ||
		    lab_die "labwire failed: $(cat "$LAB_STATE/wire-$port.log")"
	else
		ip link add "$ifname" netns "$ns" type veth peer name "$port" \
		    netns "$sw" || lab_die "cannot create veth in $ns"
	fi
	ip -n "$sw" link set "$port" master "$br" up
	ip -n "$ns" link set "$ifname" up
}

lab_public() {
	local name=$1 naddr=${2:-1} ns="$LAB-$1" ip i
	[ -n "$LAB" ] || lab_die "lab_init first"
	[ -z "${LAB_IPS[$name]:-}" ] || lab_die "host '$name' exists"
	ip netns add "$ns" || lab_die "cannot create namespace $ns"
	lab__nsdefaults "$ns"
	lab__plug "$ns" eth0
	LAB_IPS[$name]=
	for ((i = 0; i < naddr; i++)); do
		ip="$LAB_PUBLIC_NET.$LAB_NEXT_PUB"
		LAB_NEXT_PUB=$((LAB_NEXT_PUB + 1))
		ip -n "$ns" addr add "$ip/24" dev eth0
		LAB_IPS[$name]="${LAB_IPS[$name]} $ip"
	done
	LAB_IPS[$name]=${LAB_IPS[$name]# }
	LAB_HOSTS[$name]=$ns
}

# "FROM : FROM+K, ..., TO : TO+K", the elements of an nft map.
lab__map() {
	seq "$1" "$2" | awk -v k="$3" '{ printf "%s%d : %d", (NR > 1 ? ", " : ""), $1, $1 + k }'
}

# The nft postrouting statement for each behaviour.
lab__natrule() {
	local behaviour=$1 wan=$2 k map
	case $behaviour in
	eim)
		echo "oifname \"wan\" masquerade"
		;;
	offset|offset:*)
		k=${behaviour#offset}
		k=${k#:}
		k=${k:-$LAB_OFFSET_K}
		map=$(lab__map "${LAB_EPHEMERAL% *}" "${LAB_EPHEMERAL#* }" "$k")
		echo "oifname \"wan\" meta l4proto udp snat ip to $wan : udp sport map { $map }"
		echo "oifname \"wan\" masquerade"
		;;
	eim-np)
		echo "oifname \"wan\" meta l4proto udp snat ip to $wan:20000-30000"
		echo "oifname \"wan\" masquerade"
		;;
	seq)
		# A bare "numgen inc offset" steps the port by 256 (byte
		# order), hence the explicit map.
		map=$(lab__map 0 $((LAB_SEQ_N - 1)) "$LAB_SEQ_BASE")
		echo "oifname \"wan\" meta l4proto udp snat ip to $wan : numgen inc mod $LAB_SEQ_N map { $map }"
		echo "oifname \"wan\" masquerade"
		;;
	random)
		echo "oifname \"wan\" masquerade fully-random"
		;;
	*)
		lab_die "unknown NAT behaviour '$behaviour' (open, eim, offset[:K], eim-np, seq, random)"
		;;
	esac
}

# A router's firewall, as home routers have: unsolicited input on the WAN
# dropped, only established flows forwarded inward.
lab__fw() {
	echo "table inet fw {"
	echo " chain input { type filter hook input priority 0; policy drop;"
	echo "  ct state established,related accept"
	echo "  meta l4proto ipv6-icmp accept"	# neighbour discovery
	echo "  iifname { \"lo\", \"lan\" } accept"
	echo " }"
	echo " chain forward { type filter hook forward priority 0; policy drop;"
	echo "  ct state established,related accept"
	echo "  iifname \"lan\" accept"
	echo " }"
	echo "}"
}

# A new router namespace $1 with its WAN plugged into the public segment
# (or, with $3, into CGN $3's carrier LAN) at address $2, forwarding, and
# an empty bridge "lan" for its inside.
lab__router() {
	local rns=$1 wan=$2 cgn=${3:-}
	ip netns add "$rns" || lab_die "cannot create namespace $rns"
	lab__nsdefaults "$rns"
	ip netns exec "$rns" sysctl -qw net.ipv4.ip_forward=1
	if [ -n "$cgn" ]; then
		lab__plug "$rns" wan "${LAB_CGNS[$cgn]}" lan
		ip -n "$rns" addr add "$wan/24" dev wan
		ip -n "$rns" route add default via "100.64.${LAB_CGNIDX[$cgn]}.1"
	else
		lab__plug "$rns" wan
		ip -n "$rns" addr add "$wan/24" dev wan
	fi
	ip -n "$rns" link add lan type bridge
}

lab_cgn() {
	local name=$1 hairpin= cidx rns wan
	shift || lab_die "usage: lab_cgn NAME [--hairpin]"
	while [ $# -gt 0 ]; do
		case $1 in
		--hairpin) hairpin=1; shift ;;
		*) lab_die "lab_cgn: unknown option '$1'" ;;
		esac
	done
	[ -n "$LAB" ] || lab_die "lab_init first"
	[ -z "${LAB_CGNS[$name]:-}${LAB_IPS[$name]:-}" ] || lab_die "'$name' exists"
	cidx=$LAB_NEXT_CGN
	LAB_NEXT_CGN=$((LAB_NEXT_CGN + 1))
	rns="$LAB-$name-cgn"
	wan="$LAB_PUBLIC_NET.$LAB_NEXT_PUB"
	LAB_NEXT_PUB=$((LAB_NEXT_PUB + 1))
	WIRE_OPTS= lab__router "$rns" "$wan"
	ip -n "$rns" addr add "100.64.$cidx.1/24" dev lan
	ip -n "$rns" link set lan up
	# Linux's SNAT to a port range is endpoint-independent: a new flow
	# from a source that already has a mapping takes that mapping
	# (nf_nat's find_appropriate_src), whatever its destination.
	# With --hairpin, deterministic (RFC 7422): each subscriber's own
	# rules go into chains "subs" and "hairpin" (lab__cgn_sub), ahead of
	# a fallback range of its own.
	{
		lab__fw
		echo "table ip nat {"
		if [ -n "$hairpin" ]; then
			echo " chain prerouting { type nat hook prerouting priority -100; }"
			echo " chain hairpin { }"
			echo " chain subs { }"
		fi
		echo " chain postrouting { type nat hook postrouting priority 100;"
		if [ -n "$hairpin" ]; then
			echo "  jump hairpin"
			echo "  jump subs"
			echo "  oifname \"wan\" meta l4proto { tcp, udp } snat ip to $wan:$LAB_CGN_SPARE"
		else
			echo "  oifname \"wan\" meta l4proto { tcp, udp } snat ip to $wan:$LAB_CGN_PORTS"
		fi
		echo "  oifname \"wan\" snat ip to $wan"
		echo " }"
		echo "}"
	} >"$LAB_STATE/$name.nft"
	ip netns exec "$rns" nft -f "$LAB_STATE/$name.nft" ||
	    lab_die "nft rejected the CGN rules ($LAB_STATE/$name.nft)"
	LAB_CGNS[$name]=$rns
	LAB_CGNIDX[$name]=$cidx
	LAB_CGNNEXT[$name]=2
	LAB_CGNHAIR[$name]=$hairpin
	LAB_WANS[$name]=$wan
	LAB_INNER[$name]=$wan
}

# The deterministic rules of hairpinning CGN $1 for subscriber $2 (its
# 100.64 address), the $3th (from 0): out of the WAN, its ports 40000-44999
# to the block's; from the carrier LAN to the CGN's address and a port of
# the block, to the subscriber (hairpinning), its source the sender's own
# mapping, as the world sees it (RFC 4787, REQ-9).
lab__cgn_sub() {
	local cgn=$1 sub=$2 n=$3 wan base out in
	wan=${LAB_WANS[$cgn]}
	base=$((LAB_CGN_BLOCK0 + n * LAB_CGN_BLOCK))
	out=$(lab__map 40000 $((40000 + LAB_CGN_BLOCK - 1)) $((base - 40000)))
	in=$(lab__map "$base" $((base + LAB_CGN_BLOCK - 1)) $((40000 - base)))
	{
		echo "add rule ip nat subs oifname \"wan\" ip saddr $sub udp sport 40000-$((40000 + LAB_CGN_BLOCK - 1)) snat ip to $wan : udp sport map { $out }"
		echo "add rule ip nat hairpin oifname \"lan\" ct status dnat ip saddr $sub udp sport 40000-$((40000 + LAB_CGN_BLOCK - 1)) snat ip to $wan : udp sport map { $out }"
		echo "add rule ip nat prerouting iifname \"lan\" ip daddr $wan udp dport $base-$((base + LAB_CGN_BLOCK - 1)) dnat ip to $sub : udp dport map { $in }"
	} >"$LAB_STATE/$cgn-$n.nft"
	ip netns exec "${LAB_CGNS[$cgn]}" nft -f "$LAB_STATE/$cgn-$n.nft" ||
	    lab_die "nft rejected subscriber $sub's rules ($LAB_STATE/$cgn-$n.nft)"
}

lab_net() {
	local name=$1 behaviour=$2 delay= loss= rate= behind= idx rns wan inner
	local WIRE_OPTS v6= portmap=
	case $behaviour in
	v6:open) lab_die "v6:open: an open host's IPv6 is lab_public6's" ;;
	v6:*) v6=1; behaviour=${behaviour#v6:} ;;
	esac
	shift 2 || lab_die "usage: lab_net NAME BEHAVIOUR [--delay MS] [--loss PCT] [--rate KBIT] [--behind CGN]"
	while [ $# -gt 0 ]; do
		case $1 in
		--delay) delay=$2; shift 2 ;;
		--loss) loss=$2; shift 2 ;;
		--rate) rate=$2; shift 2 ;;
		--behind) behind=$2; shift 2 ;;
		--portmap) portmap=$2; shift 2 ;;
		*) lab_die "lab_net: unknown option '$1'" ;;
		esac
	done
	[ -n "$LAB" ] || lab_die "lab_init first"
	if [ "$behaviour" = open ]; then
		[ -z "$delay$loss$rate" ] || lab_die "open hosts have no router to slow down"
		[ -z "$behind" ] || lab_die "an open host has no router to put behind a CGN"
		lab_public "$name"
		return
	fi
	[ -z "$behind" ] || [ -n "${LAB_CGNS[$behind]:-}" ] ||
	    lab_die "no CGN '$behind' (lab_cgn first)"
	lab__natrule "$behaviour" 0.0.0.0 >/dev/null	# validate first
	idx=$LAB_NEXT_NET
	LAB_NEXT_NET=$((LAB_NEXT_NET + 1))
	rns="$LAB-$name-r"
	if [ -n "$behind" ]; then
		inner="100.64.${LAB_CGNIDX[$behind]}.${LAB_CGNNEXT[$behind]}"
		LAB_CGNNEXT[$behind]=$((LAB_CGNNEXT[$behind] + 1))
		wan=${LAB_WANS[$behind]}
		if [ -n "${LAB_CGNHAIR[$behind]}" ]; then
			[ $((LAB_CGNNEXT[$behind] - 3)) -lt "$LAB_CGN_SUBS" ] ||
			    lab_die "CGN '$behind' has room for $LAB_CGN_SUBS subscribers"
			LAB_NETEPH[$name]="40000 $((40000 + LAB_CGN_BLOCK - 1))"
		fi
	else
		inner="$LAB_PUBLIC_NET.$LAB_NEXT_PUB"
		LAB_NEXT_PUB=$((LAB_NEXT_PUB + 1))
		wan=$inner
	fi
	WIRE_OPTS="${delay:+--delay $delay} ${loss:+--loss $loss} ${rate:+--rate $rate}"
	WIRE_OPTS=$(echo $WIRE_OPTS)	# no spaces at the ends, none doubled
	lab__router "$rns" "$inner" "$behind"
	ip -n "$rns" addr add "10.$idx.0.1/24" dev lan
	ip -n "$rns" link set lan up
	{
		lab__fw
		echo "table ip nat {"
		echo " chain postrouting { type nat hook postrouting priority 100;"
		lab__natrule "$behaviour" "$inner"
		echo " }"
		echo "}"
	} >"$LAB_STATE/$name.nft"
	ip netns exec "$rns" nft -f "$LAB_STATE/$name.nft" ||
	    lab_die "nft rejected the rules for '$behaviour' ($LAB_STATE/$name.nft)"
	if [ -n "$behind" ] && [ -n "${LAB_CGNHAIR[$behind]}" ]; then
		LAB_CGNSUB[$name]=$((LAB_CGNNEXT[$behind] - 3))
		lab__cgn_sub "$behind" "$inner" "${LAB_CGNSUB[$name]}"
	fi
	LAB_ROUTER[$name]=$rns
	LAB_WANS[$name]=$wan
	LAB_INNER[$name]=$inner
	LAB_NETIDX[$name]=$idx
	[ -z "$portmap" ] || lab__miniupnpd "$name" "$portmap"
	lab_host "$name" "$name"
	[ -z "$v6" ] || lab__v6home "$name"
}

# miniupnpd in NET's router, mapping with METHOD (upnp, or natpmp: NAT-PMP
# and PCP). Its nftables chains (the names it uses by default) sit in a
# table of their own; the router's firewall forwards what they DNAT. The
# lab's public segment is TEST-NET-2, which miniupnpd will not take as an
# external address, so it is told one (ext_ip; nothing routes it): a
# mapping's port is what counts, on the address the negotiator sees.
lab__miniupnpd() {
	local net=$1 method=$2 rns=${LAB_ROUTER[$1]} conf log upnp=no pmp=no
	local idx=${LAB_NETIDX[$1]}
	case $method in
	upnp) upnp=yes ;;
	natpmp) pmp=yes ;;
	*) lab_die "lab_net --portmap: upnp or natpmp, not '$method'" ;;
	esac
	command -v miniupnpd >/dev/null ||
	    lab_die "miniupnpd not found: run scripts/setup.sh (Debian: miniupnpd-nftables)"
	conf=$LAB_STATE/$net-miniupnpd.conf log=$LAB_STATE/$net-miniupnpd.log
	ip netns exec "$rns" nft -f - <<-EOF || lab_die "nft rejected miniupnpd's chains"
	table inet filter {
	 chain forward { type filter hook forward priority 0; jump miniupnpd; }
	 chain miniupnpd { }
	 chain prerouting { type nat hook prerouting priority -100; jump prerouting_miniupnpd; }
	 chain postrouting { type nat hook postrouting priority 99; jump postrouting_miniupnpd; }
	 chain prerouting_miniupnpd { }
	 chain postrouting_miniupnpd { }
	}
	add rule inet fw forward ct status dnat accept
	EOF
	cat >"$conf" <<-EOF
	ext_ifname=wan
	ext_ip=11.0.$idx.1
	listening_ip=lan
	http_port=0
	enable_upnp=$upnp
	enable_natpmp=$pmp
	secure_mode=yes
	system_uptime=no
	min_lifetime=30
	lease_file=$LAB_STATE/$net-miniupnpd.leases
	uuid=3d3cec3a-8cf0-11e0-98ee-$(printf %012d "$idx")
	allow 1024-65535 10.$idx.0.0/24 1024-65535
	deny 0-65535 0.0.0.0/0 0-65535
	EOF
	ip netns exec "$rns" miniupnpd -d -f "$conf" -P "$LAB_STATE/$net-miniupnpd.pid" \
	    >"$log" 2>&1 </dev/null &
	disown $!
	lab_wait 10 "miniupnpd in $net" grep -sqE "HTTP listening|Listening for NAT-PMP" "$log"
}

lab_host() {
	local net=$1 name=$2 rns ns idx n port
	rns=${LAB_ROUTER[$net]:-}
	[ -n "$rns" ] || lab_die "no NATed network '$net'"
	[ -z "${LAB_IPS[$name]:-}" ] || lab_die "host '$name' exists"
	idx=${LAB_NETIDX[$net]}
	ns="$LAB-$name"
	ip netns add "$ns" || lab_die "cannot create namespace $ns"
	lab__nsdefaults "$ns"
	n=$(($(ip -n "$rns" -o link show master lan | wc -l) + 2))
	port=h$n
	ip link add eth0 netns "$ns" type veth peer name "$port" netns "$rns" ||
	    lab_die "cannot create veth for $name"
	ip -n "$rns" link set "$port" master lan up
	ip -n "$ns" addr add "10.$idx.0.$n/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via "10.$idx.0.1"
	ip netns exec "$ns" sysctl -qw \
	    net.ipv4.ip_local_port_range="${LAB_NETEPH[$net]:-$LAB_EPHEMERAL}"
	LAB_IPS[$name]="10.$idx.0.$n"
	LAB_HOSTS[$name]=$ns
}

lab_ns() {
	[ -n "${LAB_HOSTS[$1]:-}" ] || lab_die "no host '$1'"
	echo "${LAB_HOSTS[$1]}"
}

lab_ip() {
	local ips
	[ -n "${LAB_IPS[$1]:-}" ] || lab_die "no host '$1'"
	read -ra ips <<<"${LAB_IPS[$1]}"
	echo "${ips[$((${2:-1} - 1))]}"
}

lab_wan() {
	if [ -n "${LAB_WANS[$1]:-}" ]; then
		echo "${LAB_WANS[$1]}"
	else
		lab_ip "$1"	# an open host is its own public address
	fi
}

lab_cgn_port() {
	[ -n "${LAB_CGNSUB[$1]:-}" ] || lab_die "'$1' is not behind a hairpinning CGN"
	[ "$2" -ge 40000 ] && [ "$2" -lt $((40000 + LAB_CGN_BLOCK)) ] ||
	    lab_die "port $2 is not in the CGN's deterministic range"
	echo $((LAB_CGN_BLOCK0 + LAB_CGNSUB[$1] * LAB_CGN_BLOCK + $2 - 40000))
}

lab_wan_inner() {
	if [ -n "${LAB_INNER[$1]:-}" ]; then
		echo "${LAB_INNER[$1]}"
	else
		lab_ip "$1"
	fi
}

lab_exec() {
	local ns
	ns=$(lab_ns "$1") || exit 1
	shift
	ip netns exec "$ns" "$@"
}

lab_bg() {
	local ns log=$2
	ns=$(lab_ns "$1") || exit 1
	shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	disown $!
}

lab_flush() {
	local rns=${LAB_ROUTER[$1]:-${LAB_CGNS[$1]:-}}
	[ -n "$rns" ] || return 0
	ip netns exec "$rns" conntrack -F >/dev/null 2>&1 || true
}

# Test verdicts, counted.
LAB_CHECKS=0
LAB_FAILURES=0

pass() {
	LAB_CHECKS=$((LAB_CHECKS + 1))
	echo "ok: $*"
}

fail() {
	LAB_CHECKS=$((LAB_CHECKS + 1))
	LAB_FAILURES=$((LAB_FAILURES + 1))
	echo "FAIL: $*"
}

expect() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

lab_verdict() {
	echo "$((LAB_CHECKS - LAB_FAILURES)) passed, $LAB_FAILURES failed"
	[ "$LAB_FAILURES" -eq 0 ]
}

json_get() {
	sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\)\"\{0,1\}[,}].*/\1/p" <<<"$2" | head -1
}

lab_wait() {
	local secs=$1 what=$2 i
	shift 2
	for ((i = 0; i < secs * 5; i++)); do
		"$@" && return 0
		sleep 0.2
	done
	"$@" && return 0
	echo "lab: timed out after $secs s waiting for $what" >&2
	return 1
}

lab_listening() {
	[ -n "$(lab_exec "$1" ss -Hln"$([ "${3:-udp}" = tcp ] && echo t ||
	    echo u)" "sport = :$2")" ]
}

lab_ready() {
	lab_wait "${2:-30}" "linktool to be ready ($1)" \
	    grep -qs "linktool: ready" "$1"
}

lab_need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null ||
		    lab_die "$c not found: run scripts/setup.sh"
	done
}

lab_chromium() {
	CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
	[ -n "$CHROMIUM" ] ||
	    lab_die "chromium not found: run scripts/setup.sh (Debian: chromium)"
}

lab_sample() {
	SAMPLE=$LAB_STATE/sample.mp4
	bash "$top_srcdir/scripts/sample.sh" "$SAMPLE" "$@"
}

lab_nego() {
	lab_public nego 2
	N1=$(lab_ip nego 1)
}

lab_nets() {
	local n=$1 k
	shift
	LAB_KINDS=()
	for ((k = 0; k < n; k++)); do
		LAB_KINDS+=("${@:$((k % $# + 1)):1}")
		lab_net "p$k" "${LAB_KINDS[k]}"
	done
}

lab_negotiator() {
	local log=${LAB_NEGO_LOG:-$LAB_STATE/negotiator.log}
	lab_bg nego "$log" "$top_builddir/treecast-negotiator" \
	    --listen "$N1:3478" --alt-address "$(lab_ip nego 2)" "$@"
	LAB_NEGO_PID=$!
	lab_wait 10 "the negotiator to listen on $N1:3478" \
	    lab_listening nego 3478 ||
	    lab_die "the negotiator did not start: $(tail -5 "$log")"
}

lab_broadcast() {
	lab_negotiator --http "$N1:8080" --log-level info
	lab_wait 10 "the status page on $N1:8080" \
	    lab_listening nego 8080 tcp || lab_die "no status page"
	lab_origin "$@"
}

lab_origin() {
	lab_bg nego "$LAB_STATE/origin.log" "$top_builddir/treecast-origin" \
	    --key "$LAB_STATE/origin.key" --input "$SAMPLE" \
	    --negotiator "$N1" --loop "$@"
	LAB_ORIGIN_PID=$!
	lab_wait 10 "the origin to register" \
	    grep -qs "registered as node" "$LAB_STATE/origin.log" ||
	    lab_die "the origin did not register: $(tail -5 \
	    "$LAB_STATE/origin.log")"
}

lab__gone() {
	local p
	for p in "$@"; do
		! kill -0 "$p" 2>/dev/null || return 1
	done
}

lab_stop() {
	kill "$@" 2>/dev/null || true
	lab_wait 10 "processes $* to end" lab__gone "$@" || true
}

lab__node_id() {
	LAB__ID=$(sed -n 's/.*registered as node \([0-9a-f]*\).*/\1/p' \
	    "$1" 2>/dev/null | tail -1)
	[ -n "$LAB__ID" ]
}

lab_node_id() {
	LAB__ID=
	lab_wait 10 "a node id in $1" lab__node_id "$1" || true
	echo "$LAB__ID"
}

lab_decodes() {
	local errors frames dur
	dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 \
	    "$1" | head -1)
	frames=$(ffprobe -v error -count_frames -select_streams v:0 \
	    -show_entries stream=nb_read_frames -of csv=p=0 "$1" |
	    head -1 | tr -dc 0-9)
	errors=$(ffmpeg -v error -i "$1" -t "$(awk -v d="${dur:-0}" \
	    'BEGIN { print d - 0.5 }')" -f null - 2>&1 | grep -c . || true)
	echo "    $(basename "$1"): $(stat -c %s "$1" 2>/dev/null || echo no)" \
	    "bytes, ${dur:-0} s, ${frames:-0} frames, $errors decode errors"
	[ "$errors" -eq 0 ] && [ "${frames:-0}" -ge "$2" ]
}

# "FIRST-LAST DIGEST" for each window of chunks a log gives.
lab__digests() {
	sed -n 's/.*chunks \([0-9]*-[0-9]*\) digest \([0-9a-f]*\).*/\1 \2/p' "$1"
}

lab_same_chunks() {
	local d seen=0 bad=0
	lab__digests "$LAB_STATE/origin.log" | sort >"$LAB_STATE/origin.digests"
	while read -r d; do
		seen=$((seen + 1))
		grep -qxF "$d" "$LAB_STATE/origin.digests" || bad=$((bad + 1))
	done < <(lab__digests "$1")
	echo "    $2: $seen windows of 64 chunks, $bad unlike the origin's"
	[ "$seen" -ge 2 ] && [ "$bad" -eq 0 ]
}

jqe() {
	jq -e "$@" >/dev/null
}
