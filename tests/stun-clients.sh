# Standard STUN clients against treecast-negotiator, from a host behind an
# endpoint-independent NAT of the lab, with the negotiator's default policy
# for unauthenticated answers: coturn's turnutils_stunclient (a bare
# 20-byte Binding request) and WebRTC in headless Chromium (ICE gathering
# with the negotiator as its only STUN server, tests/webrtc-stun.html)
# must each get the router's WAN address as their server-reflexive
# address; /api/stats must count their Bindings answered and nothing
# dropped for size or budget.
set -eu
. "$top_srcdir/tests/lab/lab.sh"
NEGOTIATOR=$top_builddir/treecast-negotiator
PAGE=$(cd "$top_srcdir/tests" && pwd)/webrtc-stun.html

lab_init
command -v turnutils_stunclient >/dev/null ||
    lab_die "turnutils_stunclient not found: run scripts/setup.sh (Debian: coturn)"
lab_chromium

lab_public nego 1
lab_net home eim
N1=$(lab_ip nego 1)
WAN=$(lab_wan home)
lab_bg nego "$LAB_STATE/negotiator.log" "$NEGOTIATOR" --listen "$N1:3478" \
    --http 127.0.0.1:8080 --stats 0 --log-level debug

stats() {
	lab_exec nego curl -sf -m 5 http://127.0.0.1:8080/api/stats
}
lab_wait 10 "/api/stats" eval 'stats >/dev/null 2>&1' || true
expect "the negotiator serves /api/stats" eval 'stats >/dev/null'

# (a) turnutils_stunclient: "0: : IPv4. UDP reflexive addr: IP:PORT".
out=$(lab_exec home timeout 30 turnutils_stunclient -p 3478 "$N1" 2>&1) || true
echo "$out" | sed 's/^/    /'
got=$(sed -n 's/.*UDP reflexive addr: \([0-9.]*\):[0-9]*.*/\1/p' <<<"$out" |
    head -1)
if [ "$got" = "$WAN" ]; then
	pass "turnutils_stunclient: reflexive address $got, the router's WAN"
else
	fail "turnutils_stunclient: reflexive address '${got}', want $WAN"
fi
bindings=$(json_get binding "$(stats)")
[ "${bindings:-0}" -ge 1 ] && pass "Bindings answered: $bindings" ||
    fail "Bindings answered: ${bindings:-none}"

# (b) WebRTC: the page, in Chromium on the host behind the NAT, writes its
# candidates into its DOM (title included), which DevTools' /json/list
# shows while it runs: virtual time (--dump-dom --virtual-time-budget)
# runs past real network exchanges.
profile=$LAB_STATE/chromium
rm -rf "$profile"
mkdir -p "$profile"
lab_bg home "$LAB_STATE/chromium.log" "$CHROMIUM" --headless --no-sandbox \
    --disable-gpu --no-first-run --disable-background-networking \
    --disable-features=WebRtcHideLocalIpsWithMdns --user-data-dir="$profile" \
    --remote-debugging-port=0 "file://$PAGE#$N1:3478"
chromium_pid=$!
title=
# The page's title, once it says how ICE gathering ended.
page_done() {
	[ -s "$profile/DevToolsActivePort" ] || return 1
	port=$(head -1 "$profile/DevToolsActivePort")
	title=$(lab_exec home curl -sf -m 5 \
	    "http://127.0.0.1:$port/json/list" 2>/dev/null |
	    sed -n 's/.*"title": "\(\(done\|timeout\|error\)[^"]*\)".*/\1/p' |
	    head -1) || true
	[ -n "$title" ]
}
lab_wait 60 "the page to finish ICE gathering" page_done || true
kill "$chromium_pid" 2>/dev/null || true
echo "    page: ${title:-nothing (see $LAB_STATE/chromium.log)}"
case $title in
done*) pass "WebRTC: ICE gathering completed" ;;
*) fail "WebRTC: ICE gathering did not complete: '${title}'" ;;
esac
srflx=$(sed -n 's/.* srflx=\([^ ]*\) .*/\1/p' <<<"$title")
first=${srflx%%,*}
if [ -n "$first" ] && [ "${first%:*}" = "$WAN" ]; then
	pass "WebRTC: server-reflexive candidate $first, the router's WAN"
else
	fail "WebRTC: server-reflexive candidates '${srflx}', want $WAN:PORT"
fi
for c in ${srflx//,/ }; do
	[ "${c%:*}" = "$WAN" ] ||
	    fail "WebRTC: server-reflexive candidate $c is not behind $WAN"
done

st=$(stats)
now=$(json_get binding "$st")
[ "${now:-0}" -gt "${bindings:-0}" ] &&
    pass "Chromium's Bindings answered too: $((now - bindings))" ||
    fail "no Binding from Chromium answered ($bindings, then ${now:-none})"
for c in drop_amplify drop_unauth_rate; do
	[ "$(json_get "$c" "$st")" = 0 ] && pass "$c: 0" ||
	    fail "$c: $(json_get "$c" "$st")"
done

if [ "$LAB_FAILURES" -ne 0 ]; then
	echo "--- negotiator log (tail)"
	tail -20 "$LAB_STATE/negotiator.log"
	echo "--- chromium log (tail)"
	tail -10 "$LAB_STATE/chromium.log"
fi
lab_verdict
