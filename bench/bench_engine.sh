#!/bin/sh
# `make bench` driver for bench/bench_engine.c: kakeya against llama.cpp on
# the same generated GGUF files (F32, F16, Q8_0; 1 and 2 threads), in one
# run, repetitions interleaved. Table on stdout, JSON lines in
# build/bench/engine.jsonl, progress on stderr. REPS (default 5) sets the
# repetitions. Builds llama.cpp with `make refengine` (bench/refengine.sh)
# when the cache holds no build yet.
set -eu
CACHE=${KAKEYA_CACHE:-$HOME/.cache/kakeya}
ROOT=$CACHE/llama.cpp
REPS=${REPS:-5}
make -s WERROR=-Werror build/release/libkk_bench.a build/release/libkk_engine.a build/release/libkk_common.a build/release/kakeya
[ -f "$ROOT/build/.kakeya-built" ] || sh bench/refengine.sh >&2
mkdir -p build/bench
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wpedantic -Werror -Iengine -Icommon -Ibench/lib \
    -o build/bench/bench_engine bench/bench_engine.c build/release/libkk_bench.a build/release/libkk_engine.a \
    build/release/libkk_common.a -lopenblas -lm -lpthread
LIBDIR=$(dirname "$(find "$ROOT/build" -name 'libllama.so' | head -n 1)")
GGMLDIR=$(dirname "$(find "$ROOT/build" -name 'libggml.so' | head -n 1)")
GGMLBASE=$(dirname "$(find "$ROOT/build" -name 'libggml-base.so' | head -n 1)")
DRV=build/bench/llamacpp_bench
cc -std=c11 -O2 -Wall -Wextra -Icommon -I"$ROOT/src/include" -I"$ROOT/src/ggml/include" \
    -o "$DRV" bench/llamacpp_bench.c build/release/libkk_common.a \
    -L"$LIBDIR" -L"$GGMLDIR" -L"$GGMLBASE" \
    -lllama -lggml -lggml-base -Wl,-rpath,"$LIBDIR" -Wl,-rpath,"$GGMLDIR" \
    -Wl,-rpath,"$GGMLBASE" -lm

# The kernel variants: this host's tune cache (`kakeya tune`), unless
# KAKEYA_KERNELS forces a variant (e.g. KAKEYA_KERNELS=f16_gemv=tile1 to
# compare the GEMV kernels on any host); the measuring process and the
# kakeya children read the same value.
if [ -z "${KAKEYA_KERNELS:-}" ]; then
    KAKEYA_KERNELS=$(build/release/kakeya tune --show 2>/dev/null)
fi
export KAKEYA_KERNELS
echo "bench_engine: kernels $KAKEYA_KERNELS" >&2

# Machine facts for every JSON line.
esc() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
CPU=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
FLAGS=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx|avx2|fma|f16c|avx512f|avx512bw|avx512vl|avx512_vnni|avx_vnni|avx512_bf16)$' | tr '\n' ' ' | sed 's/ $//')
CORES=$(nproc)
BLAS=$(dpkg-query -W -f='${Package} ${Version}' libopenblas0-pthread 2>/dev/null || echo openblas)
LLAMA_COMMIT=$(cat "$ROOT/build/.kakeya-built" 2>/dev/null || echo unknown)
LLAMA_TAG=$(git -C "$ROOT/src" describe --tags --always 2>/dev/null || echo unknown)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git status --porcelain 2>/dev/null | grep -q . && echo true || echo false)
FACTS="\"cpu\":\"$(esc "$CPU")\",\"cpu_flags\":\"$FLAGS\",\"cores\":$CORES,\"blas\":\"$(esc "$BLAS")\",\"node_llama_cpp\":\"3.22.1\",\"llamacpp_release\":\"$(esc "$LLAMA_TAG")\",\"llamacpp_commit\":\"$LLAMA_COMMIT\",\"git_commit\":\"$COMMIT\",\"git_dirty\":$DIRTY"
build/bench/bench_engine run "$CACHE/bench-models" "$(pwd)/build/release/kakeya" "$DRV" "$REPS" "$FACTS"
