#!/usr/bin/env bash
# Installs the Debian packages treecast needs to build, test and run its
# demo (as root, when any is missing), then configures and builds it in
# place. Idempotent and quiet when everything is already there.
#
#   scripts/setup.sh [--tests] [--deps-only] [CONFIGURE-OPTIONS...]
set -euo pipefail
cd "$(dirname "$0")/.."

# What needs each: gcc/g++ (the UDT shim) and make; autotools; libevent
# (event loops, HTTP); FFmpeg's libraries (media in and out); UDT4 (reliable
# transport over the punched socket); libsodium (credentials, integrity,
# random ids); check (unit tests); libminiupnpc and libnatpmp (port mapping
# at a node's router: UPnP-IGD and NAT-PMP); iproute2, nftables, conntrack, procps,
# curl and jq (the NAT lab and its HTTP and JSON checks); ffmpeg (the bundled
# sample, decode checks); coturn (a second STUN server for the probe's tests and for
# benchmarks: only its binary is used, its service is kept off); miniupnpd
# (the nftables flavour, as the lab's routers use nftables: a real UPnP-IGD,
# NAT-PMP and PCP server in a lab router; its service is kept off too).
PACKAGES=(
	build-essential autoconf automake pkg-config
	libevent-dev libavformat-dev libavcodec-dev libavutil-dev
	libudt-dev libsodium-dev check libminiupnpc-dev libnatpmp-dev
	iproute2 nftables conntrack procps curl jq
	ffmpeg coturn miniupnpd-nftables
)
# Only with --tests: chromium, headless, for the status page's test.
TEST_PACKAGES=(chromium)

if [ "${1:-}" = --tests ]; then
	PACKAGES+=("${TEST_PACKAGES[@]}")
	shift
fi
deps_only=0
if [ "${1:-}" = --deps-only ]; then
	deps_only=1
	shift
fi

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup: missing Debian packages: ${missing[*]}" >&2
		echo "setup: run this as root, or: sudo apt-get install ${missing[*]}" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# coturn's package may start a public TURN service: treecast only
	# runs turnserver itself, in its tests.
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now coturn >/dev/null 2>&1 || true
		systemctl disable --now miniupnpd >/dev/null 2>&1 || true
	fi
fi
[ $deps_only -eq 1 ] && exit 0

if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
	echo "setup: autoreconf"
	autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
fi
if [ ! -f Makefile ] || [ $# -gt 0 ]; then
	echo "setup: configure $*"
	./configure -q "$@"
fi
make -s -j"$(nproc)"
