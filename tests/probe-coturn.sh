# treecast-probe against coturn's STUN server (RFC 5780 mode) from behind
# every NAT of the lab: the same answers as against treecast-negotiator.
PROBE_AGAINST=coturn PROBE_RUNS=${PROBE_RUNS:-3} \
    exec "${BASH:-bash}" "$top_srcdir/tests/probe-lab.sh"
