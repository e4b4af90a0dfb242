#!/bin/sh
# bench_gate: `kakeya-gate validate` against ajv 8 on one ~7.5 MB evidence
# file (10 arms x 8000 samples, deterministic), both timed as whole
# processes: node (ajv compiles the schema, JSON.parse, validate) and
# kakeya-gate (read, strict parse, compile, validate). Runs interleaved,
# median of BENCH_GATE_REPS (default 7). Prints a table with MB/s and the
# ratio kakeya/ajv (> 1: the gate is faster); JSON lines to
# build/bench/gate.jsonl. ajv@8 is installed once with npm into
# ${KAKEYA_CACHE:-$HOME/.cache/kakeya}/npm; without node/npm the bench is
# skipped with a message.
set -eu
cd "$(dirname "$0")/.."
REPS=${BENCH_GATE_REPS:-7}
CACHE=${KAKEYA_CACHE:-$HOME/.cache/kakeya}
NPM_DIR=$CACHE/npm
OUT=build/bench
SCHEMA=gate/schemas/evidence.schema.json
GATE=bin/kakeya-gate
mkdir -p "$OUT"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "bench_gate: node or npm not found; skipped (ajv is the reference)" >&2
    exit 0
fi
if [ ! -f "$NPM_DIR/node_modules/ajv/dist/2020.js" ]; then
    echo "bench_gate: installing ajv@8 into $NPM_DIR" >&2
    mkdir -p "$NPM_DIR"
    if ! npm install --prefix "$NPM_DIR" --no-audit --no-fund --ignore-scripts \
            --loglevel=error ajv@8 >&2; then
        echo "bench_gate: npm install ajv@8 failed; skipped" >&2
        exit 0
    fi
fi
[ -x "$GATE" ] || { echo "bench_gate: $GATE not built (make all)" >&2; exit 3; }

FILE=$OUT/gate_evidence.json
if [ ! -f "$FILE" ] || [ bench/gen_evidence.js -nt "$FILE" ]; then
    node bench/gen_evidence.js 10 8000 > "$FILE.tmp" && mv "$FILE.tmp" "$FILE"
fi
BYTES=$(wc -c < "$FILE")

# Both must accept the file before their times mean anything.
node bench/gate_ajv.js "$NPM_DIR" "$SCHEMA" "$FILE" ||
    { echo "bench_gate: ajv rejects $FILE" >&2; exit 1; }
"$GATE" validate --schema "$SCHEMA" "$FILE" >/dev/null ||
    { echo "bench_gate: kakeya-gate rejects $FILE" >&2; exit 1; }

now_ns() { date +%s%N; }
t_ajv=""; t_kk=""
i=0
while [ $i -lt "$REPS" ]; do
    a=$(now_ns); node bench/gate_ajv.js "$NPM_DIR" "$SCHEMA" "$FILE"; b=$(now_ns)
    t_ajv="$t_ajv $((b - a))"
    a=$(now_ns); "$GATE" validate --schema "$SCHEMA" "$FILE" >/dev/null; b=$(now_ns)
    t_kk="$t_kk $((b - a))"
    i=$((i + 1))
done
median() { printf '%s\n' $1 | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
m_ajv=$(median "$t_ajv"); m_kk=$(median "$t_kk")
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //; s/"/ /g' || echo unknown)
node_v=$(node --version)
ajv_v=$(node -e "console.log(require(require.resolve('ajv/package.json',{paths:['$NPM_DIR']})).version)")

awk -v bytes="$BYTES" -v ma="$m_ajv" -v mk="$m_kk" -v reps="$REPS" \
    -v ta="$t_ajv" -v tk="$t_kk" -v commit="$commit" -v cpu="$cpu" \
    -v nodev="$node_v" -v ajvv="$ajv_v" -v out="$OUT/gate.jsonl" 'BEGIN {
    sa = ma / 1e9; sk = mk / 1e9
    mba = bytes / 1e6 / sa; mbk = bytes / 1e6 / sk
    printf "%-28s %10s %10s %10s\n", "validator (whole process)", "median s", "MB/s", "ratio"
    printf "%-28s %10.4f %10.1f %10s\n", "ajv " ajvv " (node " nodev ")", sa, mba, "1.00"
    printf "%-28s %10.4f %10.1f %10.2f\n", "kakeya-gate validate", sk, mbk, mbk / mba
    printf "file %d bytes, %d interleaved runs each, commit %s, %s\n", bytes, reps, commit, cpu
    gsub(/^ /, "", ta); gsub(/ /, ",", ta); gsub(/^ /, "", tk); gsub(/ /, ",", tk)
    printf "{\"bench\":\"gate_validate\",\"tool\":\"ajv\",\"version\":\"%s\",\"bytes\":%d,\"median_s\":%.6f,\"mb_per_s\":%.2f,\"runs_ns\":[%s],\"commit\":\"%s\",\"cpu\":\"%s\"}\n", ajvv, bytes, sa, mba, ta, commit, cpu > out
    printf "{\"bench\":\"gate_validate\",\"tool\":\"kakeya-gate\",\"bytes\":%d,\"median_s\":%.6f,\"mb_per_s\":%.2f,\"runs_ns\":[%s],\"commit\":\"%s\",\"cpu\":\"%s\"}\n", bytes, sk, mbk, tk, commit, cpu >> out
    printf "{\"bench\":\"gate_validate\",\"ratio_kakeya_over_ajv\":%.4f,\"commit\":\"%s\",\"cpu\":\"%s\"}\n", mbk / mba, commit, cpu >> out
}'
