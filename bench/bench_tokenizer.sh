#!/bin/sh
# bench_tokenizer: `kakeya tokenize` against llama.cpp's llama_tokenize on
# 1 MB of English text and 1 MB of code, with Qwen3's vocabulary (the
# committed fixture tests/engine/data/qwen3-tiny.gguf) and, when generated
# locally (bench/bpe_fixtures.sh), Llama 3's. Both sides time only the
# tokenizer call in their own process (vocabulary loaded, one untimed
# warm-up, median of BENCH_TOK_RUNS, default 7), in BENCH_TOK_ROUNDS
# (default 3) interleaved rounds; the median of the rounds is reported.
# Both must give the same number of tokens (the tests compare the ids).
# Corpora (made once under build/bench/): English = Python's pydoc topics
# (Debian's python3.11) then llama.cpp's docs/*.md, code = llama.cpp's
# src/*.cpp, each cut to 1,000,000 bytes at a line end.
# Needs llama.cpp's tokenizer driver (make refengine); skipped without it.
set -eu
export LC_ALL=C
cd "$(dirname "$0")/.."
CACHE=${KAKEYA_CACHE:-$HOME/.cache/kakeya}
DRV=$CACHE/llama.cpp/llamacpp_tokenize
SRC=$CACHE/llama.cpp/src
RUNS=${BENCH_TOK_RUNS:-7}
ROUNDS=${BENCH_TOK_ROUNDS:-3}
OUT=build/bench
KK=bin/kakeya
mkdir -p "$OUT"
[ -x "$KK" ] || { echo "bench_tokenizer: $KK not built (make all)" >&2; exit 3; }
if [ ! -x "$DRV" ] || [ ! -d "$SRC/src" ]; then
    echo "bench_tokenizer: $DRV missing (make refengine); skipped" >&2
    exit 0
fi
TOPICS=$(python3 -c 'import pydoc_data.topics as t; print(t.__file__)' 2>/dev/null || true)
cut_1mb() { head -c 1000000 | awk 'BEGIN{n=0} {n+=length($0)+1; if (n<=1000000) print}'; }
if [ ! -s "$OUT/tok_english.txt" ]; then
    { [ -n "$TOPICS" ] && cat "$TOPICS"; cat $(ls "$SRC"/docs/*.md "$SRC"/docs/*/*.md | LC_ALL=C sort); } \
        | LC_ALL=C cut_1mb > "$OUT/tok_english.txt"
fi
if [ ! -s "$OUT/tok_code.txt" ]; then
    cat $(ls "$SRC"/src/*.cpp | LC_ALL=C sort) | LC_ALL=C cut_1mb > "$OUT/tok_code.txt"
fi

VOCABS="qwen3 tests/engine/data/qwen3-tiny.gguf"
L3=${KAKEYA_LLAMA3_GGUF:-$CACHE/fixtures/llama3-tiny.gguf}
if [ -f "$L3" ]; then
    VOCABS="$VOCABS
llama3 $L3"
else
    echo "bench_tokenizer: no Llama 3 vocabulary at $L3 (bench/bpe_fixtures.sh makes it); Qwen3 only" >&2
fi

median() { printf '%s\n' $1 | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
printf '%-7s %-8s %9s %8s %11s %11s %9s %9s %7s\n' vocab text bytes tokens "kakeya ms" "llama.cpp ms" "kk MB/s" "ll MB/s" ratio
echo "$VOCABS" | while read -r name gguf; do
    [ -f "$gguf" ] || { echo "bench_tokenizer: $gguf missing" >&2; exit 2; }
    for text in english code; do
        f=$OUT/tok_$text.txt
        bytes=$(wc -c < "$f")
        kk_ms=""; ll_ms=""; kk_n=""; ll_n=""
        r=0
        while [ $r -lt "$ROUNDS" ]; do
            j=$("$KK" tokenize -m "$gguf" -f "$f" --no-bos --json --repeat "$RUNS")
            kk_ms="$kk_ms $(printf '%s' "$j" | python3 -c 'import json,sys; print(json.load(sys.stdin)["median_ms"])')"
            kk_n=$(printf '%s' "$j" | python3 -c 'import json,sys; print(json.load(sys.stdin)["n_tokens"])')
            l=$("$DRV" "$gguf" --bench "$f" --runs "$RUNS" --parse-special 2>/dev/null)
            ll_ms="$ll_ms $(printf '%s' "$l" | python3 -c 'import json,sys; print(json.load(sys.stdin)["median_ms"])')"
            ll_n=$(printf '%s' "$l" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"])')
            r=$((r + 1))
        done
        [ "$kk_n" = "$ll_n" ] || { echo "bench_tokenizer: $name $text: kakeya $kk_n tokens, llama.cpp $ll_n" >&2; exit 1; }
        mk=$(median "$kk_ms"); ml=$(median "$ll_ms")
        awk -v n="$name" -v t="$text" -v b="$bytes" -v k="$kk_n" -v mk="$mk" -v ml="$ml" 'BEGIN {
            printf "%-7s %-8s %9d %8d %11.1f %11.1f %9.2f %9.2f %6.2fx\n", n, t, b, k, mk, ml, b/1e3/mk, b/1e3/ml, ml/mk }'
        printf '{"bench":"tokenizer","commit":"%s","vocab":"%s","text":"%s","bytes":%s,"tokens":%s,"kakeya_ms":%s,"llamacpp_ms":%s,"runs":%s,"rounds":%s}\n' \
            "$commit" "$name" "$text" "$bytes" "$kk_n" "$mk" "$ml" "$RUNS" "$ROUNDS" >> "$OUT/tokenizer.jsonl"
    done
done
echo "ratio = llama.cpp ms / kakeya ms (> 1: kakeya is faster); one core each, same machine, same run" >&2
