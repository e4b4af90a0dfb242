#!/bin/sh
# The KL-divergence cross-check against llama.cpp (docs/codecs.md "KL
# divergence"): on rand-qwen3-a, teacher-forced over one fixed sequence of
# 256 ids, llama.cpp's logits at every position with f32 (no flash
# attention), f16, q8_0 and q4_0 K/V caches (flash attention on, as
# llama.cpp needs for a quantized V cache) give llama.cpp's own KLD of each
# cache type against its f32 run, and of f16-with-flash-attention against
# f32: its arithmetic noise. kakeya's `codec kld` on the same ids must
# agree: |ours - llama.cpp's| <= 0.25 x llama.cpp's kld_mean + the noise.
# kakeya runs twice per type: --q-round exact (the cache's damage alone)
# and --q-round as llama.cpp's flash attention rounds the queries against
# that K type (f16 for f16, q8_0 for q8_0 and q4_0): the verdict is on the
# second, the like-for-like arithmetic; the table shows both.
# Writes the ids and llama.cpp's figures to bench/data/kld_llamacpp.json
# (committed: tests/harness/test_codec_kld_cli.c checks kakeya against them
# without llama.cpp) and prints a table. Needs `make refengine`.
#
# usage: sh bench/kld_crosscheck.sh [MODEL]   (default: the rand-qwen3-a fixture)
set -eu
FIX=${KAKEYA_FIXTURES:-../shared/fixtures}
MODEL=${1:-$FIX/models/rand-qwen3-a.gguf}
CACHE=${KAKEYA_CACHE:-$HOME/.cache/kakeya}
LOG=$CACHE/llama.cpp/llamacpp_logits
K=${KAKEYA_BIN:-build/release/kakeya}
[ -n "${KAKEYA_BIN:-}" ] || make -s WERROR=-Werror "$K"
[ -x "$LOG" ] || { echo "kld_crosscheck: run make refengine first" >&2; exit 2; }
tmp=$(mktemp -d /tmp/kakeya_kld_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# BOS, then 255 ids from a fixed recurrence over the vocabulary's 2..511
python3 -c "print(','.join(['1'] + [str((i * 7919 + 13) % 510 + 2) for i in range(255)]))" >"$tmp/ids"
for kv in f32 f16 q8_0 q4_0; do
    "$LOG" "$MODEL" --kv "$kv" --threads 1 <"$tmp/ids" >"$tmp/$kv.txt"
done
for kv in f16 q8_0 q4_0; do
    qr=q8_0
    [ "$kv" = f16 ] && qr=f16
    "$K" codec kld -m "$MODEL" --tokens "$(cat "$tmp/ids")" --kv-codec "$kv" --threads 1 \
        --json >"$tmp/exact-$kv.json"
    "$K" codec kld -m "$MODEL" --tokens "$(cat "$tmp/ids")" --kv-codec "$kv" --threads 1 \
        --q-round "$qr" --json >"$tmp/ours-$kv.json"
done
LLAMA_COMMIT=$(cat "$CACHE/llama.cpp/build/.kakeya-built")
python3 - "$tmp" "$MODEL" "$LLAMA_COMMIT" <<'PY'
import hashlib, json, math, os, sys
tmp, model, commit = sys.argv[1], sys.argv[2], sys.argv[3]
def rows(kv):
    return [[float(x) for x in l.split()] for l in open(os.path.join(tmp, kv + ".txt"))]
def lsm(r):
    m = max(r); s = sum(math.exp(x - m) for x in r); l = m + math.log(s)
    return [x - l for x in r]
def kld(P, Q):
    ks, agree = [], 0
    for p, q in zip(P, Q):
        a, b = lsm(p), lsm(q)
        ks.append(max(0.0, sum(math.exp(x) * (x - y) for x, y in zip(a, b))))
        agree += p.index(max(p)) == q.index(max(q))
    s = sorted(ks); r = max(1, min(len(s), math.ceil(0.99 * len(s))))
    return {"kld_mean": sum(ks) / len(ks), "kld_p99": s[r - 1], "kld_max": s[-1],
            "top1_agree": agree / len(ks), "n_positions": len(ks)}
f32 = rows("f32")
ref = {"model": os.path.basename(model),
       "model_sha256": hashlib.sha256(open(model, "rb").read()).hexdigest(),
       "llama_cpp_commit": commit,
       "ids": [int(x) for x in open(os.path.join(tmp, "ids")).read().split(",")],
       "criterion": "|kakeya kld_mean - llama.cpp kld_mean| <= 0.25 x llama.cpp kld_mean + noise",
       "noise": dict(kld(f32, rows("f16")), what="llama.cpp f16 K/V with flash attention against its f32 run"),
       "llama_cpp": {kv: kld(f32, rows(kv)) for kv in ("f16", "q8_0", "q4_0")}}
here = os.path.dirname(os.path.abspath(sys.argv[0])) if sys.argv[0] != "-" else "."
with open("bench/data/kld_llamacpp.json", "w") as f:
    json.dump(ref, f, indent=1)
    f.write("\n")
noise = ref["noise"]["kld_mean"]
print("| cache | llama.cpp kld_mean | kakeya, queries as llama.cpp | difference | allowed | top-1 llama.cpp / kakeya | verdict | kakeya, exact queries |")
print("|---|---|---|---|---|---|---|---|")
ok = True
for kv in ("f16", "q8_0", "q4_0"):
    ours = json.load(open(os.path.join(tmp, "ours-" + kv + ".json")))
    exact = json.load(open(os.path.join(tmp, "exact-" + kv + ".json")))
    theirs = ref["llama_cpp"][kv]
    d = abs(ours["kld_mean"] - theirs["kld_mean"])
    allowed = 0.25 * theirs["kld_mean"] + noise
    agree = d <= allowed
    ok &= agree
    print("| %s | %.4g | %.4g | %.3g | %.3g | %.4f / %.4f | %s | %.4g |" % (kv,
          theirs["kld_mean"], ours["kld_mean"], d, allowed, theirs["top1_agree"],
          ours["top1_agree"], "agree" if agree else "DISAGREE", exact["kld_mean"]))
print("noise (llama.cpp f16+FA vs f32): kld_mean %.3g" % noise)
sys.exit(0 if ok else 1)
PY
