# Removes one NAT lab: its namespaces (and with them every veth, bridge and
# nft table it made) and the processes running in them.
#
#   reap.sh PID LAB     wait until process PID has ended, then remove LAB
#   reap.sh --now LAB   remove LAB now
set -u
if [ "$1" = --now ]; then
	lab=$2
else
	pid=$1 lab=$2
	trap '' INT TERM HUP
	while kill -0 "$pid" 2>/dev/null; do
		sleep 0.3
	done
fi
case $lab in
tcl*) ;;
*) echo "reap: refusing to remove '$lab'" >&2; exit 2 ;;
esac
for pass in 1 2; do
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$lab-"); do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -z "$pids" ] || kill -9 $pids 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
done
rm -rf "/run/treecast-lab/$lab"
exit 0
