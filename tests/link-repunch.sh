# A link whose punch fails is asked for once more, from the start (a fresh
# socket, a new mapping, a new LINK), and a pair that no punch can join
# then fails cleanly. The lab's seq NAT against its random one cannot be
# punched (both address-and-port-dependent, one unpredictable), and with
# --no-relay the negotiator offers no way around: the initiator must try
# twice, say so, and give up; the negotiator must count two failed
# punches for the pair.
set -eu
. "$top_srcdir/tests/lab/lab.sh"
. "$top_srcdir/tests/lab/link.sh"

lab_init
lab_nego
lab_net a seq
lab_net b random
lab_negotiator --no-relay --http "$N1:8080"
link_accept b b 70001
link_ready b

lab_exec a "$LINK" "$N1" --id 111 --link 70001 --attempts 1 \
    >"$LAB_STATE/link.json" 2>"$LAB_STATE/link.log" || true
sed 's/^/    /' "$LAB_STATE/link.json"
expect "the link fails at the punch" \
    grep -q '"ok":false,"step":"punch"' "$LAB_STATE/link.json"
expect "after asking again with a fresh socket, once" \
    [ "$(grep -c "asking again with a fresh socket" "$LAB_STATE/link.log")" \
    -eq 1 ]
links=$(lab_exec nego curl -sf "http://$N1:8080/api/links" || true)
echo "    /api/links: $(grep -o '"pairs":.*' <<<"$links")"
expect "the negotiator counts two failed punches for the pair" \
    grep -q '"a":"apdm-sequential","b":"apdm-random","attempts":2,"connected":0,[^}]*"failed_punch":2' \
    <<<"$links"
lab_verdict
