#!/bin/bash
# attn_device_run: the attention and codec_gpu steps of a run on a lent GPU
# machine (docs/gpu.md, "On a lent GPU machine"), after device_run.sh has
# built everything (make all, make cuda: bin/kakeya with CUDA) and run
# make test-cuda (test_cuda_attn among the GPU tests):
#
#   KK_DEVICE_EXTRA='bash bench/cuda/attn_device_run.sh' bash bench/cuda/device_run.sh
#
# Everything goes to stdout (device_run.sh's extra.log), except the
# evidence: $OUT/evidence/codec-gpu/<stamp>.json (two folders down: it
# comes back). Steps, each with its exit status in the summary at the end:
#   git         the commit and `git status` (the evidence must come from a
#               clean tree: DIRTY_TREE); a git unpacked from .debs/ is used
#               when the machine has none
#   sanitizer   compute-sanitizer memcheck of test_cuda_attn at short
#               contexts (out-of-bounds reads of the tile copies, races of
#               the merge would show here)
#   bench       bench_cuda_attn at 4k, 32k, 128k (table and JSON lines)
#   cli         kakeya codec attn and codec eval --device cuda, one each
#   preset      kakeya run codec-gpu, then kakeya-gate on the evidence
#   ncu         (NCU_ATTN=1) Nsight Compute on one fused launch at 32k
set -u
cd "$(dirname "$0")/../.." || exit 2
OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT"
SUM=""
step() { # step NAME CMD...
    name=$1
    shift
    echo "==== $name: $*"
    start=$(date +%s)
    "$@"
    rc=$?
    echo "==== $name: rc=$rc, $(($(date +%s) - start)) s"
    SUM="$SUM$name rc=$rc; "
    return $rc
}

# git: kakeya run records the commit and whether the tree is clean
command -v git >/dev/null 2>&1 || export PATH=$PATH:/tmp/debroot/usr/bin
step git sh -c 'git --version && git rev-parse HEAD && git status --porcelain | head -20'

if command -v compute-sanitizer >/dev/null 2>&1; then
    step sanitizer compute-sanitizer --tool memcheck --error-exitcode 9 \
        build/cuda/tests/test_cuda_attn --ctx 1,7,300
else
    echo "==== sanitizer: compute-sanitizer not found, skipped"
fi

step bench build/cuda/bench/bench_cuda_attn

step cli-attn-q8 bin/kakeya codec attn --codec q8_0 --ctx 32768 --json
step cli-attn-kl bin/kakeya codec attn --codec kl_e8:q=10 --ctx 32768 --json
step cli-eval-q8 bin/kakeya codec eval --codec q8_0 --data gaussian --device cuda --json
step cli-eval-kl bin/kakeya codec eval --codec kl_e8:q=10 --data gaussian --device cuda --json

rm -rf "$OUT/evidence"
step preset bin/kakeya run codec-gpu --out "$OUT/evidence"
step gate bin/kakeya-gate "$OUT/evidence"

if [ "${NCU_ATTN:-0}" = 1 ] && command -v ncu >/dev/null 2>&1; then
    step ncu ncu --clock-control none --set full -k regex:attn_split --launch-skip 5 \
        --launch-count 1 build/cuda/bench/bench_cuda_attn --ctx 32768 --reps 20
fi

echo "attn_device_run: $SUM"
! echo "$SUM" | grep -q 'rc=[1-9]'
