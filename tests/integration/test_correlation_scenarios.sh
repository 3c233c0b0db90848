#!/usr/bin/env bash
# Correlation and root cause on generated scenarios whose ground truth is known
# (tests/tools/scenario.py: a random service graph, faults spreading to the callers, noise,
# concurrent faults, flapping alerts, recurrences, bad deploys). Each family runs a few seeds
# through `tocsin replay --json` at full speed; tests/tools/score_replay.py scores each run and
# the figures are aggregated per family (pairs summed over the seeds, RCA top-1 / top-3
# averaged over them). Targets per family (issue 6): compression >= 0.9 (incidents at least 90%
# fewer than alerts), pairwise grouping F1 >= 0.9, RCA top-1 >= 0.7 and top-3 >= 0.9.
# The rules are those of this source tree ($SRC/rules, $SRC/lua).
# SCENARIO_SEEDS=N runs N seeds per family (default 8); KEEP=1 keeps the files.
. "$(dirname "$0")/lib.sh"
GEN="$SRC/tests/tools/scenario.py"
SCORE="$SRC/tests/tools/score_replay.py"
SEEDS=${SCENARIO_SEEDS:-8}
FAMILIES="cascade concurrent noisy flapping sequential deploy"

quiet() { "$@" >>"$T/tools.log" 2>&1; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

check "the scorer's self-test passes" quiet python3 "$SCORE" --self-test
same() { # the same family and seed twice: the same three files
    local f
    quiet python3 "$GEN" --family sequential --seed 7 --out "$T/same-a" || return 1
    quiet python3 "$GEN" --family sequential --seed 7 --out "$T/same-b" || return 1
    for f in events.ndjson topology.json truth.json; do
        cmp "$T/same-a/$f" "$T/same-b/$f" || return 1
    done
}
check "the generator is deterministic per seed" same

base=0
for fam in $FAMILIES; do
    base=$((base + 100)) # different seeds per family: different graphs and faults
    : >"$T/$fam.scores"
    for k in $(seq 1 "$SEEDS"); do
        seed=$((base + k))
        dir="$T/$fam-$seed"
        if ! python3 "$GEN" --family "$fam" --seed "$seed" --out "$dir" >>"$T/scenarios.txt" \
            2>&1; then
            not_ok "$fam seed $seed: the generator failed"; continue
        fi
        if ! timeout 120 "$TOCSIN" replay "$dir/events.ndjson" --topology "$dir/topology.json" \
            --json --scripts.rules_dir="$SRC/rules" --scripts.lib_dir="$SRC/lua" \
            >"$dir/out.ndjson" 2>"$dir/replay.log"; then
            not_ok "$fam seed $seed: tocsin replay failed: $(tail -1 "$dir/replay.log")"; continue
        fi
        if ! python3 "$SCORE" "$dir/truth.json" "$dir/out.ndjson" --json >"$dir/score.json" \
            2>"$dir/score.log"; then
            not_ok "$fam seed $seed: the output cannot be scored: $(cat "$dir/score.log")"; continue
        fi
        echo "$dir/score.json" >>"$T/$fam.scores"
    done
    if [ ! -s "$T/$fam.scores" ]; then
        not_ok "$fam: no run could be scored"; continue
    fi
    # a readable summary (with the RCA misses), then "compression f1 top1 top3 missing"
    out=$(python3 - "$fam" "$T/$fam.scores" <<'PY'
import json, sys
fam, files = sys.argv[1], open(sys.argv[2]).read().split()
runs = [json.load(open(f)) for f in files]
s = lambda k: sum(r[k] for r in runs)
tp, true_p, pred_p = s("tp_pairs"), s("true_pairs"), s("pred_pairs")
p = tp / pred_p if pred_p else 1.0
r = tp / true_p if true_p else 1.0
f1 = 2 * p * r / (p + r) if p + r else 0.0
comp = 1 - (s("incidents") + s("missing")) / s("alerts")
top1 = sum(x["top1"] for x in runs) / len(runs)
top3 = sum(x["top3"] for x in runs) / len(runs)
print("# %s (%d seeds): %d alerts, %d incidents, %d missing, compression %.3f, pairs "
      "precision %.3f recall %.3f F1 %.3f, RCA top-1 %.3f top-3 %.3f (%d groups)" %
      (fam, len(runs), s("alerts"), s("incidents"), s("missing"), comp, p, r, f1, top1, top3,
       s("rca_groups")))
for f, x in zip(files, runs):
    for g in x["groups"]:
        if not g["top1"]:
            print("#   %s: %s (root %s, %d alerts, %d in %s): rca %s" %
                  (f.split("/")[-2], g["group"], g["root"], g["alerts"], g["held"],
                   g["incident"], g["rca"]))
print("%.4f %.4f %.4f %.4f %d" % (comp, f1, top1, top3, s("missing")))
PY
    ) || out="# $fam: the scores cannot be aggregated
- - - - -"
    echo "$out" | sed '$d'
    read -r comp f1 top1 top3 missing <<<"$(echo "$out" | tail -1)"
    check "$fam: every firing alert is in an incident ($missing missing)" test "$missing" -eq 0
    check "$fam: compression $comp >= 0.9" ge "$comp" 0.9
    check "$fam: pairwise grouping F1 $f1 >= 0.9" ge "$f1" 0.9
    check "$fam: RCA top-1 $top1 >= 0.7" ge "$top1" 0.7
    check "$fam: RCA top-3 $top3 >= 0.9" ge "$top3" 0.9
done
finish
