#!/bin/bash
# attn_device_run: the attention and codec_gpu steps of a run on a lent GPU
# machine (docs/gpu.md, "On a lent GPU machine"), after device_run.sh has
# built everything (make all, make cuda: bin/kakeya with CUDA) and run
# make test-cuda (test_cuda_attn among the GPU tests):
#
#   KK_DEVICE_EXTRA='bash bench/cuda/attn_device_run.sh' bash bench/cuda/device_run.sh
#
# Everything goes to stdout (device_run.sh's extra.log). The evidence is
# written to $OUT/evidence/codec-gpu/<stamp>.json and printed whole between
# "==== evidence begin PATH" and "==== evidence end" lines: a lent machine
# returns at most 8 files and device_run.sh already writes 8 with ncu, so
# the copy in extra.log is the one that surely comes back:
#   sed -n '/^==== evidence begin/,/^==== evidence end/{//!p}' extra.log \
#       > evidence/codec-gpu/STAMP-COMMIT.json    (PATH's last part)
# Steps, each with a time limit and its exit status in the summary at the end:
#   git         the commit and `git status` (the evidence must come from a
#               clean tree: DIRTY_TREE); a git unpacked from .debs/ is used
#               when the machine has none
#   sanitizer   compute-sanitizer memcheck of test_cuda_attn at short
#               contexts (out-of-bounds reads of the tile copies, races of
#               the merge would show here)
#   preset      kakeya run codec-gpu, then kakeya-gate on the evidence
#               (before the benches: the evidence matters most)
#   bench       bench_cuda_attn at 4k, 32k, 128k (table and JSON lines)
#   cli         kakeya codec attn and codec eval --device cuda, one each
#   ncu         Nsight Compute (--set full) on one fused q8_0 launch at 32k
# ATTN_STEPS picks them (default "git sanitizer bench cli preset"; add ncu,
# or run it alone in a second call on the warm machine).
set -u
cd "$(dirname "$0")/../.." || exit 2
OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT"
SUM=""
STEPS=" ${ATTN_STEPS:-git sanitizer bench cli preset} "
want() { case "$STEPS" in *" $1 "*) return 0 ;; esac; return 1; }
step() { # step NAME SECONDS CMD...: a hung kernel costs its step, not the call
    name=$1 limit=$2
    shift 2
    echo "==== $name: $*"
    start=$(date +%s)
    timeout "$limit" "$@"
    rc=$?
    echo "==== $name: rc=$rc, $(($(date +%s) - start)) s"
    SUM="$SUM$name rc=$rc; "
    return $rc
}

# git: kakeya run records the commit and whether the tree is clean
command -v git >/dev/null 2>&1 || export PATH=$PATH:/tmp/debroot/usr/bin
want git && step git 30 sh -c 'git --version && git rev-parse HEAD && git status --porcelain | head -20'

if ! want sanitizer; then
    :
elif command -v compute-sanitizer >/dev/null 2>&1; then
    step sanitizer 240 compute-sanitizer --tool memcheck --error-exitcode 9 \
        build/cuda/tests/test_cuda_attn --ctx 1,7,300
else
    echo "==== sanitizer: compute-sanitizer not found, skipped"
fi

if want preset; then
    rm -rf "$OUT/evidence"
    step preset 400 bin/kakeya run codec-gpu --out "$OUT/evidence"
    for f in "$OUT"/evidence/codec-gpu/*.json; do
        [ -f "$f" ] || continue
        echo "==== evidence begin ${f#"$OUT"/}"
        cat "$f"
        echo "==== evidence end"
    done
    step gate 60 bin/kakeya-gate "$OUT/evidence"
fi

want bench && step bench 300 build/cuda/bench/bench_cuda_attn

if want cli; then
    step cli-attn-q8 60 bin/kakeya codec attn --codec q8_0 --ctx 32768 --json
    step cli-attn-kl 60 bin/kakeya codec attn --codec kl_e8:q=10 --ctx 32768 --json
    step cli-eval-q8 60 bin/kakeya codec eval --codec q8_0 --data gaussian --device cuda --json
    step cli-eval-kl 60 bin/kakeya codec eval --codec kl_e8:q=10 --data gaussian --device cuda --json
fi

if want ncu && command -v ncu >/dev/null 2>&1; then
    step ncu 300 ncu --clock-control none --set full -k regex:attn_split --launch-skip 5 \
        --launch-count 1 build/cuda/bench/bench_cuda_attn --ctx 32768 --reps 20
fi

echo "attn_device_run: $SUM"
! echo "$SUM" | grep -q 'rc=[1-9]'
