#!/bin/sh
# `make refengine`: builds llama.cpp's library (the reference engine of the
# cross-checks) from the source bundled in the npm package node-llama-cpp,
# into ${KAKEYA_CACHE:-$HOME/.cache/kakeya}/llama.cpp, once. Then builds the
# small drivers bench/llamacpp_{driver,logits,tokenize}.c against it (each is rebuilt
# when its source is newer). Nothing from llama.cpp enters the repository.
#
# `npm pack` only downloads the package tarball: no install script runs.
# Idempotent: a finished build leaves build/.kakeya-built; a second run only
# checks the driver. Honours NICE (default 10) and JOBS (default 2).
set -eu
CACHE=${KAKEYA_CACHE:-$HOME/.cache/kakeya}
ROOT=$CACHE/llama.cpp
PKG=node-llama-cpp@3.22.1
JOBS=${JOBS:-2}
NICE=${NICE:-10}
HERE=$(cd "$(dirname "$0")/.." && pwd)

mkdir -p "$ROOT"
if [ ! -f "$ROOT/build/.kakeya-built" ]; then
    if [ ! -d "$ROOT/src/.git" ]; then
        tmp=$(mktemp -d "$ROOT/pack.XXXXXX")
        trap 'rm -rf "$tmp"' EXIT
        (cd "$tmp" && npm pack --silent "$PKG" >/dev/null)
        tar -xzf "$tmp"/node-llama-cpp-*.tgz -C "$tmp" package/llama/gitRelease.bundle
        rm -rf "$ROOT/src"
        git -c advice.detachedHead=false clone --quiet "$tmp/package/llama/gitRelease.bundle" "$ROOT/src"
        rm -rf "$tmp"
    fi
    nice -n "$NICE" cmake -S "$ROOT/src" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release \
        -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
        -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
    nice -n "$NICE" cmake --build "$ROOT/build" --target llama -j "$JOBS"
    (cd "$ROOT/src" && git rev-parse HEAD) >"$ROOT/build/.kakeya-built"
fi

# The drivers: plain C against llama.h; the libraries are found by rpath.
# Each is rebuilt when its source is newer.
LIBDIR=$(dirname "$(find "$ROOT/build" -name 'libllama.so' | head -n 1)")
GGMLDIR=$(dirname "$(find "$ROOT/build" -name 'libggml.so' | head -n 1)")
GGMLBASE=$(dirname "$(find "$ROOT/build" -name 'libggml-base.so' | head -n 1)")
driver() { # NAME: bench/NAME.c -> $ROOT/NAME
    if [ ! -x "$ROOT/$1" ] || [ "$HERE/bench/$1.c" -nt "$ROOT/$1" ]; then
        ${CC:-cc} -std=c11 -O2 -Wall -Wextra -I"$ROOT/src/include" -I"$ROOT/src/ggml/include" \
            -o "$ROOT/$1" "$HERE/bench/$1.c" \
            -L"$LIBDIR" -L"$GGMLDIR" -L"$GGMLBASE" -lllama -lggml -lggml-base \
            -Wl,-rpath,"$LIBDIR" -Wl,-rpath,"$GGMLDIR" -Wl,-rpath,"$GGMLBASE" -lm
    fi
}
driver llamacpp_driver
# The logits driver of the KL-divergence cross-check (bench/kld_crosscheck.sh).
driver llamacpp_logits
# The tokenizer driver of the byte-level BPE references (bench/bpe_refs.sh).
driver llamacpp_tokenize
echo "refengine: $ROOT/llamacpp_driver, llamacpp_logits, llamacpp_tokenize (llama.cpp $(cat "$ROOT/build/.kakeya-built"))"
