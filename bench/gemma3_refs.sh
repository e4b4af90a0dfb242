#!/bin/sh
# llama.cpp's logits on random-weight gemma3 files, committed as
# tests/engine/data/gemma3_refs.json for tests/engine/test_gemma3.c (CI does
# not build llama.cpp, so the references are committed).
# Needs bin/kakeya (make) and llama.cpp's logits tool (make refengine).
# Each case: a model from `kakeya model random --arch gemma3` (its shape in
# the file, so the test rebuilds the same bytes in memory and checks their
# sha256), optionally converted to Q8_0, and two prompts: 10 tokens
# (shorter than the window) and 48 (three windows of 16, or six of 8).
# Recorded per prompt: llama.cpp's argmax at every position and its full
# logits at the last position.
set -eu
HERE=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${KAKEYA_CACHE:-$HOME/.cache/kakeya}
LOG=$CACHE/llama.cpp/llamacpp_logits
KK=$HERE/bin/kakeya
OUT=${1:-$HERE/tests/engine/data/gemma3_refs.json}
[ -x "$LOG" ] || { echo "gemma3_refs: $LOG missing: run make refengine" >&2; exit 2; }
[ -x "$KK" ] || { echo "gemma3_refs: $KK missing: run make" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
COMMIT=$(head -n 1 "$CACHE/llama.cpp/build/.kakeya-built" 2>/dev/null || echo unknown)
# name seed layers window pattern weights
CASES="w16-l7 3 7 16 0 f32
w16-l7-s5 5 7 16 0 f32
w8-l12-p4 7 12 8 4 f32
nowindow-l3 9 3 0 0 f32
w16-l7-q8 3 7 16 0 q8_0"
P10=$(python3 -c "print(','.join(str(3+(i*37)%500) for i in range(10)))")
P48=$(python3 -c "print(','.join(str(3+(i*37)%500) for i in range(48)))")
echo "$CASES" | while read -r name seed layers window pattern weights; do
    f=$TMP/$name.gguf
    set -- --arch gemma3 --seed "$seed" --layers "$layers" --d-model 128 --heads 4 \
        --kv-heads 2 --head-dim 32 --ffn 256 --tied
    [ "$window" -gt 0 ] && set -- "$@" --sliding-window "$window"
    [ "$pattern" -gt 0 ] && set -- "$@" --swa-pattern "$pattern"
    "$KK" model random -o "$f" "$@" 2>/dev/null
    if [ "$weights" = q8_0 ]; then
        "$KK" model convert "$f" --type q8_0 -o "$f.q8" 2>/dev/null
        mv "$f.q8" "$f"
    fi
    for p in 10 48; do
        ids=$P10
        [ "$p" = 48 ] && ids=$P48
        echo "$ids" | "$LOG" "$f" --kv f32 --threads 1 > "$TMP/$name.$p.txt"
        printf '%s\n' "$name $seed $layers $window $pattern $weights $p $ids $(sha256sum "$f" | cut -c1-64)" >> "$TMP/index"
    done
done
python3 - "$TMP" "$OUT" "$COMMIT" <<'PY'
import json, sys
tmp, out, commit = sys.argv[1:4]
cases = []
for line in open(tmp + "/index"):
    name, seed, layers, window, pattern, weights, p, ids, sha = line.split()
    rows = [[float(x) for x in l.split()] for l in open(f"{tmp}/{name}.{p}.txt")]
    cases.append({
        "name": f"{name}-p{p}", "seed": int(seed), "layers": int(layers), "d_model": 128,
        "heads": 4, "kv_heads": 2, "head_dim": 32, "ffn": 256, "tied": True,
        "sliding_window": int(window), "swa_pattern": int(pattern), "weights": weights,
        "model_sha256": sha, "ids": [int(x) for x in ids.split(",")],
        "argmax": [max(range(len(r)), key=r.__getitem__) for r in rows],
        "logits_last": [float("%.7g" % x) for x in rows[-1]],
    })
doc = {"reference_engine": f"llama.cpp {commit}, CPU, 1 thread, F32 K/V without flash attention "
       "(bench/llamacpp_logits.c)", "made_by": "bench/gemma3_refs.sh", "cases": cases}
with open(out, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
    f.write("\n")
print(f"gemma3_refs: {len(cases)} cases -> {out}")
PY
