#!/bin/sh
# best.sh F1 F2 … — the best (smallest) of many compare.sh distances.
#
# Each input holds one distance line.  Output:
#   best distance: <min, %.6f> over <number of inputs> pairs
LC_ALL=C; export LC_ALL
exec awk '
FNR == 1 && $1 ~ /^-?[0-9]/ {
    n++
    if (n == 1 || $1 + 0 < best) best = $1 + 0
}
END {
    if (n == 0) { print "best distance: none over 0 pairs"; exit 1 }
    printf "best distance: %.6f over %d pairs\n", best, n
}' "$@"
