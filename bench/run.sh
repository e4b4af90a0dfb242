#!/bin/sh
# `make bench`: runs every bench/bench_*.sh in turn. Each prints a table on
# stdout with ratios against a reference measured in the same run and writes
# JSON lines under build/bench/ (never under evidence/).
set -eu
mkdir -p build/bench
n=0
for b in bench/bench_*.sh; do
    [ -f "$b" ] || continue
    echo "== $b" >&2
    sh "$b"
    n=$((n + 1))
done
[ "$n" -gt 0 ] || echo "bench: no benchmark drivers yet" >&2
