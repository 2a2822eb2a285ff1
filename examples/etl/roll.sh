#!/bin/sh
# roll.sh P1 P2 P3 … — pool several processed files (a rolling window).
#
# Inputs are process.sh outputs ("sensor_id,count,mean").  Per sensor the pooled
# mean is sum(count*mean) / sum(count), accumulated in argument order.
# Output, sorted by sensor id:  sensor_id,mean   (%.6f)
LC_ALL=C; export LC_ALL
exec awk -F',' '
NF == 3 && $1 ~ /^S[0-9][0-9]$/ {
    s[$1] += $2 * $3; n[$1] += $2
}
END {
    for (k = 0; k < 100; k++) {
        id = sprintf("S%02d", k)
        if ((id in n) && n[id] > 0) printf "%s,%.6f\n", id, s[id] / n[id]
    }
}' "$@"
