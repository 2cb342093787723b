# Links through the negotiator's broker between every ordered pair of the
# lab's NAT behaviours, 5 attempts each with 100 messages each way: all
# must link (random->random may fail cleanly), punched or relayed.
exec bash "$top_srcdir/tests/lab/link-matrix.sh" --attempts 5
