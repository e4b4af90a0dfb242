#!/bin/sh
# `make bench` driver for bench/bench_codec.c: codec throughput, fast paths
# against their _ref paths in the same run, L2 working set and a large
# buffer against memcpy bandwidth. JSON lines: build/bench/codec.jsonl.
set -eu
make -s WERROR=-Werror build/release/libkk_engine.a build/release/libkk_common.a
mkdir -p build/bench
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wpedantic -Werror -Iengine -Icommon \
    -o build/bench/bench_codec bench/bench_codec.c build/release/libkk_engine.a \
    build/release/libkk_common.a -lopenblas -lm -lpthread
build/bench/bench_codec build/bench/codec.jsonl "$@"
