#!/bin/sh
# Rate-distortion with recall on synthetic K/V (docs/codecs.md "On synthetic
# K/V with recall"). For each synthetic model and codec arm:
#   kakeya codec eval --codec ARM --data k:MODEL   (rel_mse of K)
#   kakeya codec eval --codec ARM --data v:MODEL   (rel_mse of V)
#   kakeya niah -m MODEL --ctx CTX --samples S --kv-codec ARM
#       (recall with the codec in the KV cache, 95% Wilson interval over
#        every cell of the run)
# Each arm runs without and with rotate=hadamard; an arm KSPEC|VSPEC (KIVI:
# keys per channel along tokens, values per token) gives K and V their own
# codecs (--kv-codec-v) and runs once (axis=token takes no rotation).
# Prints one Markdown table per model on stdout; JSON lines (one per model
# and arm) go to build/bench/codec_rd.jsonl. Not part of `make bench`: it
# takes about 10 minutes on 2 cores.
#
# usage: sh bench/codec_rd.sh [CTX [SAMPLES]]   (default 1024 40)
set -eu
CTX=${1:-1024}
SAMPLES=${2:-40}
# KAKEYA_BIN: a copy of the binary, so rebuilding during the run changes nothing.
K=${KAKEYA_BIN:-build/release/kakeya}
[ -n "${KAKEYA_BIN:-}" ] || make -s WERROR=-Werror "$K"
mkdir -p build/bench
tmp=$(mktemp -d /tmp/kakeya_codec_rd_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
out=build/bench/codec_rd.jsonl
: >"$out"

# name|synth flags
MODELS=${MODELS_OVERRIDE:-'default|
outliers|--outliers 4
rotated|--rotate all
rotated+outliers|--rotate all --outliers 4
hard|--hard
hard+outliers|--hard --outliers 4'}

ARMS="${ARMS_OVERRIDE:-identity f16 q8_0 q4_0 affine:bits=8,group=64 affine:bits=4,group=64
affine:bits=2,group=64 d4:bits=4 e8:bits=4 e8:bits=3 e8:bits=2
affine:bits=4,group=32,axis=token|affine:bits=4,group=32
affine:bits=2,group=32,axis=token|affine:bits=2,group=32}"

echo "$MODELS" | while IFS='|' read -r name flags; do
    m="$tmp/$name.gguf"
    # shellcheck disable=SC2086
    "$K" model synth -o "$m" $flags 2>/dev/null
    echo
    echo "model \`$name\` (\`kakeya model synth${flags:+ $flags}\`), niah ctx $CTX, $SAMPLES samples x 3 depths"
    echo
    echo "| codec | bits/value | rel_mse K | rel_mse V | recall | 95% CI | min margin |"
    echo "|---|---|---|---|---|---|---|"
    for base in $ARMS; do
        kspec=${base%%|*}
        vspec=${base#*|}
        rots="none hadamard"
        [ "$kspec" = "$base" ] || rots=none
        for rot in $rots; do
            if [ "$rot" = none ]; then arm=$kspec; varm=$vspec
            else case $base in *:*) arm="$base,rotate=hadamard" ;; *) arm="$base:rotate=hadamard" ;; esac
                varm=$arm
            fi
            ek=$("$K" codec eval --codec "$arm" --data "k:$m" --json --threads 1)
            ev=$("$K" codec eval --codec "$varm" --data "v:$m" --json --threads 1)
            nj=$("$K" niah -m "$m" --ctx "$CTX" --samples "$SAMPLES" --kv-codec "$arm" \
                --kv-codec-v "$varm" --threads 1 --json 2>/dev/null)
            [ "$varm" = "$arm" ] || arm="K $arm; V $varm"
            jq -n -c --arg model "$name" --arg flags "$flags" --arg arm "$arm" \
                --argjson k "$ek" --argjson v "$ev" --argjson n "$nj" '
                ([$n.cells[].hits] | add) as $h | ([$n.cells[].n] | add) as $t |
                ($h / $t) as $p | (1.959963984540054) as $z | ($z * $z / $t) as $z2n |
                (($p + $z2n / 2) / (1 + $z2n)) as $c |
                ($z * (($p * (1 - $p) / $t + $z2n / (4 * $t)) | sqrt) / (1 + $z2n)) as $hw |
                {model: $model, synth: $flags, codec: $arm, canonical: $n.model.niah.kv_codec,
                 bits_per_value: $k.bits_per_value, rel_mse_k: $k.rel_mse,
                 rel_mse_v: $v.rel_mse, hits: $h, n: $t, recall: $p,
                 ci_lo: (if $h == 0 then 0 else ([$c - $hw, 0] | max) end),
                 ci_hi: (if $h == $t then 1 else ([$c + $hw, 1] | min) end),
                 min_margin: ([$n.cells[].min_margin] | min),
                 k_values_encoded: $n.model.niah.k_values_encoded}' >>"$out"
            tail -n 1 "$out" | jq -r '[.codec, .bits_per_value, .rel_mse_k, .rel_mse_v,
                .recall, .ci_lo, .ci_hi, .min_margin] | @tsv' |
                awk -F '\t' '{printf "| `%s` | %.4g | %.3g | %.3g | %.3f | [%.3f, %.3f] | %.1f |\n",
                    $1, $2, $3, $4, $5, $6, $7, $8}'
        done
    done
done
