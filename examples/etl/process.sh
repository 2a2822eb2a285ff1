#!/bin/sh
# process.sh LOADED REF_CSV — calibrate one loaded file and summarise it per sensor.
#
# REF_CSV is the SQL result "sensor_id,scale,offset,name" (header first; only the
# first three columns are read, they are never quoted — name is last and may be).
# Each record joins its sensor's row (inner join: unknown sensors are dropped) and
# becomes value*scale+offset.  Output, sorted by sensor id:
#   sensor_id,count,mean        (mean printed with %.6f)
LC_ALL=C; export LC_ALL
exec awk -F',' -v ref="$2" '
BEGIN {
    first = 1
    while ((getline line < ref) > 0) {
        if (first) { first = 0; continue }            # header
        sub(/\r$/, "", line)
        split(line, f, ",")
        if (f[1] ~ /^S[0-9][0-9]$/ && f[2] ~ /^-?[0-9.eE+-]+$/ && f[3] ~ /^-?[0-9.eE+-]+$/) {
            scale[f[1]] = f[2] + 0; offset[f[1]] = f[3] + 0
        }
    }
    close(ref)
}
($1 in scale) {
    x = $2 * scale[$1] + offset[$1]
    sum[$1] += x; cnt[$1]++
}
END {
    for (k = 0; k < 100; k++) {                       # ids are S00..S99: sorted order
        id = sprintf("S%02d", k)
        if (id in cnt) printf "%s,%d,%.6f\n", id, cnt[id], sum[id] / cnt[id]
    }
}' "$1"
