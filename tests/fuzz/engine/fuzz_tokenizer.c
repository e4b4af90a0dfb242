/*
 * libFuzzer target: tok_encode on arbitrary bytes never crashes, agrees
 * with the plain path (tok_encode_ref) and, for text that must round-trip
 * (valid UTF-8, no U+2581, no special-token text), decodes back to the
 * input with its space prefix. Any disagreement aborts (a crash to keep).
 *
 * Input: byte 0 holds flags (bit 0 add BOS, bit 1 parse_special, bit 2 the
 * stories260K vocabulary when the fixtures are present, else a built-in
 * one; bit 3 a built-in byte-level BPE vocabulary instead, bits 4-5 its
 * pre-tokenizer: gpt-2, llama-bpe, qwen2); the rest is the text.
 * Byte-level BPE round-trips exactly (no space prefix) on valid UTF-8.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "kk_file.h"
#include "tokenizer.h"
#include "tokenizer_internal.h"

#define SP "\xe2\x96\x81"
#define REF_MAX_LEN 512 /* the plain path is O(n^2) */

static tok *builtin_tok(void)
{
    static char bytes[256][7];
    static const char *const extra[] = {SP, "a", "b", "ab", "bc", SP "a",
                                        SP SP, "<us>", "\xc3\xa9", "aa"};
    static const float extra_score[] = {-1, -2, -2, -4, -3, -1, -6, 0, -2, -5};
    enum { N = 3 + 256 + 10 };
    const char *text[N];
    float scores[N] = {0};
    int32_t types[N];
    text[0] = "<unk>", types[0] = TOK_TYPE_UNKNOWN;
    text[1] = "<s>", types[1] = TOK_TYPE_CONTROL;
    text[2] = "</s>", types[2] = TOK_TYPE_CONTROL;
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        text[3 + b] = bytes[b];
        types[3 + b] = TOK_TYPE_BYTE;
    }
    for (int i = 0; i < 10; i++) {
        text[259 + i] = extra[i];
        scores[259 + i] = extra_score[i];
        types[259 + i] = i == 7 ? TOK_TYPE_USER_DEFINED : TOK_TYPE_NORMAL;
    }
    tok_vocab v = {.n = N, .text = text, .scores = scores, .types = types,
                   .bos = 1, .eos = 2, .unk = 0, .add_bos = true,
                   .add_space_prefix = true};
    tok *t = NULL;
    if (tok_init_from_vocab(&t, &v, NULL) != KK_OK)
        abort();
    return t;
}

/* The 256 GPT-2 byte characters (id = byte), some merges and tokens: a
 * user-defined and a control token, and a merge whose result is no token
 * ("x y": its one-byte tokens come out). */
static tok *bpe_tok(const char *pre)
{
    static char bytes[256][3];
    static const char *const extra[] = {"ab", "bc", "abc", "\xc4\xa0" "a", "\xc4\xa0\xc4\xa0",
                                        "aa", "<us>", "<|c|>", "12", "'s"};
    static const char *const merges[] = {"a b", "b c", "a bc", "\xc4\xa0 a", "\xc4\xa0 \xc4\xa0",
                                         "a a", "x y", "1 2", "' s"};
    enum { N = 256 + 10 };
    const char *text[N];
    int32_t types[N];
    for (int b = 0; b < 256; b++) {
        const uint32_t cp = tok_gpt2_char_of_byte(b);
        if (cp < 0x80) {
            bytes[b][0] = (char)cp;
        } else {
            bytes[b][0] = (char)(0xC0 | (cp >> 6));
            bytes[b][1] = (char)(0x80 | (cp & 0x3F));
        }
        text[b] = bytes[b];
        types[b] = TOK_TYPE_NORMAL;
    }
    for (int i = 0; i < 10; i++) {
        text[256 + i] = extra[i];
        types[256 + i] = i == 6 ? TOK_TYPE_USER_DEFINED : i == 7 ? TOK_TYPE_CONTROL
                                                                 : TOK_TYPE_NORMAL;
    }
    tok_vocab v = {.n = N, .text = text, .types = types, .bos = 263, .eos = 263, .unk = -1,
                   .pre = pre, .merges = merges, .n_merges = 9};
    tok *t = NULL;
    if (tok_init_from_vocab(&t, &v, NULL) != KK_OK)
        abort();
    return t;
}

static tok *stories_tok(void)
{
    char dir[1024], path[1200];
    kk_fixtures_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", dir);
    gguf_file *f = NULL;
    tok *t = NULL;
    if (gguf_open(&f, path, NULL) == KK_OK)
        tok_init_from_gguf(&t, f, NULL);
    gguf_close(f); /* tok copies what it keeps */
    return t;
}

static bool utf8_valid(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (k == 0 || i + k > n || (k == 2 && c < 0xc2))
            return false;
        uint32_t cp = k == 1 ? c : c & (0x7fu >> k);
        for (size_t j = 1; j < k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + j] & 0x3f);
        }
        if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tok *builtin, *stories, *bpe[3];
    static bool loaded;
    if (!loaded) {
        builtin = builtin_tok();
        stories = stories_tok();
        bpe[0] = bpe_tok("gpt-2");
        bpe[1] = bpe_tok("llama-bpe");
        bpe[2] = bpe_tok("qwen2");
        loaded = true;
    }
    if (size == 0)
        return 0;
    uint8_t flags = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    bool add_bos = flags & 1, special = flags & 2;
    const bool is_bpe = flags & 8;
    const tok *t = is_bpe ? bpe[((flags >> 4) & 3) % 3] : (flags & 4) && stories ? stories : builtin;

    int32_t *ids = NULL, *ref = NULL;
    size_t n = 0, n_ref = 0;
    if (tok_encode_ex(t, text, len, add_bos, special, &ids, &n, NULL) != KK_OK)
        abort(); /* both vocabularies have every byte token */
    if (len <= REF_MAX_LEN) {
        if (tok_encode_ref(t, text, len, add_bos, special, &ref, &n_ref, NULL) != KK_OK ||
            n != n_ref || (n && memcmp(ids, ref, n * sizeof *ids) != 0))
            abort();
        free(ref);
    }
    char *back = NULL;
    size_t blen = 0;
    if (tok_decode(t, ids, n, &back, &blen, NULL) != KK_OK)
        abort();
    if (is_bpe) {
        /* BOS is a control token (no piece); user-defined ones print */
        if (!special && utf8_valid(data + 1, len) && (blen != len || memcmp(back, text, len) != 0))
            abort();
    } else {
        bool rt = !special && utf8_valid(data + 1, len) && !memmem(text, len, SP, 3) &&
                  !memmem(text, len, "<us>", 4);
        if (rt && len > 0 &&
            (blen != len + 1 || back[0] != ' ' || memcmp(back + 1, text, len) != 0))
            abort();
    }
    free(back);
    free(ids);
    return 0;
}
