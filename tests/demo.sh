#!/bin/sh
# The README's main job on the built-in default: a random-weight llama model
# written by kakeya's GGUF writer from seed 1, inspected, then generated from.
set -eu
out=build/demo
mkdir -p "$out"
bin/kakeya model random -o "$out/random-llama.gguf" --seed 1
bin/kakeya model info "$out/random-llama.gguf"
bin/kakeya generate -m "$out/random-llama.gguf" -p "Once upon a time" -n 32 --json
