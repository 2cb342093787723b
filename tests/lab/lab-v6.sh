# The NAT lab's IPv6 (sourced by tests/lab/lab.sh, which documents the
# rest):
#
#   lab_public6 NAME              IPv6 for public host NAME too: an address
#                                 on the public segment's 2001:db8::/64 (the
#                                 documentation prefix, RFC 3849)
#   lab_ip6 NAME                  a host's IPv6 address (public, or behind a
#                                 v6: router), or nothing
#
# and the behaviour lab_net takes:
#
#   v6:KIND      dual stack: IPv4 behind a KIND NAT (any of the above but
#                open), and IPv6 routed with no NAT (the home's own /64,
#                2001:db8:IDX::/64) behind the same stateful firewall:
#                established flows in, new inbound dropped
#
# IPv6 is off in every other namespace (lab__nsdefaults).

# IPv6: each host's address, and the routes every IPv6 namespace on the
# public segment gets ("PREFIX via GATEWAY"), for the v6: homes' /64s.
declare -gA LAB_IP6S=()
LAB_V6NS=() LAB_V6ROUTES=()
LAB_PUBLIC_NET6=2001:db8::		# documentation prefix, RFC 3849

# IPv6 in namespace $1, on every interface: enabled, with no duplicate
# address detection, turned off first: a link-local address left tentative
# for its second of DAD holds up neighbour discovery, and the first packets.
lab__v6on() {
	ip netns exec "$1" sh -c 'for f in /proc/sys/net/ipv6/conf/*/accept_dad
	    do echo 0 >"$f"; done
	    for f in /proc/sys/net/ipv6/conf/*/disable_ipv6
	    do echo 0 >"$f"; done'
}

# Namespace $1 joins the public segment's IPv6: it gets every route there
# is, and, with $2 (a prefix) and $3 (its gateway), every other namespace
# gets that one.
lab__v6join() {
	local ns=$1 r n
	for r in "${LAB_V6ROUTES[@]}"; do
		ip -n "$ns" -6 route add $r
	done
	if [ -n "${2:-}" ]; then
		for n in "${LAB_V6NS[@]}"; do
			ip -n "$n" -6 route add "$2" via "$3"
		done
		LAB_V6ROUTES+=("$2 via $3")
	fi
	LAB_V6NS+=("$ns")
}

lab_public6() {
	local name=$1 ns
	ns=$(lab_ns "$name") || exit 1
	[ -z "${LAB_IP6S[$name]:-}" ] || lab_die "host '$name' has IPv6"
	lab__v6on "$ns"
	LAB_IP6S[$name]="${LAB_PUBLIC_NET6}$LAB_NEXT_PUB"
	LAB_NEXT_PUB=$((LAB_NEXT_PUB + 1))
	ip -n "$ns" -6 addr add "${LAB_IP6S[$name]}/64" dev eth0 nodad
	lab__v6join "$ns"
}

# Home network $1's IPv6: its router on the public /64 routes the home's
# own /64 (no NAT), behind the firewall lab__fw made (inet: both
# families); its inside host gets ::2.
lab__v6home() {
	local name=$1 rns=${LAB_ROUTER[$1]} ns=${LAB_HOSTS[$1]} idx wan6
	idx=$(printf %x "${LAB_NETIDX[$name]}")
	wan6="${LAB_PUBLIC_NET6}$LAB_NEXT_PUB"
	LAB_NEXT_PUB=$((LAB_NEXT_PUB + 1))
	lab__v6on "$rns"
	ip netns exec "$rns" sysctl -qw net.ipv6.conf.all.forwarding=1
	ip -n "$rns" -6 addr add "$wan6/64" dev wan nodad
	ip -n "$rns" -6 addr add "2001:db8:$idx::1/64" dev lan nodad
	lab__v6on "$ns"
	LAB_IP6S[$name]="2001:db8:$idx::2"
	ip -n "$ns" -6 addr add "${LAB_IP6S[$name]}/64" dev eth0 nodad
	ip -n "$ns" -6 route add default via "2001:db8:$idx::1"
	lab__v6join "$rns" "2001:db8:$idx::/64" "$wan6"
}

lab_ip6() {
	echo "${LAB_IP6S[$1]:-}"
}
