#!/bin/bash
# device_run: build, test and measure the CUDA codecs on a fresh GPU machine
# where only the working tree is present (docs/gpu.md, "On a lent GPU
# machine"): the Debian packages bin/kakeya links come along as .deb files
# in the ignored folder .debs/, and .git comes along so the evidence names
# its commit.
#
#   bash bench/cuda/device_run.sh [OUTDIR]      (default: $OUT, else ./device-out)
#
# Steps, each logged to OUTDIR (at most 8 files come back from a lent
# machine: this writes 7, and extra.log for KK_DEVICE_EXTRA):
#   provenance.txt      date, host, nvidia-smi, nvcc --version, gcc, the commit
#   build.log           the .debs unpacked into /tmp/debroot (dpkg -x), make all,
#                       ldd bin/kakeya, make cuda
#   test_cuda.log       make test-cuda (host tests, then the GPU tests)
#   bench_cuda_codecs.txt / .jsonl   the codec benchmark (table, JSON lines),
#                       then the tile kernels of the fast codecs for comparison
#   ncu.txt             Nsight Compute's basic set for the large-shape kernels
#   summary.txt         one line per step with its exit status
# Environment: JOBS (make -j, default nproc), KK_DEVICE_EXTRA (a command run
# last, its output in extra.log: the attention helper's bench; EXTRA_FIRST=1
# runs it right after the build instead), NCU (default
# 1: profile one encode and one decode of q8_0, affine-4 and kl_e8 at 64 Mi
# values with ncu --set basic into ncu.txt; NCU=0 skips it). With both, 8
# files come back: the most a lent machine returns.
# Debian's cblas.h and libopenblas.so are links through /etc/alternatives,
# which dpkg -x does not make: the openblas-pthread folders go on the paths.
set -u
cd "$(dirname "$0")/../.." || exit 2
# The lent machine gets no .git; .devmeta/git.tar is a depth-1 clone's .git
# (bench/cuda/device_prepare.sh), so git names the commit and the evidence
# is not dirty.
if [ ! -d .git ] && [ -f .devmeta/git.tar ]; then
    tar xf .devmeta/git.tar && git checkout -q -- . 2>/dev/null; git status --short | head -5
fi
OUTDIR=${1:-${OUT:-$PWD/device-out}}
mkdir -p "$OUTDIR" || exit 2
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 8)}
SUMMARY=$OUTDIR/summary.txt
: >"$SUMMARY"

step() { # step NAME LOGFILE CMD...: run, append output to LOGFILE, record status
    name=$1 log=$2
    shift 2
    touch "$log"
    before=$(wc -l <"$log")
    echo "== $name: $*" >>"$log"
    start=$(date +%s)
    "$@" >>"$log" 2>&1
    rc=$?
    echo "$name: rc=$rc, $(($(date +%s) - start)) s" | tee -a "$log" >>"$SUMMARY"
    tail -n +"$((before + 1))" "$log" | tail -n 25 | sed 's/^/    /'
    return $rc
}

commit_of() { # the commit without needing git on the machine
    if command -v git >/dev/null 2>&1 && git rev-parse HEAD >/dev/null 2>&1; then
        echo "$(git rev-parse HEAD)$(git status --porcelain --untracked-files=no | grep -q . && echo ' (modified tracked files)')"
        return
    fi
    [ -f .git/HEAD ] || { echo "unknown (no .git)"; return; }
    ref=$(sed -n 's/^ref: //p' .git/HEAD)
    if [ -z "$ref" ]; then cat .git/HEAD
    elif [ -f ".git/$ref" ]; then cat ".git/$ref"
    else grep " $ref\$" .git/packed-refs 2>/dev/null | cut -d' ' -f1
    fi
}

# ---- provenance ----------------------------------------------------------------
P=$OUTDIR/provenance.txt
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -a)"
    echo "cpus: $(nproc 2>/dev/null)"
    echo "commit: $(commit_of)"
    echo "== nvidia-smi"
    nvidia-smi 2>&1 || echo "nvidia-smi failed"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit \
        --format=csv 2>&1
    echo "== nvcc --version"
    { command -v nvcc >/dev/null && nvcc --version; } || /usr/local/cuda/bin/nvcc --version 2>&1 ||
        echo "nvcc not found"
    echo "== cc"
    { cc --version || gcc --version; } 2>&1 | head -1
} >"$P" 2>&1
cat "$P"

