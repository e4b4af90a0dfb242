#!/bin/sh
# The proposer-noise sweep (docs/restoration.md "Fidelity to recall"): the
# map from restoration fidelity to recall on the synthetic pair. Runs the
# proposer-noise preset once per proposer key noise X (layer-1 K noise per
# token, x the code norm) with --set proposer=synth:niah?role=proposer&
# key_noise=X and tabulates, from each evidence file, the fit's held-out
# error, the restored retrieval layer's (layer 1) K and V error in the run,
# the last query's attention mass on the restored needle, and recall with
# its 95% interval. Rank 128 restores V exactly on this pair, so the sweep
# moves K's fidelity alone. Evidence goes to OUT (default
# build/bench/restore_noise; `OUT=evidence` writes the gated copies).
# Not part of `make bench`: about 2 minutes on 2 cores.
#
# usage: [OUT=DIR] sh bench/restore_noise.sh [NOISES...]   (default 0 0.05 0.1 0.2 0.4 0.8 1.6)
set -eu
K=${KAKEYA_BIN:-bin/kakeya}
[ -n "${KAKEYA_BIN:-}" ] || make -s WERROR=-Werror all
OUT=${OUT:-build/bench/restore_noise}
NOISES=${*:-"0 0.05 0.1 0.2 0.4 0.8 1.6"}
mkdir -p "$OUT"
files=""
for x in $NOISES; do
    f=$("$K" run proposer-noise --set "proposer=synth:niah?role=proposer&key_noise=$x" \
        --out "$OUT" --threads 2 --quiet 2>/dev/null | tail -n 1)
    files="$files $f"
done
python3 - $files <<'PY'
import json, sys
print("| proposer key noise | fit held-out rel_mse K | V | restored layer 1 K | V | mass on the needle | recall | 95% interval |")
print("|---|---|---|---|---|---|---|---|")
for path in sys.argv[1:]:
    d = json.load(open(path))
    prop = next(m["source"] for m in d["models"] if m["role"] == "proposer")
    x = prop.split("key_noise=")[1]
    a = next(a for a in d["arms"] if a["name"] == "ftheta")
    m = a["metrics"]
    l1 = m["restored_layers"][1]
    print("| %s | %.3g | %.3g | %.3g | %.3g | %.3f | %d/%d | [%.2f, %.2f] |" % (
        x, m["rel_mse_restored_heldout_k"], m["rel_mse_restored_heldout_v"],
        l1["rel_mse_restored_k"], l1["rel_mse_restored_v"], l1["attention_mass_needle"],
        m["hits"], m["n"], m["recall_ci_lo"], m["recall_ci_hi"]))
PY
