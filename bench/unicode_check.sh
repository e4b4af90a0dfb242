#!/bin/sh
# Compares engine/unicode.c's code point classes with llama.cpp's table for
# every code point U+0000..U+10FFFF (letter, number, other; white space),
# and lists the code points past ASCII that llama.cpp lower-cases into
# ASCII (the contraction rule reads only ASCII: bench/gen_unicode_data.mjs
# checks none of them is one of s t r e v m l d).
# Needs llama.cpp's source (make refengine) and g++.
set -eu
HERE=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${KAKEYA_CACHE:-$HOME/.cache/kakeya}
SRC=$CACHE/llama.cpp/src/src
[ -f "$SRC/unicode-data.cpp" ] || { echo "unicode_check: $SRC missing: run make refengine" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cat > "$TMP/llama.cpp" <<'CPP'
#include "unicode.h"
#include <cstdio>
int main() {
    for (uint32_t cp = 0; cp < 0x110000; cp++) {
        const auto f = unicode_cpt_flags_from_cpt(cp);
        putchar('0' + ((f.is_letter ? 1 : f.is_number ? 2 : 0) | (f.is_whitespace ? 4 : 0)));
    }
    for (uint32_t cp = 0x80; cp < 0x110000; cp++)
        if (unicode_tolower(cp) < 0x80)
            fprintf(stderr, "U+%04X lower-cases to '%c'\n", cp, (char)unicode_tolower(cp));
}
CPP
cat > "$TMP/kk.c" <<'C'
#include "unicode.h"
#include <stdio.h>
int main(void) { for (uint32_t cp = 0; cp < 0x110000; cp++) putchar('0' + uni_flags(cp)); return 0; }
C
g++ -O1 -std=c++17 -I"$SRC" -o "$TMP/ref" "$TMP/llama.cpp" "$SRC/unicode.cpp" "$SRC/unicode-data.cpp"
cc -O1 -I"$HERE/engine" -o "$TMP/kk" "$TMP/kk.c" "$HERE/engine/unicode.c" "$HERE/engine/unicode_data.c"
"$TMP/ref" > "$TMP/a" 2> "$TMP/lower"
"$TMP/kk" > "$TMP/b"
cat "$TMP/lower"
if cmp -s "$TMP/a" "$TMP/b"; then
    echo "unicode_check: all 1114112 code points agree with llama.cpp $(head -n 1 "$CACHE/llama.cpp/build/.kakeya-built" 2>/dev/null | cut -c1-7)"
else
    echo "unicode_check: code points differ:" >&2
    cmp -l "$TMP/a" "$TMP/b" | head -20 | awk '{printf "  U+%04X llama.cpp %c kakeya %c\n", $1-1, $2, $3}' >&2
    exit 1
fi
