#!/bin/sh
# make-data.sh — regenerate the ETL example inputs (deterministic).
#
#   data/mydata-0.dat … data/mydata-99.dat   raw "sensor_id,value" readings
#   ref.db                                   SQLite table mytable(sensor_id, scale, offset, name)
#
# Everything is integer arithmetic in awk (no rand(), no floats), so the files are
# byte-identical on every machine.  The generated files are committed; rerun this
# only to change the data.  Needs the sqlite3 CLI for ref.db.
set -eu
LC_ALL=C; export LC_ALL
dir=$(cd "$(dirname "$0")" && pwd)
files=${FILES:-100}
lines=${LINES_PER_FILE:-200}

mkdir -p "$dir/data"
rm -f "$dir"/data/mydata-*.dat

awk -v nfiles="$files" -v nlines="$lines" -v out="$dir/data" 'BEGIN {
    for (i = 0; i < nfiles; i++) {
        f = out "/mydata-" i ".dat"
        eol = (i % 10 == 9) ? "\r\n" : "\n"          # some files have CRLF endings
        printf "sensor_id,value%s", eol > f            # header line (not a record)
        phase = i % 24                                 # slow triangle "season", period 24
        tri = (phase < 12) ? phase : 24 - phase
        for (n = 1; n <= nlines; n++) {
            s = (n * 7 + i * 3) % 20 + 1               # every sensor 10 times per file
            v = 100 + 25 * s + tri * 4 * (s % 5 + 1)
            v += ((i * 131 + n * 71 + s * 17) * 7919) % 201 - 100   # pseudo-noise -100..100
            if (s % 4 == 0) v -= 300                   # some sensors read negative
            if (s == 13 && i >= 60 && i < 70) v += 150 # an "incident" on S13
            line = sprintf("S%02d,%d", s, v)
            # deliberately malformed or odd lines
            if (i % 3 == 0 && n % 37 == 0)        line = "BAD"
            else if (i % 7 == 1 && n == 50)       line = sprintf("S%02d,", s)         # no value
            else if (i % 11 == 2 && n == 99)      line = sprintf("S%d,%d", s, v)      # bad id
            else if (i % 13 == 4 && n == 120)     line = sprintf("S%02d,%d.5", s, v)  # not an integer
            else if (i % 17 == 5 && n == 150)     line = sprintf("S%02d,%d,7", s, v)  # extra field
            else if (i % 19 == 7 && n == 160)     line = sprintf("S%02d,-", s)
            else if (i % 23 == 11 && n == 10)     line = "# recalibrated"
            else if (i % 9 == 3 && n == 77)       line = ""                         # blank line
            else if (i % 5 == 0 && n % 53 == 0)   line = sprintf("S99,%d", v)         # valid, unknown sensor
            else if (i % 4 == 2 && n % 41 == 0)   line = sprintf("  S%02d , %d\t", s, v) # padded: valid
            printf "%s%s", line, eol > f
        }
        close(f)
    }
}'

# Reference table: scale = k/4, offset = m/2 (exact binary fractions).
rm -f "$dir/ref.db.tmp"
awk 'BEGIN {
    print "CREATE TABLE mytable(sensor_id TEXT PRIMARY KEY, scale REAL, offset REAL, name TEXT);"
    print "BEGIN;"
    for (s = 1; s <= 20; s++) {
        name = sprintf("Station %02d", s)
        if (s == 3)  name = "Pier 3, north"            # comma: CSV must quote it
        if (s == 7)  name = "Dock \"B\" east"          # double quotes: CSV doubles them
        if (s == 12) name = "Hatter'"''"'s Weir"       # apostrophe (SQL-escaped)
        if (s == 18) name = "Weir, upper, \"old\""
        printf "INSERT INTO mytable VALUES('"'"'S%02d'"'"', %.2f, %.1f, '"'"'%s'"'"');\n",
               s, (s % 8 + 1) / 4, ((s * 13) % 41 - 20) / 2, name
    }
    print "COMMIT;"
}' | sqlite3 "$dir/ref.db.tmp"
mv -f "$dir/ref.db.tmp" "$dir/ref.db"
