#!/bin/sh
# The proposer-noise sweep (docs/restoration.md "Fidelity to recall"): the
# map from restoration fidelity to recall on the synthetic pair. For each
# proposer key noise X (layer-1 K noise per token, x the code norm):
#   kakeya model synth --role proposer --key-noise X       (the proposer)
#   kakeya restore fit -m VERIFIER --proposer P --rank R    (f_theta; its
#       held-out rel_mse of K and V)
#   kakeya niah -m VERIFIER --policy sinkwin:sinks=4,window=64
#       --restore ftheta --proposer P --ftheta F            (recall with the
#       needle outside the window, and the run's rel_mse_restored K / V)
# Rank 128 restores V exactly on this pair (docs/restoration.md), so the
# sweep isolates K's fidelity. Prints a Markdown table; JSON lines go to
# build/bench/restore_noise.jsonl. Not part of `make bench`: about 2
# minutes on 2 cores.
#
# usage: sh bench/restore_noise.sh [CTX [SAMPLES [RANK]]]   (default 1024 20 128)
set -eu
CTX=${1:-1024}
SAMPLES=${2:-20}
RANK=${3:-128}
K=${KAKEYA_BIN:-build/release/kakeya}
[ -n "${KAKEYA_BIN:-}" ] || make -s WERROR=-Werror "$K"
mkdir -p build/bench
tmp=$(mktemp -d /tmp/kakeya_restore_noise_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
out=build/bench/restore_noise.jsonl
: >"$out"
NOISES=${NOISES_OVERRIDE:-"0 0.05 0.1 0.2 0.4 0.8 1.6"}

"$K" model synth -o "$tmp/v.gguf" >/dev/null
echo "| proposer key noise | fit held-out rel_mse K | V | run rel_mse_restored K | V | recall | 95% interval |"
echo "|---|---|---|---|---|---|---|"
for x in $NOISES; do
    "$K" model synth --role proposer --key-noise "$x" -o "$tmp/p.gguf" >/dev/null
    "$K" restore fit -m "$tmp/v.gguf" --proposer "$tmp/p.gguf" --rank "$RANK" \
        -o "$tmp/f.gguf" --threads 2 --json >"$tmp/fit.json" 2>/dev/null
    "$K" niah -m "$tmp/v.gguf" --ctx "$CTX" --depths 0.1,0.5,0.8 --samples "$SAMPLES" \
        --policy sinkwin:sinks=4,window=64 --restore ftheta --proposer "$tmp/p.gguf" \
        --ftheta "$tmp/f.gguf" --threads 2 --json >"$tmp/niah.json" 2>/dev/null
    python3 - "$x" "$tmp/fit.json" "$tmp/niah.json" "$out" <<'PY'
import json, sys
x, fit, niah, out = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3])), sys.argv[4]
n = niah["model"]["niah"]
cells = n["cells"]
hits = sum(c["hits"] for c in cells); total = sum(c["n"] for c in cells)
import math
z = 1.959963984540054; p = hits / total
den = 1 + z * z / total; mid = (p + z * z / (2 * total)) / den
half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / den
row = {"key_noise": float(x), "rank": fit["rank"],
       "heldout_k": fit["rel_mse_restored_heldout_k"], "heldout_v": fit["rel_mse_restored_heldout_v"],
       "run_k": n.get("rel_mse_restored_k"), "run_v": n.get("rel_mse_restored_v"),
       "hits": hits, "n": total, "recall": p, "ci_lo": max(0.0, mid - half), "ci_hi": min(1.0, mid + half)}
open(out, "a").write(json.dumps(row) + "\n")
print("| %s | %.3g | %.3g | %.3g | %.3g | %d/%d | [%.2f, %.2f] |" % (
    x, row["heldout_k"], row["heldout_v"], row["run_k"], row["run_v"], hits, total,
    row["ci_lo"], row["ci_hi"]))
PY
done
