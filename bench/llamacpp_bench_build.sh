#!/bin/sh
# `make bench-driver`: builds build/bench/llamacpp_bench (bench/llamacpp_bench.c,
# llama.cpp's side of the engine benchmark) against the `make refengine`
# build in ${KAKEYA_CACHE:-$HOME/.cache/kakeya}/llama.cpp, with the same
# command as bench/bench_engine.sh, and records the llama.cpp commit it
# links in build/bench/llamacpp_bench.commit (the engine-bench preset
# writes it into its evidence). Nothing else: no benchmark runs.
set -eu
CACHE=${KAKEYA_CACHE:-$HOME/.cache/kakeya}
ROOT=$CACHE/llama.cpp
if [ ! -f "$ROOT/build/.kakeya-built" ]; then
    echo "bench-driver: no llama.cpp build in $ROOT; run \`make refengine\` first" >&2
    exit 2
fi
LIBDIR=$(dirname "$(find "$ROOT/build" -name 'libllama.so' | head -n 1)")
GGMLDIR=$(dirname "$(find "$ROOT/build" -name 'libggml.so' | head -n 1)")
GGMLBASE=$(dirname "$(find "$ROOT/build" -name 'libggml-base.so' | head -n 1)")
DRV=build/bench/llamacpp_bench
make -s WERROR=-Werror build/release/libkk_common.a
mkdir -p build/bench
${CC:-cc} -std=c11 -O2 -Wall -Wextra -Icommon -I"$ROOT/src/include" -I"$ROOT/src/ggml/include" \
    -o "$DRV" bench/llamacpp_bench.c build/release/libkk_common.a \
    -L"$LIBDIR" -L"$GGMLDIR" -L"$GGMLBASE" \
    -lllama -lggml -lggml-base -Wl,-rpath,"$LIBDIR" -Wl,-rpath,"$GGMLDIR" \
    -Wl,-rpath,"$GGMLBASE" -lm
cp "$ROOT/build/.kakeya-built" "$DRV.commit"
echo "bench-driver: $DRV (llama.cpp $(cat "$DRV.commit"))"
