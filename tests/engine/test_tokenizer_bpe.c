/* Byte-level BPE (tokenizer.ggml.model "gpt2") against llama.cpp, on real
 * vocabularies: Qwen3 (tests/engine/data/qwen3-tiny.gguf, committed) and
 * Llama 3 (not committed, for its licence: $KAKEYA_LLAMA3_GGUF, else
 * ${KAKEYA_CACHE:-~/.cache/kakeya}/fixtures/llama3-tiny.gguf, written by
 * bench/bpe_fixtures.sh; its tests skip, naming the path, without it).
 *
 * References: tests/engine/data/bpe_refs_{qwen3,llama3}.json, llama.cpp's
 * output on the 590 texts of bpe_cases.json (bench/bpe_refs.sh,
 * bench/llamacpp_tokenize.c). For every case:
 *   encode  tok_encode_ex(text, add_bos = tok_add_bos(t), parse_special =
 *           true) is llama.cpp's llama_tokenize(add_special = true,
 *           parse_special = true), and (false, false) its (false, false);
 *           a case where llama.cpp aborts (F4 90 80 80 decodes to U+110000
 *           and its UTF-8 encoder throws) is only run, not compared;
 *   pieces  tok_piece of every id the references hold is llama.cpp's
 *           llama_token_to_piece(lstrip 0, special false);
 *   decode  tok_decode of each id list is the concatenation of those
 *           pieces, and for Qwen3 also llama.cpp's llama_detokenize. For
 *           Llama 3 llama.cpp's detokenize differs where its clean_spaces
 *           (set for llama-bpe, not for qwen2) drops the space before
 *           "?!.," and some apostrophes; tok_decode keeps every byte, so
 *           those cases are counted and printed, not asserted.
 * Also: the fixture is the Qwen3 vocabulary the references were made on
 * (token count, special ids, types), and the references were made on the
 * committed cases (sha256). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "json.h"
#include "kk_file.h"
#include "sha256.h"
#include "test_util.h"
#include "tokenizer.h"

#define DATA "tests/engine/data/"
/* At most this many mismatches are printed per test (all are counted). */
#define MAX_SHOWN 8

typedef struct bpe {
    char path[1100];
    gguf_file *f;
    tok *t;
    json_doc *refs, *cases;
    const json_value *rc, *cc; /* the refs' and the cases' "cases" arrays */
    const json_value *pieces;
} bpe;

static void data_path(char *buf, size_t cap, const char *rel)
{
    char root[1024];
    assert_int_equal(kk_repo_root(root, sizeof root, NULL), KK_OK);
    snprintf(buf, cap, "%s/%s", root, rel);
}

/* Where the Llama 3 model is looked for. */
static void llama3_path(char *buf, size_t cap)
{
    const char *env = getenv("KAKEYA_LLAMA3_GGUF");
    const char *cache = getenv("KAKEYA_CACHE");
    const char *home = getenv("HOME");
    if (env && *env)
        snprintf(buf, cap, "%s", env);
    else if (cache && *cache)
        snprintf(buf, cap, "%s/fixtures/llama3-tiny.gguf", cache);
    else
        snprintf(buf, cap, "%s/.cache/kakeya/fixtures/llama3-tiny.gguf", home ? home : "");
}

static size_t unhex(const char *s, size_t n, char *out)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        unsigned v;
        if (sscanf(s + i, "%2x", &v) != 1)
            fail_msg("bad hex at %zu", i);
        out[i / 2] = (char)v;
    }
    return n / 2;
}

static const json_value *get(const json_value *o, const char *k)
{
    const json_value *v = json_obj_get(o, k);
    if (!v)
        fail_msg("references: no \"%s\"", k);
    return v;
}

/* Loads the model (skipping when a Llama 3 file is absent) and both JSON
 * files; checks that the references were made on these cases. */
static void bpe_open(bpe *b, int llama3)
{
    memset(b, 0, sizeof *b);
    kk_err e;
    if (llama3) {
        llama3_path(b->path, sizeof b->path);
        if (access(b->path, R_OK) != 0) {
            fprintf(stderr, "SKIP: %s not found (Meta's Llama 3 vocabulary is not committed: "
                            "run bench/bpe_fixtures.sh, or set KAKEYA_LLAMA3_GGUF)\n",
                    b->path);
            skip();
        }
    } else {
        data_path(b->path, sizeof b->path, DATA "qwen3-tiny.gguf");
    }
    assert_int_equal(gguf_open(&b->f, b->path, &e), KK_OK);
    if (tok_init_from_gguf(&b->t, b->f, &e) != KK_OK)
        fail_msg("%s: tok_init_from_gguf: %s", b->path, e.msg);
    char p[1100];
    data_path(p, sizeof p, llama3 ? DATA "bpe_refs_llama3.json" : DATA "bpe_refs_qwen3.json");
    assert_int_equal(json_parse_file(p, NULL, &b->refs, &e), KK_OK);
    data_path(p, sizeof p, DATA "bpe_cases.json");
    assert_int_equal(json_parse_file(p, NULL, &b->cases, &e), KK_OK);
    char *raw = NULL;
    size_t raw_len = 0;
    assert_int_equal(kk_file_read_all(p, &raw, &raw_len, &e), KK_OK);
    char sha[65];
    sha256_hex(raw, raw_len, sha);
    free(raw);
    const json_value *root = json_doc_root(b->refs);
    if (strcmp(get(root, "cases_sha256")->u.str.s, sha) != 0)
        fail_msg("the references were made on other cases than bpe_cases.json: run "
                 "bench/bpe_refs.sh");
    b->rc = get(root, "cases");
    b->cc = get(json_doc_root(b->cases), "cases");
    b->pieces = get(root, "pieces");
    assert_int_equal(b->rc->u.arr.n, b->cc->u.arr.n);
    assert_true(b->rc->u.arr.n >= 500);
    assert_int_equal((int64_t)get(root, "n_vocab")->u.num.d, tok_n_vocab(b->t));
    for (size_t i = 0; i < b->rc->u.arr.n; i++)
        assert_string_equal(get(b->rc->u.arr.items[i], "name")->u.str.s,
                            get(b->cc->u.arr.items[i], "name")->u.str.s);
}