# ---- Debian packages into /tmp/debroot --------------------------------------------
DEBROOT=/tmp/debroot
B=$OUTDIR/build.log
: >"$B"
unpack() {
    mkdir -p "$DEBROOT"
    n=0
    for f in .debs/*.deb; do
        [ -f "$f" ] || continue
        dpkg -x "$f" "$DEBROOT" || return 1
        n=$((n + 1))
    done
    echo "unpacked $n packages into $DEBROOT"
    [ "$n" -gt 0 ]
}
step unpack-debs "$B" unpack
MA=$DEBROOT/usr/lib/x86_64-linux-gnu
export CPATH=$DEBROOT/usr/include:$DEBROOT/usr/include/x86_64-linux-gnu:$DEBROOT/usr/include/x86_64-linux-gnu/openblas-pthread${CPATH:+:$CPATH}
export LIBRARY_PATH=$MA/openblas-pthread:$MA:$DEBROOT/lib/x86_64-linux-gnu${LIBRARY_PATH:+:$LIBRARY_PATH}
export LD_LIBRARY_PATH=$LIBRARY_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# gcc searches LIBRARY_PATH after its own folders: -L first, so that a
# partial copy on the machine (a libyaml.so of another package) never wins
export LDFLAGS="-L$MA/openblas-pthread -L$MA${LDFLAGS:+ $LDFLAGS}"
command -v make >/dev/null 2>&1 || export PATH=$DEBROOT/usr/bin:$PATH
# git (carried as a .deb where the image has none) names the evidence's commit
command -v git >/dev/null 2>&1 || export PATH=$PATH:$DEBROOT/usr/bin
command -v nvcc >/dev/null 2>&1 || export PATH=$PATH:/usr/local/cuda/bin
command -v cc >/dev/null 2>&1 || export CC=gcc
{
    echo "CPATH=$CPATH"
    echo "LIBRARY_PATH=$LIBRARY_PATH"
    echo "LDFLAGS=$LDFLAGS"
    echo "make: $(command -v make)  nvcc: $(command -v nvcc)"
} >>"$B"

# ---- build ----------------------------------------------------------------------
step make-all "$B" make -j"$JOBS" all
step ldd "$B" ldd bin/kakeya && ldd bin/kakeya >>"$P" 2>&1
step kakeya-smoke "$B" bin/kakeya codec eval --codec q8_0 --data gaussian --json
step make-cuda "$B" make -j"$JOBS" cuda

run_extra() {
    if [ -n "${KK_DEVICE_EXTRA:-}" ]; then
        step extra "$OUTDIR/extra.log" sh -c "$KK_DEVICE_EXTRA"
    fi
}
# EXTRA_FIRST=1: the extra command right after the build, before the tests
# and benchmarks (a first call that must bring the evidence back even if
# the rest outlasts the call's limit)
[ "${EXTRA_FIRST:-0}" = 1 ] && run_extra

# ---- tests ----------------------------------------------------------------------
# bounded, so that a hung kernel leaves time for the rest inside one call
KAKEYA_TEST_TIMEOUT=${KAKEYA_TEST_TIMEOUT:-240} step test-cuda "$OUTDIR/test_cuda.log" make test-cuda

# ---- benchmarks -----------------------------------------------------------------
BT=$OUTDIR/bench_cuda_codecs.txt BJ=$OUTDIR/bench_cuda_codecs.jsonl
: >"$BJ"
if [ -x build/cuda/bench/bench_cuda_codecs ]; then
    step bench "$BT" timeout 300 build/cuda/bench/bench_cuda_codecs --json "$BJ"
    step bench-tile "$BT" timeout 120 build/cuda/bench/bench_cuda_codecs --json "$BJ" --impl tile \
        q8_0 q4_0 affine:bits=4,group=64 affine:bits=8,group=64
fi

if [ "${NCU:-1}" = 1 ] && command -v ncu >/dev/null 2>&1; then
    step ncu "$OUTDIR/ncu.txt" timeout 180 ncu --clock-control none --set basic -k regex:k_ \
        build/cuda/bench/bench_cuda_codecs --once --shape large q8_0 affine:bits=4,group=64 kl_e8:q=10
fi
[ "${EXTRA_FIRST:-0}" = 1 ] || run_extra

echo "== summary ($OUTDIR)"
cat "$SUMMARY"
grep -E '^FAIL|^test_cuda_codecs:|^host_kkcu_arith:|^test-cuda:' "$OUTDIR/test_cuda.log" 2>/dev/null | head -40
[ -s "$BT" ] && grep -v '^==' "$BT" | head -150
! grep -q 'rc=[1-9]' "$SUMMARY"
