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
NEGOTIATOR=$top_builddir/treecast-negotiator
ORIGIN=$top_builddir/treecast-origin
PEER=$top_builddir/treecast-peer
NETS=(eim seq offset eim-np open random seq)

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
lab_bg nego "$LAB_STATE/origin.log" "$ORIGIN" --key "$LAB_STATE/origin.key" \
    --input "$SAMPLE" \
    --negotiator "$N1" --channel lab --loop
sleep 1

pids=()
for ((k = 0; k < ${#NETS[@]}; k++)); do
	lab_bg "p$k" "$LAB_STATE/peer$k.log" "$PEER" --negotiator "$N1" \
	    --channel lab --http 127.0.0.1:8554 --output "$LAB_STATE/peer$k.ts"
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
players=()
for ((k = 0; k < ${#NETS[@]}; k++)); do
	lab_exec "p$k" curl -s -m 20 -o "$LAB_STATE/play$k.ts" \
	    http://127.0.0.1:8554/live.ts &
	players+=("$!")
done
wait "${players[@]}" || true

# Decodes, audio and video, with no error up to the last half second: the
# capture is cut where curl stopped, in the middle of a frame.
decodes() {
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
	[ "$errors" -eq 0 ] && [ "${frames:-0}" -ge 400 ]
}
for ((k = 0; k < ${#NETS[@]}; k++)); do
	expect "peer $k (${NETS[k]}): 20 s of /live.ts that decode" \
	    decodes "$LAB_STATE/play$k.ts"
done

# Same chunks as the origin's: every window's digest.
digests() {
	sed -n 's/.*chunks \([0-9]*-[0-9]*\) digest \([0-9a-f]*\).*/\1 \2/p' "$1"
}
digests "$LAB_STATE/origin.log" | sort >"$LAB_STATE/origin.digests"
same_chunks() {
	local d seen=0 bad=0
	while read -r d; do
		seen=$((seen + 1))
		grep -qxF "$d" "$LAB_STATE/origin.digests" || bad=$((bad + 1))
	done < <(digests "$LAB_STATE/peer$1.log")
	echo "    peer $1: $seen windows of 64 chunks, $bad unlike the origin's"
	[ "$seen" -ge 2 ] && [ "$bad" -eq 0 ]
}
for ((k = 0; k < ${#NETS[@]}; k++)); do
	expect "peer $k (${NETS[k]}): its chunks are the origin's" \
	    same_chunks "$k"
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