static void bpe_close(bpe *b)
{
    json_doc_free(b->cases);
    json_doc_free(b->refs);
    tok_free(b->t);
    gguf_close(b->f);
}

/* Case i's text into a malloc'd buffer. */
static char *case_text(const bpe *b, size_t i, size_t *len)
{
    const json_value *h = get(b->cc->u.arr.items[i], "hex");
    char *s = malloc(h->u.str.len / 2 + 1);
    assert_non_null(s);
    *len = unhex(h->u.str.s, h->u.str.len, s);
    return s;
}

/* ---- encode ---------------------------------------------------------------- */

static void check_encode(int llama3)
{
    bpe b;
    bpe_open(&b, llama3);
    const int ref_add_bos = get(json_doc_root(b.refs), "add_bos")->type == JSON_TRUE;
    int bad = 0, compared = 0, aborted = 0;
    const int bos_differs = tok_add_bos(b.t) != ref_add_bos;
    if (bos_differs)
        print_message("    tok_add_bos %d, llama.cpp's add_bos %d\n", tok_add_bos(b.t),
                      ref_add_bos);
    for (size_t i = 0; i < b.rc->u.arr.n; i++) {
        const json_value *rc = b.rc->u.arr.items[i];
        const char *name = get(rc, "name")->u.str.s;
        size_t len;
        char *text = case_text(&b, i, &len);
        for (int mode = 0; mode < 2; mode++) {
            const json_value *m = get(rc, mode == 0 ? "special" : "plain");
            int32_t *ids = NULL;
            size_t n = 0;
            kk_err e;
            kk_err_clear(&e);
            const kk_code code = tok_encode_ex(b.t, text, len, mode == 0 && tok_add_bos(b.t),
                                               mode == 0, &ids, &n, &e);
            if (json_obj_get(m, "error")) {
                aborted++; /* llama.cpp aborts here: only run (no crash) */
                free(ids);
                continue;
            }
            compared++;
            const json_value *want = get(m, "ids");
            int same = code == KK_OK && n == want->u.arr.n;
            for (size_t k = 0; same && k < n; k++)
                same = ids[k] == (int32_t)want->u.arr.items[k]->u.num.d;
            if (!same && bad++ < MAX_SHOWN) {
                if (code != KK_OK)
                    print_message("    %s (%s): %s\n", name, mode ? "plain" : "special", e.msg);
                else
                    print_message("    %s (%s): %zu ids, llama.cpp's %zu\n", name,
                                  mode ? "plain" : "special", n, want->u.arr.n);
            }
            free(ids);
        }
        free(text);
    }
    print_message("    %s: %d of %d encodings differ from llama.cpp's (%d where llama.cpp "
                  "aborts, run only)\n", b.path, bad, compared, aborted);
    bpe_close(&b);
    if (bad || bos_differs)
        fail_msg("%d encodings differ from llama.cpp's%s", bad,
                 bos_differs ? ", and add_bos differs" : "");
}

/* ---- pieces and decode ------------------------------------------------------- */

