# The broadcast in the NAT lab: the negotiator and the origin on the public
# segment, seven peers behind different NATs joining one channel (three
# levels: the origin serves two, each peer two more). Every peer writes
# what it plays to a file; after 20 s of stream each file must decode with
# libavformat/libavcodec (ffmpeg) with no error before its last, cut-off
# frame, and no peer may have missed a chunk. Then a peer in the middle of
# the tree is killed: its children must join again and go on with no gap.
set -eu
. "$top_srcdir/tests/lab/lab.sh"
NEGOTIATOR=$top_builddir/treecast-negotiator
ORIGIN=$top_builddir/treecast-origin
PEER=$top_builddir/treecast-peer
NETS=(eim seq offset eim-np open eim seq)

lab_init
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null ||
    lab_die "ffmpeg not found: run scripts/setup.sh (Debian: ffmpeg)"
# The bundled sample: H.264 and AAC, 2 s GOP.
SAMPLE=$LAB_STATE/sample.mp4
bash "$top_srcdir/scripts/sample.sh" "$SAMPLE"

lab_public nego 2
N1=$(lab_ip nego 1)
for ((k = 0; k < ${#NETS[@]}; k++)); do
	lab_net "p$k" "${NETS[k]}"
done
lab_bg nego "$LAB_STATE/negotiator.log" "$NEGOTIATOR" --listen "$N1:3478" \
    --alt-address "$(lab_ip nego 2)" --http "$N1:8080" --log-level info
sleep 0.5
lab_bg nego "$LAB_STATE/origin.log" "$ORIGIN" --input "$SAMPLE" \
    --negotiator "$N1" --channel lab --loop
sleep 1

pids=()
for ((k = 0; k < ${#NETS[@]}; k++)); do
	lab_bg "p$k" "$LAB_STATE/peer$k.log" "$PEER" --negotiator "$N1" \
	    --channel lab --no-http --output "$LAB_STATE/peer$k.ts"
	pids+=("$!")
	sleep 0.3
done

# Every peer receiving?
for ((i = 0; i < 100; i++)); do
	n=0
	for ((k = 0; k < ${#NETS[@]}; k++)); do
		[ -s "$LAB_STATE/peer$k.ts" ] && n=$((n + 1))
	done
	[ "$n" -eq ${#NETS[@]} ] && break
	sleep 0.2
done
expect "all ${#NETS[@]} peers receive the stream" [ "$n" -eq ${#NETS[@]} ]
sleep 20

# Decodes: an error only in the last frame (the capture is cut mid-frame).
decodes() {
	local errors frames
	errors=$(ffmpeg -v error -i "$1" -f null - 2>&1 | grep -c . || true)
	frames=$(ffprobe -v error -count_frames -select_streams v:0 \
	    -show_entries stream=nb_read_frames -of csv=p=0 "$1" |
	    head -1 | tr -dc 0-9)
	[ "$errors" -le 1 ] && [ "${frames:-0}" -ge 400 ]
}
for ((k = 0; k < ${#NETS[@]}; k++)); do
	expect "peer $k (${NETS[k]}): 20 s that decode" \
	    decodes "$LAB_STATE/peer$k.ts"
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
kill "${pids[mid]}"
sleep 8
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
