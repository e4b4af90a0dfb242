#!/bin/sh
# `make bench` driver for bench/bench_json.c: the strict JSON reader against
# cJSON (bench-only) on a generated 7.5 MB evidence-like document.
set -eu
make -s WERROR=-Werror build/release/libkk_common.a
mkdir -p build/bench
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wpedantic -Werror -Icommon -Itests \
    -o build/bench/bench_json bench/bench_json.c build/release/libkk_common.a -lcjson -lm -lpthread
build/bench/bench_json "$@"
