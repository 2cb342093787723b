#!/usr/bin/env bash
# The bundled sample, made from ffmpeg's test sources rather than committed:
# 10 s of H.264 (640x360, 25 fps, a keyframe every 2 s, 1 Mbit/s: noise on
# the test pattern, which alone would compress to far less) and AAC, in MP4. The demo broadcasts it on a loop; tests/stream-lab.sh too.
#
#   scripts/sample.sh OUT.mp4 [SECONDS] [VIDEO_BITRATE]
set -euo pipefail
out=${1:?usage: scripts/sample.sh OUT.mp4 [SECONDS] [VIDEO_BITRATE]}
secs=${2:-10}
rate=${3:-1M}
command -v ffmpeg >/dev/null ||
    { echo "sample: ffmpeg not found: run scripts/setup.sh" >&2; exit 1; }
ffmpeg -v error -y -f lavfi -i testsrc=size=640x360:rate=25 \
    -f lavfi -i sine=frequency=440:sample_rate=48000 -t "$secs" \
    -c:v libx264 -g 50 -keyint_min 50 -pix_fmt yuv420p -b:v "$rate" \
    -maxrate "$rate" -bufsize "$rate" -vf noise=alls=12:allf=t \
    -c:a aac -shortest "$out"
