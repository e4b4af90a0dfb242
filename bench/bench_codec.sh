#!/bin/sh
# `make bench` driver for bench/bench_codec.c: codec throughput, fast paths
# against their _ref paths in the same run, L2 working set and a large
# buffer against memcpy bandwidth. JSON lines: build/bench/codec.jsonl.
# Then, when the `make refengine` build of llama.cpp exists, q8_0 and q4_0
# encode against ggml's own quantizer (ggml_quantize_chunk) in the same run
# (bench/bench_codec_ggml.c); skipped with a message otherwise.
# An argument runs only the arms whose spec contains it.
set -eu
make -s WERROR=-Werror build/release/libkk_engine.a build/release/libkk_common.a
mkdir -p build/bench
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wpedantic -Werror -Iengine -Icommon \
    -o build/bench/bench_codec bench/bench_codec.c build/release/libkk_engine.a \
    build/release/libkk_common.a -lopenblas -lm -lpthread
build/bench/bench_codec build/bench/codec.jsonl "$@"

ROOT=${KAKEYA_CACHE:-$HOME/.cache/kakeya}/llama.cpp
BASE=$(find "$ROOT/build" -name 'libggml-base.so' 2>/dev/null | head -n 1 || true)
if [ -z "$BASE" ] || [ ! -f "$ROOT/src/ggml/include/ggml.h" ]; then
    echo
    echo "encode vs ggml_quantize_chunk: skipped (no refengine build in $ROOT; run make refengine)"
    exit 0
fi
LIBDIR=$(dirname "$BASE")
# ggml.h is C; -std=gnu11 for its use of non-ISO attributes.
cc -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Iengine -Icommon -I"$ROOT/src/ggml/include" \
    -o build/bench/bench_codec_ggml bench/bench_codec_ggml.c build/release/libkk_engine.a \
    build/release/libkk_common.a -L"$LIBDIR" -lggml-base -Wl,-rpath,"$LIBDIR" \
    -lopenblas -lm -lpthread
build/bench/bench_codec_ggml build/bench/codec.jsonl
