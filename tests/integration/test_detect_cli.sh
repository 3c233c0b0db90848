#!/usr/bin/env bash
# tocsin detect: CSV in, one score per row out; headers, separators, timestamp forms,
# multivariate rows, label columns, --explain, and errors that name the line.
. "$(dirname "$0")/lib.sh"

check "tocsin detect --help exits 0 and shows usage" bash -c "'$TOCSIN' detect --help | grep -q 'usage: tocsin detect'"
check "tocsin --help lists detect" bash -c "'$TOCSIN' --help | grep -q 'detect'"

# 300 rows, epoch seconds, a spike at row 200 (deterministic noise)
python3 - "$T" <<'PY'
import math, random, sys
t = sys.argv[1]
r = random.Random(7)
with open(f"{t}/uni.csv", "w") as f:
    f.write("timestamp,value\n")
    for i in range(300):
        v = 50 + r.gauss(0, 1) + (25 if i == 200 else 0)
        f.write(f"{1700000000 + 60 * i},{v:.5f}\n")
with open(f"{t}/multi_ms.csv", "w") as f:  # no header, milliseconds, two columns
    for i in range(300):
        a = 10 + r.gauss(0, 0.5)
        b = 100 + 5 * math.sin(i / 10) + r.gauss(0, 0.2) + (-40 if i == 250 else 0)
        f.write(f"{1700000000000 + 1000 * i},{a:.4f},{b:.4f}\n")
with open(f"{t}/skab_like.csv", "w") as f:  # ';', ISO timestamps, label columns
    f.write("datetime;Pressure;Temperature;anomaly;changepoint\n")
    for i in range(200):
        lab = 1.0 if 150 <= i < 160 else 0.0
        f.write(f"2020-03-09 10:{i // 60 + 14:02d}:{i % 60:02d};{1 + r.gauss(0, 0.01):.5f};"
                f"{70 + r.gauss(0, 0.1):.4f};{lab};{1.0 if i == 150 else 0.0}\n")
PY

"$TOCSIN" detect "$T/uni.csv" >"$T/uni.out"
check "one output row per input row, plus a header" test "$(wc -l <"$T/uni.out")" = 301
check "the header names the columns" test "$(head -1 "$T/uni.out")" = "timestamp,score,anomaly"
check "every score is in [0,1] and anomaly is 0 or 1" \
    awk -F, 'NR > 1 && !($2 >= 0 && $2 <= 1 && ($3 == 0 || $3 == 1)) { bad = 1 } END { exit bad }' "$T/uni.out"
check "the spike row (201st data row) is an anomaly with a score near 1" \
    awk -F, 'NR == 202 { exit !($3 == 1 && $2 > 0.999) }' "$T/uni.out"
check "no anomaly elsewhere before the spike" \
    awk -F, 'NR > 1 && NR < 202 && $3 == 1 { bad = 1 } END { exit bad }' "$T/uni.out"
check "warm-up rows score 0" awk -F, 'NR == 2 || NR == 10 { if ($2 != 0) bad = 1 } END { exit bad }' "$T/uni.out"
check "timestamps are echoed" bash -c "sed -n 2p '$T/uni.out' | grep -q '^1700000000,'"
"$TOCSIN" detect <"$T/uni.csv" >"$T/uni.stdin.out"
check "standard input gives the same output as the file" cmp -s "$T/uni.out" "$T/uni.stdin.out"

"$TOCSIN" detect --explain "$T/uni.csv" >"$T/uni.explain"
check "--explain adds z, expected, lower, upper, detector, column, state" \
    test "$(head -1 "$T/uni.explain")" = "timestamp,score,anomaly,z,expected,lower,upper,detector,column,state"
check "--explain: the spike's expected value is near 50 and outside its band" \
    awk -F, 'NR == 202 { exit !($5 > 48 && $5 < 52 && (26 + 50 > $7) && $10 == "anomaly" && $8 != "") }' "$T/uni.explain"
check "--detector zscore names zscore" bash -c "'$TOCSIN' detect --explain --detector zscore '$T/uni.csv' | awk -F, 'NR == 202 { exit !(\$8 == \"zscore\" && \$3 == 1) }'"
check "--threshold 50 flags nothing" bash -c "'$TOCSIN' detect --threshold 50 '$T/uni.csv' | awk -F, 'NR > 1 && \$3 == 1 { bad = 1 } END { exit bad }'"

"$TOCSIN" detect --explain "$T/multi_ms.csv" >"$T/multi.out"
check "multivariate, no header, ms: a row per input row" test "$(wc -l <"$T/multi.out")" = 301
check "multivariate: the dip in column 3 is flagged and named" \
    awk -F, 'NR == 252 { exit !($3 == 1 && $9 == "3") }' "$T/multi.out"
check "multivariate: --columns 2 scores only the quiet column" \
    bash -c "'$TOCSIN' detect --columns 2 '$T/multi_ms.csv' | awk -F, 'NR == 252 { exit \$3 != 0 }'"

