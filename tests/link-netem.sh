# The link matrix again over slow, lossy WAN links: 75 ms each way and 5%
# loss on every router (300 ms of round trip between two NATed hosts), so
# punching, UDT's handshake and the broker's retransmissions are tested.
exec bash "$top_srcdir/tests/lab/link-matrix.sh" --delay 75 --loss 5 \
    --attempts 5
