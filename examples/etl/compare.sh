#!/bin/sh
# compare.sh W1 W2 — distance between two window summaries (roll.sh outputs).
#
# distance = sum over the sensors present in both of |mean1 - mean2|, summed in
# sensor-id order.  Output: one line, the distance with %.6f.
LC_ALL=C; export LC_ALL
exec awk -F',' '
FILENAME == ARGV[1] { if (NF == 2) m[$1] = $2 + 0; next }
NF == 2 && ($1 in m) {
    d = m[$1] - $2
    dist += (d < 0) ? -d : d
}
END { printf "%.6f\n", dist }' "$1" "$2"
