#!/usr/bin/env python3
"""bpe_cases: the texts the byte-level BPE tokenizer is checked on against
llama.cpp, written as tests/engine/data/bpe_cases.json:
  {"made_by": "bench/bpe_cases.py", "seed": S,
   "cases": [{"name": "prose-en", "hex": "5468..."}, ...]}
Each case's text is bytes (hex), so invalid UTF-8 and NUL travel safely.
Names use letters, digits, '-', '_' and '.' only (bench/llamacpp_tokenize.c
scans them without a JSON parser).

Groups (the name's prefix): prose, code, digits, contraction, cjk, emoji,
combining, ws (runs of spaces, tabs, newlines, \\r\\n), long, empty,
special (special-token texts: whole, embedded, adjacent, partial), edge
(leading and trailing spaces), invalid (invalid UTF-8: llama.cpp turns
each bad sequence into U+FFFD), uspace (Unicode whitespace), random (a
splitmix64 stream over mixed scripts, so the bytes never depend on
Python's random module).

usage: bpe_cases.py [-o OUT]   (default tests/engine/data/bpe_cases.json)
"""
import json
import os
import re
import sys

SEED = 20250128


class SplitMix64:
    def __init__(self, seed):
        self.s = seed & 0xFFFFFFFFFFFFFFFF

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        return z ^ (z >> 31)

    def below(self, n):  # n small: the modulo bias is irrelevant here
        return self.next() % n

    def pick(self, xs):
        return xs[self.below(len(xs))]