static void check_pieces_and_decode(int llama3)
{
    bpe b;
    bpe_open(&b, llama3);
    /* Every piece. */
    char buf[4096], want[4096];
    int n_pieces = 0;
    for (size_t k = 0; k < b.pieces->u.obj.n; k++) {
        const json_member *mb = &b.pieces->u.obj.members[k];
        const int32_t id = (int32_t)strtol(mb->key, NULL, 10);
        const size_t wl = unhex(mb->value->u.str.s, mb->value->u.str.len, want);
        const int got = tok_piece(b.t, id, buf, sizeof buf);
        if (got < 0 || (size_t)got != wl || memcmp(buf, want, wl) != 0)
            fail_msg("%s: piece of %d: %d bytes, llama.cpp's %zu (\"%.*s\")", b.path, (int)id,
                     got, wl, (int)wl, want);
        n_pieces++;
    }
    /* Every id list: tok_decode = the pieces, and llama.cpp's text. */
    int n_lists = 0, n_cleaned = 0;
    for (size_t i = 0; i < b.rc->u.arr.n; i++) {
        const json_value *rc = b.rc->u.arr.items[i];
        const char *name = get(rc, "name")->u.str.s;
        for (int mode = 0; mode < 2; mode++) {
            const json_value *m = get(rc, mode == 0 ? "special" : "plain");
            if (json_obj_get(m, "error"))
                continue;
            const json_value *ids = get(m, "ids"), *th = get(m, "text");
            const size_t n = ids->u.arr.n;
            int32_t *v = malloc((n ? n : 1) * sizeof *v);
            assert_non_null(v);
            const json_value **pc = malloc((n ? n : 1) * sizeof *pc);
            assert_non_null(pc);
            size_t cat_len = 0, cat_cap = 1;
            for (size_t k = 0; k < n; k++) {
                v[k] = (int32_t)ids->u.arr.items[k]->u.num.d;
                char key[16];
                snprintf(key, sizeof key, "%d", (int)v[k]);
                pc[k] = get(b.pieces, key);
                cat_cap += pc[k]->u.str.len / 2;
            }
            char *cat = malloc(cat_cap);
            assert_non_null(cat);
            for (size_t k = 0; k < n; k++)
                cat_len += unhex(pc[k]->u.str.s, pc[k]->u.str.len, cat + cat_len);
            free(pc);
            char *text = NULL;
            size_t len = 0;
            kk_err e;
            assert_int_equal(tok_decode(b.t, v, n, &text, &len, &e), KK_OK);
            if (len != cat_len || memcmp(text, cat, len) != 0)
                fail_msg("%s (%s): tok_decode gives %zu bytes, llama.cpp's pieces %zu", name,
                         mode ? "plain" : "special", len, cat_len);
            char *ref = malloc(th->u.str.len / 2 + 1);
            assert_non_null(ref);
            const size_t rl = unhex(th->u.str.s, th->u.str.len, ref);
            if (rl != len || memcmp(ref, text, len) != 0) {
                if (!llama3)
                    fail_msg("%s (%s): tok_decode differs from llama_detokenize", name,
                             mode ? "plain" : "special");
                n_cleaned++;
            }
            free(ref);
            free(text);
            free(cat);
            free(v);
            n_lists++;
        }
    }
    print_message("    %s: %d pieces and %d id lists decode as llama.cpp's pieces", b.path,
                  n_pieces, n_lists);
    if (llama3)
        print_message("; llama_detokenize cleans spaces in %d of them (clean_spaces)",
                      n_cleaned);
    print_message("\n");
    bpe_close(&b);
}

/* ---- the tests ------------------------------------------------------------------ */

static void the_fixture_should_be_the_qwen3_vocabulary(void **state)
{
    (void)state;
    bpe b;
    bpe_open(&b, 0);
    assert_int_equal(tok_n_vocab(b.t), 151936);
    assert_int_equal(tok_bos(b.t), 151643);
    assert_int_equal(tok_eos(b.t), 151645);
    assert_false(tok_add_bos(b.t));
    assert_int_equal(tok_get_type(b.t, 151643), TOK_TYPE_CONTROL);   /* <|endoftext|> */
    assert_int_equal(tok_get_type(b.t, 151659), TOK_TYPE_CONTROL);   /* <|fim_prefix|> */
    assert_int_equal(tok_get_type(b.t, 151667), TOK_TYPE_USER_DEFINED); /* <think> */
    assert_int_equal(tok_get_type(b.t, 151700), TOK_TYPE_UNUSED);    /* [PAD151700] */
    assert_int_equal(tok_get_type(b.t, 9707), TOK_TYPE_NORMAL);      /* Hello */
    assert_true(tok_is_eog(b.t, 151645));
    gguf_str pre;
    assert_int_equal(gguf_get_str(b.f, "tokenizer.ggml.pre", &pre, NULL), KK_OK);
    assert_int_equal(pre.len, 5);
    assert_memory_equal(pre.s, "qwen2", 5);
    const gguf_value *merges = gguf_get(b.f, "tokenizer.ggml.merges");
    assert_non_null(merges);
    assert_int_equal(merges->v.arr.n, 151387);
    bpe_close(&b);
}

static void qwen3_pieces_and_decoding_should_match_llama_cpp(void **state)
{
    (void)state;
    check_pieces_and_decode(0);
}

static void qwen3_encoding_should_match_llama_cpp(void **state)
{
    (void)state;
    check_encode(0);
}

static void llama3_pieces_and_decoding_should_match_llama_cpp(void **state)
{
    (void)state;
    check_pieces_and_decode(1);
}

static void llama3_encoding_should_match_llama_cpp(void **state)
{
    (void)state;
    check_encode(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_fixture_should_be_the_qwen3_vocabulary),
        cmocka_unit_test(qwen3_pieces_and_decoding_should_match_llama_cpp),
        cmocka_unit_test(qwen3_encoding_should_match_llama_cpp),
        cmocka_unit_test(llama3_pieces_and_decoding_should_match_llama_cpp),
        cmocka_unit_test(llama3_encoding_should_match_llama_cpp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
