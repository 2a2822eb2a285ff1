#!/bin/sh
# load.sh FILE — parse one raw readings file, print the clean records.
#
# A record is "sensor_id,value": exactly two comma-separated fields, surrounding
# blanks trimmed, sensor_id = S followed by two digits, value = optional '-' and
# digits.  A trailing CR is dropped.  Everything else (the header, "BAD",
# comments, blank lines, missing/non-integer values, extra fields) is skipped.
# Output: "sensor_id,value" lines, in file order, no header.
LC_ALL=C; export LC_ALL
exec awk -F',' '
{ sub(/\r$/, "") }
NF != 2 { next }
{
    id = $1; v = $2
    sub(/^[ \t]+/, "", id); sub(/[ \t]+$/, "", id)
    sub(/^[ \t]+/, "", v);  sub(/[ \t]+$/, "", v)
    if (id ~ /^S[0-9][0-9]$/ && v ~ /^-?[0-9]+$/) print id "," v
}' "$1"
