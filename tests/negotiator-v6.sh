# The negotiator on an IPv4 --listen also listens on IPv6 by default
# ([::]:PORT, IPV6_V6ONLY): a Binding request to [::1] and one to 127.0.0.1
# must each get a Binding success answer (0x0101); --no-listen6 must leave
# the IPv6 one unanswered.
set -eu
NEGOTIATOR=${top_builddir:-.}/treecast-negotiator
port=$((20000 + RANDOM % 20000))
rc=0

# binding HOST: 0 if HOST:port answers a Binding (with SOFTWARE "test").
binding() {
	local type
	exec 3<>"/dev/udp/$1/$port" || return 1
	printf '\x00\x01\x00\x08\x21\x12\xa4\x42abcdefghijkl\x80\x22\x00\x04test' >&3
	type=$(timeout 3 head -c 2 <&3 | od -An -tx1 | tr -d ' \n') || true
	exec 3>&-
	[ "$type" = "0101" ]
}
run() {
	"$NEGOTIATOR" --listen "127.0.0.1:$port" --no-http --stats 0 "$@" &
	pid=$!
	sleep 1
}

run
binding ::1 && echo "PASS: an IPv6 Binding to [::1] is answered" ||
    { echo "FAIL: no answer over IPv6"; rc=1; }
binding 127.0.0.1 && echo "PASS: an IPv4 Binding is answered" ||
    { echo "FAIL: no answer over IPv4"; rc=1; }
kill "$pid"; wait "$pid" || true
run --no-listen6
binding ::1 && { echo "FAIL: --no-listen6 answered over IPv6"; rc=1; } ||
    echo "PASS: --no-listen6 leaves IPv6 unanswered"
kill "$pid"; wait "$pid" || true
exit $rc