def cases():
    out = []

    def add(name, text):
        b = text if isinstance(text, bytes) else text.encode("utf-8")
        assert re.fullmatch(r"[A-Za-z0-9_.-]+", name), name
        assert name not in {n for n, _ in out}, name
        out.append((name, b))

    # ---- prose
    add("prose-en", "The quick brown fox jumps over the lazy dog. It was a bright cold day "
        "in April, and the clocks were striking thirteen.")
    add("prose-hello", "Hello, world!")
    add("prose-hello-space", " Hello world")
    add("prose-punct", "Wait... what?! \"Quoted\" text -- with dashes; (parens) [brackets] "
        "{braces} <angles> a/b\\c @user #tag 50% & more*")
    add("prose-case", "HELLO World hELLO wOrLd CamelCaseWord snake_case_word")
    add("prose-fr", "Le c\u0153ur a ses raisons que la raison ne conna\u00eet point.")
    add("prose-de", "Gr\u00f6\u00dfenwahn und Stra\u00dfe: \u00dcberm\u00e4\u00dfig!")
    add("prose-ru", "\u0421\u044a\u0435\u0448\u044c \u0436\u0435 \u0435\u0449\u0451 "
        "\u044d\u0442\u0438\u0445 \u043c\u044f\u0433\u043a\u0438\u0445 "
        "\u0444\u0440\u0430\u043d\u0446\u0443\u0437\u0441\u043a\u0438\u0445 "
        "\u0431\u0443\u043b\u043e\u043a, \u0434\u0430 \u0432\u044b\u043f\u0435\u0439 "
        "\u0447\u0430\u044e.")
    add("prose-el", "\u039e\u03b5\u03c3\u03ba\u03b5\u03c0\u03ac\u03b6\u03c9 \u03c4\u03b7\u03bd "
        "\u03c8\u03c5\u03c7\u03bf\u03c6\u03b8\u03cc\u03c1\u03b1 \u03b2\u03b4\u03b5\u03bb"
        "\u03c5\u03b3\u03bc\u03af\u03b1.")
    add("prose-ar", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645! "
        "\u0647\u0630\u0627 \u0646\u0635 \u0639\u0631\u0628\u064a.")
    add("prose-he", "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd")
    add("prose-th", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01")
    add("prose-km", "\u1780\u17b6\u1793\u17cb\u178f\u17c2\u1796\u17b7\u179f\u17c1\u179f"
        "\u17a2\u17b6\u1785\u1781\u179b\u17c7")
    # The check text of llama.cpp's convert_hf_to_gguf.py get_vocab_base_pre.
    add("prose-chktxt", "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n\U0001f680 (normal) "
        "\U0001f636\u200d\U0001f32b\ufe0f (multiple emojis concatenated) \u2705 "
        "\U0001f999\U0001f999 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 "
        "\u1780\u17b6\u1793\u17cb\u178f\u17c2\u1796\u17b7\u179f\u17c1\u179f\u17a2\u17b6"
        "\u1785\U0001f601 ?\u6211\u60f3\u5728apple\u5de5\u4f5c1314151\u5929\uff5e "
        "------======= \u043d\u0435\u0449\u043e \u043d\u0430 \u0411\u044a\u043b\u0433"
        "\u0430\u0440\u0441\u043a\u0438 ''''''```````\"\"\"\"......!!!!!!?????? I've "
        "been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like "
        "some tea? We'Ve a'lL")

    # ---- code
    add("code-python", "import os\n\n\nclass Greeter:\n    \"\"\"Says hello.\"\"\"\n\n"
        "    def __init__(self, name: str) -> None:\n        self.name = name\n\n"
        "    def greet(self):\n        if not self.name:\n            raise ValueError("
        "'empty')\n        return f\"Hello, {self.name}!\"  # comment\n\n\n"
        "if __name__ == '__main__':\n    print(Greeter('world').greet())\n")
    add("code-python-tabs", "def f(x):\n\tif x > 0:\n\t\treturn x ** 2\n\telse:\n\t\t"
        "return -x\n")
    add("code-c", "#include <stdio.h>\n\nstatic int add(int a, int b)\n{\n\treturn a + b;"
        "\n}\n\nint main(int argc, char **argv)\n{\n\t/* sum */\n\tfor (int i = 0; i < "
        "argc; i++) {\n\t\tprintf(\"%d: %s\\n\", i, argv[i]);\n\t}\n\treturn add(1, 2) "
        "!= 3; // never\n}\n")
    add("code-json", "{\"key\": [1, 2.5, -3e10, true, null], \"nested\": {\"a\": \"b\"}}")
    add("code-shell", "for f in *.gguf; do\n  echo \"$f\" | sed -e 's/x/y/g' >> out.txt 2>&1"
        "\ndone && exit 0\n")
    add("code-mixed-indent", "    four\n\teight\n  \t mixed\n\t    tabs then spaces\n")

    # ---- digits
    d = "1234567890"
    for n in range(1, 41):
        add(f"digits-{n}", (d * 5)[:n])
    for i, s in enumerate(["1,234,567.89", "3.14159265358979", "-0.5e-10", "$1,000,000",
                           "1.000.000,00", "2024-01-15", "12:30:45", "v1.2.3", "0x1F",
                           "100%", "1 2 3 4 5", "  007", "9999999999999999999999",
                           "3.0 3.00 3.000", "\u0661\u0662\u0663 \u096a\u096b "
                           "\uff11\uff12\uff13", "\u00bd \u00b2 \u2163"]):
        add(f"digits-num-{i}", s)

    # ---- contractions ('s 't 're 've 'm 'll 'd in every case)
    for suffix in ["s", "S", "t", "T", "re", "RE", "Re", "rE", "ve", "VE", "Ve", "ll", "LL",
                   "Ll", "d", "D", "m", "M"]:
        add(f"contraction-{suffix}", f"it'{suffix} x'{suffix} '{suffix}")
    add("contraction-dont", "don't DON'T Don't I'M I'm i'm we'LL you'RE they'VE he'D")
    add("contraction-alone", "'s")
    add("contraction-space", " 've 'll ''s '''t")
    add("contraction-curly", "it\u2019s don\u2019t")
    add("contraction-chk", "I've been 'told he's there, 'RE you sure? 'M not sure I'll make "
        "it, 'D you like some tea? We'Ve a'lL")

    # ---- CJK
    add("cjk-zh", "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u4eca\u5929\u5929\u6c14\u5f88"
        "\u597d\u3002\u6211\u60f3\u5728apple\u5de5\u4f5c1314151\u5929\uff5e")
    add("cjk-ja-kana", "\u3053\u3093\u306b\u3061\u306f\u3001\u4e16\u754c\u3002\u30ab\u30bf"
        "\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a\u3002\uff76\uff80\uff76\uff85")
    add("cjk-ja-mixed", "\u6771\u4eac\u90fd\u306f\u65e5\u672c\u306e\u9996\u90fd\u3067\u3059"
        "\u3002Tokyo 2020")
    add("cjk-ko", "\uc548\ub155\ud558\uc138\uc694 \uc138\uacc4! \ud55c\uad6d\uc5b4 "
        "\ud14d\uc2a4\ud2b8\uc785\ub2c8\ub2e4.")
    add("cjk-ko-jamo", "\u1112\u1161\u11ab\u1100\u1173\u11af")
    add("cjk-fullwidth", "\uff21\uff22\uff23\uff11\uff12\uff13\uff01\uff1f")
    add("cjk-ext-b", "\U00020000\U00020001\U0002a6d6")

    # ---- emoji
    add("emoji-basic", "\U0001f680 (normal) \U0001f636\u200d\U0001f32b\ufe0f \u2705 "
        "\U0001f999\U0001f999")
    add("emoji-zwj-family", "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466")
    add("emoji-flags", "\U0001f1fa\U0001f1f8\U0001f1ef\U0001f1f5\U0001f1eb\U0001f1f7 "
        "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f")
    add("emoji-skin", "\U0001f44d\U0001f3fb\U0001f44d\U0001f3fc\U0001f44d\U0001f3fd"
        "\U0001f44d\U0001f3fe\U0001f44d\U0001f3ff")
    add("emoji-keycap", "1\ufe0f\u20e3 #\ufe0f\u20e3")
    add("emoji-text", "I \u2764\ufe0f NY \u2764\ufe0f\u200d\U0001f525 "
        "\U0001f3f3\ufe0f\u200d\U0001f308!")

    # ---- combining marks
    add("combining-e-acute", "e\u0301")
    add("combining-cafe", "cafe\u0301 caf\u00e9")
    add("combining-vi-nfc", "Ti\u1ebfng Vi\u1ec7t c\u00f3 d\u1ea5u: Xin ch\u00e0o, t\u1ea1m "
        "bi\u1ec7t")
    add("combining-vi-nfd", "Tie\u0302\u0301ng Vie\u0323\u0302t co\u0301 da\u0302\u0301u")
    add("combining-devanagari", "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928"
        "\u093f\u092f\u093e \u0939\u093f\u0928\u094d\u0926\u0940")
    add("combining-zalgo", "Z\u0334\u0321\u031ba\u0336l\u0338g\u0337o\u0335")
    add("combining-after-space", "a \u0301b")

    # ---- whitespace runs
    for n in range(1, 18):
        add(f"ws-spaces-{n}", " " * n)
        add(f"ws-spaces-inner-{n}", "a" + " " * n + "b")
        add(f"ws-tabs-{n}", "\t" * n)
        add(f"ws-newlines-{n}", "\n" * n)
        add(f"ws-crlf-{n}", "x" + "\r\n" * n + "y")
    add("ws-mixed-1", " \n \n\n \t\t\n   \r\n\t x")
    add("ws-mixed-2", "a\t \tb\n\t\nc \r \r\n d")
    add("ws-cr", "\r")
    add("ws-space-newline", "word \n next")

    # ---- long
    r = SplitMix64(SEED ^ 1)
    add("long-word-3000", "".join(chr(97 + r.below(26)) for _ in range(3000)))
    add("long-same-letter-1000", "a" * 1000)
    url = "https://example.com/very/long/path/" + "/".join(
        "".join(chr(97 + r.below(26)) for _ in range(8)) for _ in range(30)) + "?q="
    url += "".join(r.pick("abcdef0123456789%&=") for _ in range(500 - len(url)))
    assert len(url) == 500
    add("long-url-500", url)
    add("long-word-real", "pneumonoultramicroscopicsilicovolcanoconiosis")

    add("empty", "")

    # ---- special-token texts
    for i, s in enumerate(["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>",
                           "<|begin_of_text|>", "<|eot_id|>", "<|end_of_text|>",
                           "<|start_header_id|>", "<tool_call>", "<|fim_prefix|>",
                           "<|reserved_special_token_5|>", "<|box_start|>", "[PAD151700]"]):
        add(f"special-whole-{i}", s)
    add("special-embedded", "Hello<|im_start|>world<|endoftext|>again")
    add("special-adjacent", "<|im_start|><|im_end|><|endoftext|><think></think>")
    add("special-adjacent-llama", "<|begin_of_text|><|eot_id|><|begin_of_text|>")
    add("special-spaces", " <|im_start|> user <|im_end|> ")
    add("special-chat-qwen", "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user"
        "\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello!<|im_end|>")
    add("special-chat-llama", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi"
        "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    for i, s in enumerate(["<|im_sta", "<|im_start", "<|im_start|", "im_start|>", "<<|im_start|>>",
                           "<|<|im_end|>|>", "<think", "think>", "<|begin_of_tex", "<|eot_id",
                           "<|im_start|x"]):
        add(f"special-partial-{i}", s)
    add("special-mixed", "a<think>b</think>c<|eot_id|>d<|im_end|>e")

    # ---- leading and trailing spaces
    for i, s in enumerate([" hello", "hello ", "  hello  ", " ", "\thello\t", "\nhello\n",
                           " Hello World ", "   ", "hello\n\n", " 1 "]):
        add(f"edge-{i}", s)

    # ---- invalid UTF-8
    for i, s in enumerate([b"\x80", b"a\x80b", b"\xc3", b"\xc3 ", b"\xc3(", b"\xe2\x82",
                           b"\xe2\x82x", b"\xf0\x9f\x98", b"\xf0\x9f\x98 ok", b"\xff",
                           b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                           b"\xf8\x88\x80\x80\x80", "h\u00e9llo".encode() + b"\xff" +
                           "w\u00f6rld".encode(), b"a\x00b", b"\x00", b"\x80\x80\x80\x80",
                           b" \xbf\xbf ", b"\xe6\x97\xa5\xe6\x97"]):
        add(f"invalid-{i}", s)

    # ---- Unicode whitespace and format characters
    for i, s in enumerate(["a\u00a0b", "\u00a0", "\u65e5\u672c\u3000\u8a9e", "\u3000",
                           "a\u2009b", "a\u0085b", "a\u2028b\u2029c", "a\u200bb",
                           "\ufeffhello", "a\u1680b\u202fc\u205fd", "\x0b\x0c", "\x1c\x1d\x1e\x1f",
                           " \u00a0 \u00a0", "x\u2003\u2003y"]):
        add(f"uspace-{i}", s)

    # ---- random strings over mixed scripts
    r = SplitMix64(SEED)
    pools = [
        ("ascii", [chr(c) for c in range(0x21, 0x7f)]),
        ("lower", [chr(c) for c in range(0x61, 0x7b)]),
        ("space", [" ", " ", " ", "\t", "\n", "  ", "\r\n"]),
        ("digit", list("0123456789")),
        ("latin1", [chr(c) for c in range(0xc0, 0x100)]),
        ("greek", [chr(c) for c in range(0x3b1, 0x3ca)]),
        ("cyrillic", [chr(c) for c in range(0x430, 0x450)]),
        ("cjk", [chr(c) for c in range(0x4e00, 0x4e00 + 400)]),
        ("kana", [chr(c) for c in range(0x3041, 0x3097)] + [chr(c) for c in range(0x30a1, 0x30fb)]),
        ("hangul", [chr(0xac00 + 37 * k) for k in range(300)]),
        ("arabic", [chr(c) for c in range(0x621, 0x64b)]),
        ("devanagari", [chr(c) for c in range(0x905, 0x94e)]),
        ("emoji", [chr(c) for c in range(0x1f600, 0x1f650)] + ["\u200d", "\ufe0f",
                                                                "\U0001f3fd"]),
        ("combining", [chr(c) for c in range(0x300, 0x370)]),
        ("contraction", ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'Re", "'"]),
        ("special", ["<|im_start|>", "<|endoftext|>", "<think>", "</think>", "<|eot_id|>",
                     "<|begin_of_text|>", "<|im_sta", "<|"]),
        ("uspace", ["\u00a0", "\u3000", "\u2009", "\u0085", "\u200b"]),
    ]
    weights = [10, 14, 12, 6, 4, 3, 3, 3, 2, 2, 2, 2, 3, 1, 2, 1, 1]
    total = sum(weights)
    for k in range(300):
        n = 1 + r.below(40)
        parts = []
        for _ in range(n):
            w = r.below(total)
            p = 0
            while w >= weights[p]:
                w -= weights[p]
                p += 1
            run = 1 + r.below(4) if pools[p][0] in ("lower", "cjk", "kana", "hangul",
                                                       "cyrillic", "digit") else 1
            parts.append("".join(r.pick(pools[p][1]) for _ in range(run)))
        b = "".join(parts).encode("utf-8")
        if r.below(10) == 0:  # one in ten carries an invalid byte
            i = r.below(len(b) + 1)
            b = b[:i] + bytes([r.pick([0x80, 0xbf, 0xc3, 0xe2, 0xf0, 0xff])]) + b[i:]
        add(f"random-{k:03d}", b)
    return out


def main(argv):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(here, "tests/engine/data/bpe_cases.json")
    if len(argv) == 3 and argv[1] == "-o":
        out = argv[2]
    elif len(argv) != 1:
        sys.exit(__doc__)
    cs = cases()
    lines = [json.dumps({"name": n, "hex": b.hex()}) for n, b in cs]
    text = ('{"made_by": "bench/bpe_cases.py", "seed": %d, "cases": [\n' % SEED +
            ",\n".join(lines) + "\n]}\n")
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, out)
    print(f"bpe_cases: {len(cs)} cases -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