"$TOCSIN" detect --explain --stats "$T/skab_like.csv" >"$T/skab.out" 2>"$T/skab.err"
check "';' and ISO timestamps: a row per input row" test "$(wc -l <"$T/skab.out")" = 201
check "label columns (anomaly, changepoint) are not scored" \
    bash -c "! cut -d, -f9 '$T/skab.out' | grep -qx -e anomaly -e changepoint"
check "--stats reports the rows and columns" grep -q "200 rows, 2 columns scored" "$T/skab.err"
check "--columns can name a label column explicitly" \
    bash -c "'$TOCSIN' detect --explain --columns anomaly '$T/skab_like.csv' | awk -F, 'NR > 1 { c[\$9] = 1 } END { exit !(c[\"anomaly\"] && length(c) == 1) }'"
rc=0; "$TOCSIN" detect --columns nosuch "$T/skab_like.csv" >/dev/null 2>"$T/err" || rc=$?
check "--columns with an unknown column names it and fails" bash -c "test $rc -ne 0 && grep -q nosuch '$T/err'"

if [ -f "$SRC/../shared/data/skab/valve1/0.csv" ]; then
    f="$SRC/../shared/data/skab/valve1/0.csv"
    "$TOCSIN" detect "$f" >"$T/valve.out"
    check "SKAB valve1/0.csv: a row per input row" test "$(wc -l <"$T/valve.out")" = "$(wc -l <"$f")"
fi

# missing values, duplicates, out of order: rows still get an output line
printf 'ts,v\n1,1\n2,\n3,nan\n4,1\n4,1\n3,5\n5,1\n' | "$TOCSIN" detect --explain --stats >"$T/hyg.out" 2>"$T/hyg.err"
check "missing, duplicate and out-of-order rows keep their output line" test "$(wc -l <"$T/hyg.out")" = 8
check "their state says why they were skipped" \
    bash -c "cut -d, -f10 '$T/hyg.out' | tr '\n' ' ' | grep -q 'warmup skipped:missing skipped:missing warmup skipped:duplicate skipped:out_of_order warmup'"
check "--stats counts them" grep -q "2 missing, 0 inf, 1 out of order, 1 duplicate" "$T/hyg.err"

# RFC 3339: T or space, fractions, Z and offsets; an offset that makes a row earlier in UTC is
# out of order
printf 'time,v\n2024-05-01T12:00:00Z,1\n2024-05-01T12:00:01.5Z,2\n2024-05-01 12:00:03,1\n2024-05-01T14:00:04+02:00,2\n2024-05-01T13:00:02+01:00,9\n2024-05-01T12:00:05.250-00:00,1\n1714564806,2\n1714564807000,1\n' |
    "$TOCSIN" detect --explain >"$T/ts.out" 2>"$T/ts.err"
check "RFC 3339 forms and epoch s/ms all parse" test "$(wc -l <"$T/ts.out")" = 9
check "an offset earlier in UTC is out of order; the others are in order" \
    bash -c "cut -d, -f10 '$T/ts.out' | tr '\n' ' ' | grep -q '^state warmup warmup warmup warmup skipped:out_of_order warmup warmup warmup \$'"

# errors name the line
err_case() { # err_case "description" "expected message" csv-text
    local rc=0
    printf '%b' "$3" | "$TOCSIN" detect >/dev/null 2>"$T/err" || rc=$?
    check "$1" bash -c "test $rc -ne 0 && grep -q \"$2\" '$T/err'"
}
err_case "a row with too few fields names its line" "line 4: expected 2 fields, found 1" 'ts,v\n1,1\n2,2\n3\n4,4\n'
err_case "a row with too many fields names its line" "line 3: expected 2 fields, found 3" 'ts,v\n1,1\n2,2,2\n'
err_case "a value that is not a number names line and column" "line 3: column 'v': not a number: 'abc'" 'ts,v\n1,1\n2,abc\n'
err_case "a bad timestamp names its line" "line 2: bad timestamp '2020-13-01 00:00:00'" 'ts,v\n2020-13-01 00:00:00,1\n'
err_case "a bad timestamp without header names its line" "line 3: bad timestamp 'yesterday'" '1,1\n2,2\nyesterday,3\n'
err_case "a single column is an error" "line 1: expected timestamp and at least one value" 'justone\n1\n'
err_case "empty input is an error" "no input" ''
rc=0; "$TOCSIN" detect --detector nosuch </dev/null 2>"$T/err" || rc=$?
check "an unknown detector is a usage error (exit 2)" bash -c "test $rc = 2 && grep -q nosuch '$T/err'"
rc=0; "$TOCSIN" detect --window 1 </dev/null 2>"$T/err" || rc=$?
check "a window below 3 is a usage error" test "$rc" = 2
rc=0; "$TOCSIN" detect "$T/does-not-exist.csv" 2>"$T/err" || rc=$?
check "a missing file names it" bash -c "test $rc -ne 0 && grep -q does-not-exist '$T/err'"
finish
