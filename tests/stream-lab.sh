# The broadcast in the NAT lab: the negotiator and the origin on the public
# segment, seven peers behind every kind of lab NAT joining one channel (three
# levels: the origin serves two, each peer two more). A player (curl) takes
# 20 s of each peer's HTTP output, /live.ts; each capture must decode with
# libavformat/libavcodec (ffmpeg) with no error before its last, cut-off
# frame. Every window of 64 chunks a peer saw whole must have the digest
# the origin logged for it. Then a peer in the middle of the tree is
# killed: its children must join again and go on with no gap.
set -eu
. "$top_srcdir/tests/lab/lab.sh"
PEER=$top_builddir/treecast-peer
NETS=(eim seq offset eim-np open random seq)

lab_init
lab_need ffmpeg ffprobe
# The bundled sample: H.264 and AAC, 2 s GOP.
lab_sample

lab_nego
lab_nets ${#NETS[@]} "${NETS[@]}"
lab_broadcast --channel lab

# One peer at a time, each registered before the next starts.
pids=()
ids=()
for ((k = 0; k < ${#NETS[@]}; k++)); do
	lab_bg "p$k" "$LAB_STATE/peer$k.log" "$PEER" --negotiator "$N1" \
	    --channel lab --http 127.0.0.1:8554 --output "$LAB_STATE/peer$k.ts"
	pids+=("$!")
	ids+=("$(lab_node_id "$LAB_STATE/peer$k.log")")
done

# Every peer receiving?
receiving() {
	local k
	n=0
	for ((k = 0; k < ${#NETS[@]}; k++)); do
		[ -s "$LAB_STATE/peer$k.ts" ] && n=$((n + 1))
	done
	[ "$n" -eq ${#NETS[@]} ]
}
lab_wait 20 "every peer to receive" receiving || true
expect "all ${#NETS[@]} peers receive the stream" [ "$n" -eq ${#NETS[@]} ]
players=()
for ((k = 0; k < ${#NETS[@]}; k++)); do
	lab_exec "p$k" curl -s -m 20 -o "$LAB_STATE/play$k.ts" \
	    http://127.0.0.1:8554/live.ts &
	players+=("$!")
done
wait "${players[@]}" || true

# Decodes, audio and video, with no error up to the last half second: the
# capture is cut where curl stopped, in the middle of a frame.
for ((k = 0; k < ${#NETS[@]}; k++)); do
	expect "peer $k (${NETS[k]}): 20 s of /live.ts that decode" \
	    lab_decodes "$LAB_STATE/play$k.ts" 400
done

# Same chunks as the origin's: every window's digest.
for ((k = 0; k < ${#NETS[@]}; k++)); do
	expect "peer $k (${NETS[k]}): its chunks are the origin's" \
	    lab_same_chunks "$LAB_STATE/peer$k.log" "peer $k"
done

# Who is in the middle: a peer with children.
mid=
for ((k = 0; k < ${#NETS[@]}; k++)); do
	if grep -q "child .* linked" "$LAB_STATE/peer$k.log"; then
		mid=$k
		break
	fi
done
expect "a peer relays to children" [ -n "$mid" ]
# Its children when it goes: linked to it, not gone since.
orphans=()
if [ -n "$mid" ]; then
	for c in $(awk '$0 ~ /child [0-9a-f]+ linked/ { for (i = 1; i < NF; i++)
	    if ($i == "child") on[$(i + 1)] = 1 }
	    $0 ~ /child [0-9a-f]+ gone/ { for (i = 1; i < NF; i++)
	    if ($i == "child") delete on[$(i + 1)] }
	    END { for (c in on) print c }' "$LAB_STATE/peer$mid.log"); do
		for ((k = 0; k < ${#NETS[@]}; k++)); do
			[ "${ids[k]}" = "$c" ] && orphans+=("$k")
		done
	done
	echo "    peer $mid's children: ${orphans[*]:-none}"
fi
resumes0=()
for ((k = 0; k < ${#NETS[@]}; k++)); do
	resumes0+=("$(grep -c "resuming at chunk" "$LAB_STATE/peer$k.log" ||
	    true)")
done
kill "${pids[mid]}"
# Its children resume from new parents...
resumed() {
	local k
	for k in "${orphans[@]}"; do
		[ "$(grep -c "resuming at chunk" "$LAB_STATE/peer$k.log" ||
		    true)" -gt "${resumes0[k]}" ] || return 1
	done
}
lab_wait 20 "peer $mid's children to resume" resumed || true
# ... and the stream goes on to every peer after that: a chunk missed in
# the repair would show as a gap when the next arrives.
sizes=()
for ((k = 0; k < ${#NETS[@]}; k++)); do
	sizes+=("$(stat -c %s "$LAB_STATE/peer$k.ts")")
done
flowing() {
	local k
	for ((k = 0; k < ${#NETS[@]}; k++)); do
		[ "$k" -eq "$mid" ] ||
		    [ "$(stat -c %s "$LAB_STATE/peer$k.ts")" -gt "${sizes[k]}" ] ||
		    return 1
	done
}
lab_wait 20 "the stream to flow to every peer after the repair" flowing ||
    true
for ((k = 0; k < ${#NETS[@]}; k++)); do
	[ "$k" -eq "$mid" ] && continue
	expect "peer $k (${NETS[k]}): no chunk missed" \
	    eval '! grep -q "gap:" "$LAB_STATE/peer$k.log"'
	if grep -q "lost the parent" "$LAB_STATE/peer$k.log"; then
		expect "peer $k (${NETS[k]}) lost its parent and resumed" \
		    grep -q "resuming at chunk" "$LAB_STATE/peer$k.log"
	fi
done
lab_verdict
