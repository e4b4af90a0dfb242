#!/bin/sh
# llama.cpp's token ids for the byte-level BPE cases, committed as
# tests/engine/data/bpe_refs_qwen3.json and bpe_refs_llama3.json for
# tests/engine/test_tokenizer_bpe.c (CI builds no llama.cpp).
# Needs llama.cpp's tokenizer driver (make refengine) and the vocabulary
# files of bench/bpe_fixtures.sh in ${KAKEYA_CACHE:-~/.cache/kakeya}/fixtures.
#
#   1. The driver checked on llama.cpp's own test files: for
#      models/ggml-vocab-{qwen2,llama-bpe}.gguf.inp (its test-tokenizer-0
#      cases, add_special and parse_special false) the driver's ids must be
#      the .out lines, on llama.cpp's vocabulary file and on ours (the same
#      BPE vocabulary and merges). Any difference stops the script.
#   2. The cases (tests/engine/data/bpe_cases.json, bench/bpe_cases.py) on
#      qwen3-vocab.gguf and llama3-vocab.gguf; the Qwen3 run is repeated on
#      the committed model tests/engine/data/qwen3-tiny.gguf (its tokenizer
#      keys are the vocabulary's) and must give the same document.
#   3. Each reference file: the driver's document (ids, detokenized text,
#      pieces: bench/llamacpp_tokenize.c) plus llama.cpp's commit, the
#      vocabulary file's sha256 and the cases file's sha256.
set -eu
HERE=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${KAKEYA_CACHE:-$HOME/.cache/kakeya}
DRV=$CACHE/llama.cpp/llamacpp_tokenize
SRC=$CACHE/llama.cpp/src
FIX=$CACHE/fixtures
DATA=$HERE/tests/engine/data
CASES=$DATA/bpe_cases.json
[ -x "$DRV" ] || { echo "bpe_refs: $DRV missing: run make refengine" >&2; exit 2; }
for f in "$FIX/qwen3-vocab.gguf" "$FIX/llama3-vocab.gguf"; do
    [ -f "$f" ] || { echo "bpe_refs: $f missing: run bench/bpe_fixtures.sh" >&2; exit 2; }
done
COMMIT=$(head -n 1 "$CACHE/llama.cpp/build/.kakeya-built" 2>/dev/null || echo unknown)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# llama.cpp prints a backtrace (through gdb) when a case kills llama_tokenize
export GGML_NO_BACKTRACE=1

# ---- 1. llama.cpp's own .inp/.out ----------------------------------------
inp_check() { # NAME OURS
    python3 - "$SRC/models/ggml-vocab-$1.gguf.inp" "$TMP/$1.inp.json" <<'PY'
import json, sys
raw = open(sys.argv[1], "rb").read()
parts = raw.split(b"\n__ggml_vocab_test__\n")
if parts and parts[-1] == b"":
    parts.pop()  # the file ends with the separator (test-tokenizer-0 drops it the same way)
json.dump({"cases": [{"name": f"inp-{i}", "hex": p.hex()} for i, p in enumerate(parts)]},
          open(sys.argv[2], "w"))
PY
    for v in "$SRC/models/ggml-vocab-$1.gguf" "$2"; do
        "$DRV" "$v" --cases "$TMP/$1.inp.json" >"$TMP/out.json" 2>"$TMP/err.txt" ||
            { cat "$TMP/err.txt" >&2; exit 2; }
        python3 - "$TMP/out.json" "$SRC/models/ggml-vocab-$1.gguf.out" "$v" <<'PY'
import json, sys
got = json.load(open(sys.argv[1]))["cases"]
want = [[int(x) for x in l.split()] for l in open(sys.argv[2], encoding="utf-8")]
bad = [c["name"] for c, w in zip(got, want) if c["plain"].get("ids") != w]
print(f"bpe_refs: {sys.argv[3]}: {len(got) - len(bad)}/{len(want)} of llama.cpp's "
      f"test-tokenizer-0 cases agree with its .out" + (f" (differ: {bad})" if bad else ""))
sys.exit(1 if bad or len(got) != len(want) else 0)
PY
    done
}
inp_check qwen2 "$FIX/qwen3-vocab.gguf"
inp_check llama-bpe "$FIX/llama3-vocab.gguf"

# ---- 2. and 3. the cases ----------------------------------------------------
refs() { # VOCAB OUT
    "$DRV" "$1" --cases "$CASES" >"$TMP/doc.json"
    python3 - "$TMP/doc.json" "$2" "$COMMIT" "$1" "$CASES" <<'PY'
import hashlib, json, os, sys
doc_path, out, commit, vocab, cases = sys.argv[1:6]
doc = json.load(open(doc_path))
sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
head = {"reference_engine": f"llama.cpp {commit} (bench/llamacpp_tokenize.c: llama_tokenize, "
        "llama_token_to_piece with lstrip 0 and special false, llama_detokenize with "
        "remove_special and unparse_special false)",
        "made_by": "bench/bpe_refs.sh", "vocab": os.path.basename(vocab),
        "vocab_sha256": sha(vocab), "cases": "tests/engine/data/bpe_cases.json",
        "cases_sha256": sha(cases), "n_vocab": doc["n_vocab"], "add_bos": doc["add_bos"],
        "add_eos": doc["add_eos"]}
dump = lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=True)
lines = [dump(head)[:-1] + ',"cases":[']
lines += [dump(c) + ("," if i + 1 < len(doc["cases"]) else "") for i, c in enumerate(doc["cases"])]
for key in ("pieces", "pieces_special"):
    items = list(doc[key].items())
    lines.append('],"%s":{' % key if key == "pieces" else '},"%s":{' % key)
    lines += [dump(k) + ":" + dump(v) + ("," if i + 1 < len(items) else "")
              for i, (k, v) in enumerate(items)]
lines.append("}}")
tmp = out + ".tmp"
with open(tmp, "w") as f:
    f.write("\n".join(lines) + "\n")
json.load(open(tmp))  # it parses
os.replace(tmp, out)
n_err = sum(1 for c in doc["cases"] if "error" in c["special"] or "error" in c["plain"])
print(f"bpe_refs: {len(doc['cases'])} cases ({n_err} where llama.cpp aborts), "
      f"{len(doc['pieces'])} pieces -> {out}")
PY
}
refs "$FIX/qwen3-vocab.gguf" "$DATA/bpe_refs_qwen3.json"
refs "$FIX/llama3-vocab.gguf" "$DATA/bpe_refs_llama3.json"
"$DRV" "$FIX/qwen3-vocab.gguf" --cases "$CASES" >"$TMP/a.json" 2>/dev/null
"$DRV" "$DATA/qwen3-tiny.gguf" --cases "$CASES" >"$TMP/b.json" 2>/dev/null
cmp -s "$TMP/a.json" "$TMP/b.json" ||
    { echo "bpe_refs: qwen3-tiny.gguf tokenizes unlike qwen3-vocab.gguf" >&2; exit 1; }
echo "bpe_refs: qwen3-tiny.gguf gives the same ids, pieces and texts as qwen3-vocab.gguf"
