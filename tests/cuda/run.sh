#!/bin/sh
# Runs the CUDA test binaries (`make test-cuda`): the host tests
# (KK_HOST_BINS: kkcu's arithmetic on the CPU, no GPU needed) always, the
# GPU tests (KK_GPU_BINS) where `nvidia-smi -L` lists a GPU; says which ran
# and why. Exit 1 when a test that ran failed.
TIMEOUT=${KAKEYA_TEST_TIMEOUT:-900}
failed=""
ran=0
run() {
    printf '== %s\n' "$1"
    timeout "$TIMEOUT" "$1"
    rc=$?
    ran=$((ran + 1))
    [ $rc -ne 0 ] && failed="$failed $(basename "$1")(rc=$rc)"
}
for t in $KK_HOST_BINS; do run "$t"; done
if nvidia-smi -L >/dev/null 2>&1; then
    for t in $KK_GPU_BINS; do run "$t"; done
    gpu="GPU tests run on: $(nvidia-smi -L | head -1)"
else
    gpu="no GPU found (nvidia-smi -L failed): the GPU tests ($(for t in $KK_GPU_BINS; do basename "$t"; done | tr '\n' ' ')) were not run"
fi
echo "test-cuda: $ran binaries run; $gpu"
if [ -n "$failed" ]; then
    echo "test-cuda: failing:$failed"
    exit 1
fi
echo "test-cuda: all passed"
