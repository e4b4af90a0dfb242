/*
 * Corrupt GGUF files: a small valid file is built field by field (each
 * field's offset remembered by name), checked against the writer's output,
 * then each defect of a table is applied to a copy and the reader's outcome
 * compared with the table: the kk_code, the offset (the named field where
 * the bad value starts) and `where` (the key or tensor name; "" for the
 * header). Also: truncation at every byte, a seeded random mutator, and
 * nesting beyond the cap.
 *
 * KK_GGUF_WRITE_CORPUS=DIR writes every defective file into DIR (how
 * tests/fuzz/corpus/fuzz_gguf/ was seeded).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

/* ---- a byte builder that names its fields --------------------------------- */

#define MAX_MARKS 64

typedef struct bld {
    uint8_t buf[1024];
    size_t len;
    struct { const char *name; size_t off; } marks[MAX_MARKS];
    int n_marks;
} bld;

static void mark(bld *b, const char *name)
{
    assert_true(b->n_marks < MAX_MARKS);
    b->marks[b->n_marks].name = name;
    b->marks[b->n_marks].off = b->len;
    b->n_marks++;
}

static size_t at(const bld *b, const char *name)
{
    for (int i = 0; i < b->n_marks; i++)
        if (!strcmp(b->marks[i].name, name))
            return b->marks[i].off;
    fail_msg("no mark %s", name);
    return 0;
}

static void put_le(bld *b, uint64_t v, int n)
{
    assert_true(b->len + (size_t)n <= sizeof b->buf);
    for (int i = 0; i < n; i++)
        b->buf[b->len++] = (uint8_t)(v >> (8 * i));
}

static void put_str(bld *b, const char *s)
{
    put_le(b, strlen(s), 8);
    assert_true(b->len + strlen(s) <= sizeof b->buf);
    memcpy(b->buf + b->len, s, strlen(s));
    b->len += strlen(s);
}

static void pad(bld *b, size_t a)
{
    while (b->len % a)
        b->buf[b->len++] = 0;
}

/* The valid base file. Marks: header fields, kvN.key/.type/.val, array
 * fields, tN.name/.n_dims/.ne0/.ne1/.type/.offset, data. */
static void build_base(bld *b)
{
    memset(b, 0, sizeof *b);
    memcpy(b->buf, "GGUF", 4);
    b->len = 4;
    mark(b, "version"); put_le(b, 3, 4);
    mark(b, "n_tensors"); put_le(b, 2, 8);
    mark(b, "n_kv"); put_le(b, 6, 8);
    /* kv0: string */
    mark(b, "kv0.key"); put_str(b, "general.architecture");
    mark(b, "kv0.type"); put_le(b, GGUF_TYPE_STRING, 4);
    mark(b, "kv0.val"); put_str(b, "llama");
    /* kv1: the alignment, explicitly 32 */
    mark(b, "kv1.key"); put_str(b, "general.alignment");
    mark(b, "kv1.type"); put_le(b, GGUF_TYPE_UINT32, 4);
    mark(b, "kv1.val"); put_le(b, 32, 4);
    /* kv2: array of strings */
    mark(b, "kv2.key"); put_str(b, "tok.tokens");
    put_le(b, GGUF_TYPE_ARRAY, 4);
    mark(b, "kv2.elem_type"); put_le(b, GGUF_TYPE_STRING, 4);
    mark(b, "kv2.n"); put_le(b, 3, 8);
    put_str(b, "a");
    mark(b, "kv2.item1"); put_str(b, "b");
    put_str(b, "c");
    /* kv3: array of f32 (key as long as kv2's, for the duplicate) */
    mark(b, "kv3.key"); put_str(b, "tok.scores");
    put_le(b, GGUF_TYPE_ARRAY, 4);
    put_le(b, GGUF_TYPE_FLOAT32, 4);
    mark(b, "kv3.n"); put_le(b, 3, 8);
    put_le(b, 0x3f800000, 4); put_le(b, 0, 4); put_le(b, 0xbf800000, 4);
    /* kv4: [[u8 1, 0], [bool 1]] */
    mark(b, "kv4.key"); put_str(b, "x.nested");
    put_le(b, GGUF_TYPE_ARRAY, 4);
    put_le(b, GGUF_TYPE_ARRAY, 4);
    put_le(b, 2, 8);
    put_le(b, GGUF_TYPE_UINT8, 4);
    mark(b, "kv4.inner0.n"); put_le(b, 2, 8);
    put_le(b, 1, 1); put_le(b, 0, 1);
    mark(b, "kv4.inner1.elem_type"); put_le(b, GGUF_TYPE_BOOL, 4);
    put_le(b, 1, 8);
    mark(b, "kv4.inner1.item0"); put_le(b, 1, 1);
    /* kv5: bool */
    mark(b, "kv5.key"); put_str(b, "x.flag");
    put_le(b, GGUF_TYPE_BOOL, 4);
    mark(b, "kv5.val"); put_le(b, 1, 1);
    /* t0: f32 [8] at 0 */
    mark(b, "t0.name"); put_str(b, "a.weight");
    mark(b, "t0.n_dims"); put_le(b, 1, 4);
    mark(b, "t0.ne0"); put_le(b, 8, 8);
    mark(b, "t0.type"); put_le(b, DTYPE_F32, 4);
    mark(b, "t0.offset"); put_le(b, 0, 8);
    /* t1: q8_0 [32, 2] at 32 */
    mark(b, "t1.name"); put_str(b, "b.weight");
    mark(b, "t1.n_dims"); put_le(b, 2, 4);
    mark(b, "t1.ne0"); put_le(b, 32, 8);
    mark(b, "t1.ne1"); put_le(b, 2, 8);
    mark(b, "t1.type"); put_le(b, DTYPE_Q8_0, 4);
    mark(b, "t1.offset"); put_le(b, 32, 8);
    pad(b, 32);
    mark(b, "data");
    for (int i = 0; i < 32; i++)
        put_le(b, (uint64_t)(i * 7 + 1), 1);
    for (int i = 0; i < 68; i++)
        put_le(b, (uint64_t)(i * 13 + 5), 1);
    mark(b, "data_end");
    pad(b, 32);
}

/* ---- the defect table ------------------------------------------------------ */

typedef enum { SET, TRUNC, BYTE } op_kind;

typedef struct defect {
    const char *name;
    op_kind op;
    const char *field; /* mark */
    int width;         /* SET: bytes written */
    uint64_t value;    /* SET: value; BYTE: the byte; TRUNC: ignored */
    int64_t delta;     /* added to the mark's offset */
    kk_code code;
    const char *off_field; /* expected err->offset: this mark (+ off_delta) */
    int64_t off_delta;
    const char *where;     /* expected err->where exactly */
} defect;

#define U64MAX UINT64_MAX
static const defect DEFECTS[] = {
    /* header */
    {"bad-magic", BYTE, "version", 1, 'X', -4, KK_E_FORMAT, "version", -4, ""},
    {"version-0", SET, "version", 4, 0, 0, KK_E_FORMAT, "version", 0, ""},
    {"version-4", SET, "version", 4, 4, 0, KK_E_FORMAT, "version", 0, ""},
    {"version-1", SET, "version", 4, 1, 0, KK_E_UNSUPPORTED, "version", 0, ""},
    {"version-big-endian", SET, "version", 4, 0x03000000, 0, KK_E_UNSUPPORTED, "version", 0, ""},
    {"truncated-in-header", TRUNC, "n_kv", 0, 0, 3, KK_E_FORMAT, "n_kv", 0, ""},
    /* overflowing counts */
    {"n_kv-huge", SET, "n_kv", 8, 1ull << 63, 0, KK_E_FORMAT, "n_kv", 0, ""},
    {"n_kv-max", SET, "n_kv", 8, U64MAX, 0, KK_E_FORMAT, "n_kv", 0, ""},
    {"n_tensors-max", SET, "n_tensors", 8, U64MAX, 0, KK_E_FORMAT, "n_tensors", 0, ""},
    {"n_tensors-2^40", SET, "n_tensors", 8, 1ull << 40, 0, KK_E_FORMAT, "n_tensors", 0, ""},
    {"key-length-max", SET, "kv0.key", 8, U64MAX, 0, KK_E_FORMAT, "kv0.key", 0, "metadata #0"},
    {"key-length-past-eof", SET, "kv0.key", 8, 5000, 0, KK_E_FORMAT, "kv0.key", 0, "metadata #0"},
    {"key-empty", SET, "kv2.key", 8, 0, 0, KK_E_FORMAT, "kv2.key", 0, "metadata #2"},
    {"string-length-max", SET, "kv0.val", 8, U64MAX, 0, KK_E_FORMAT, "kv0.val", 0, "general.architecture"},
    {"string-array-count-max", SET, "kv2.n", 8, U64MAX, 0, KK_E_FORMAT, "kv2.n", 0, "tok.tokens"},
    {"string-array-count-2^61", SET, "kv2.n", 8, 1ull << 61, 0, KK_E_FORMAT, "kv2.n", 0, "tok.tokens"},
    {"f32-array-count-times-4-wraps", SET, "kv3.n", 8, 1ull << 62, 0, KK_E_FORMAT, "kv3.n", 0, "tok.scores"},
    {"f32-array-count-past-eof", SET, "kv3.n", 8, 1000, 0, KK_E_FORMAT, "kv3.n", 0, "tok.scores"},
    {"array-item-length-past-eof", SET, "kv2.item1", 8, 1u << 20, 0, KK_E_FORMAT, "kv2.item1", 0, "tok.tokens[1]"},
    {"nested-count-past-eof", SET, "kv4.inner0.n", 8, 1u << 30, 0, KK_E_FORMAT, "kv4.inner0.n", 0, "x.nested[0]"},
    /* wrong and unknown value types */
    {"value-type-unknown", SET, "kv0.type", 4, 13, 0, KK_E_FORMAT, "kv0.type", 0, "general.architecture"},
    {"value-type-max", SET, "kv0.type", 4, 0xffffffff, 0, KK_E_FORMAT, "kv0.type", 0, "general.architecture"},
    {"array-elem-type-unknown", SET, "kv2.elem_type", 4, 99, 0, KK_E_FORMAT, "kv2.elem_type", 0, "tok.tokens"},
    {"nested-elem-type-unknown", SET, "kv4.inner1.elem_type", 4, 77, 0, KK_E_FORMAT, "kv4.inner1.elem_type", 0, "x.nested[1]"},
    {"alignment-wrong-type", SET, "kv1.type", 4, GGUF_TYPE_INT32, 0, KK_E_FORMAT, "kv1.type", 0, "general.alignment"},
    {"alignment-not-power-of-two", SET, "kv1.val", 4, 48, 0, KK_E_FORMAT, "kv1.val", 0, "general.alignment"},
    {"alignment-zero", SET, "kv1.val", 4, 0, 0, KK_E_FORMAT, "kv1.val", 0, "general.alignment"},
    {"alignment-2^25", SET, "kv1.val", 4, 1u << 25, 0, KK_E_LIMIT, "kv1.val", 0, "general.alignment"},
    {"bool-value-2", SET, "kv5.val", 1, 2, 0, KK_E_FORMAT, "kv5.val", 0, "x.flag"},
    {"bool-array-value-255", SET, "kv4.inner1.item0", 1, 255, 0, KK_E_FORMAT, "kv4.inner1.item0", 0, "x.nested[1]"},
    /* text that is not UTF-8 */
    {"key-not-utf8", BYTE, "kv0.key", 1, 0xff, 8 + 3, KK_E_FORMAT, "kv0.key", 0, "metadata #0"},
    {"key-overlong-utf8", SET, "kv0.key", 2, 0xafc0, 8, KK_E_FORMAT, "kv0.key", 0, "metadata #0"},
    {"key-with-nul", BYTE, "kv0.key", 1, 0, 8 + 1, KK_E_FORMAT, "kv0.key", 0, "metadata #0"},
    {"string-value-not-utf8", BYTE, "kv0.val", 1, 0xc0, 8 + 4, KK_E_FORMAT, "kv0.val", 0, "general.architecture"},
    {"array-string-not-utf8", BYTE, "kv2.item1", 1, 0x80, 8, KK_E_FORMAT, "kv2.item1", 0, "tok.tokens[1]"},
    {"tensor-name-not-utf8", BYTE, "t1.name", 1, 0xfe, 8, KK_E_FORMAT, "t1.name", 0, "tensor #1"},
    /* duplicates */
    /* duplicate-key: see duplicate_key_should_be_reported_at_the_second_key */
    {"duplicate-tensor-name", BYTE, "t1.name", 1, 'a', 8, KK_E_DUPLICATE, "t1.name", 0, "a.weight"},
    /* tensor infos */
    {"n_dims-0", SET, "t0.n_dims", 4, 0, 0, KK_E_FORMAT, "t0.n_dims", 0, "a.weight"},
    {"n_dims-5", SET, "t0.n_dims", 4, 5, 0, KK_E_FORMAT, "t0.n_dims", 0, "a.weight"},
    {"ne-zero", SET, "t0.ne0", 8, 0, 0, KK_E_FORMAT, "t0.ne0", 0, "a.weight"},
    {"ne-above-int64", SET, "t0.ne0", 8, 1ull << 63, 0, KK_E_FORMAT, "t0.ne0", 0, "a.weight"},
    {"ne-product-overflows", SET, "t1.ne1", 8, 1ull << 62, 0, KK_E_FORMAT, "t1.ne1", 0, "b.weight"},
    {"tensor-type-q4_K", SET, "t1.type", 4, 12, 0, KK_E_UNSUPPORTED, "t1.type", 0, "b.weight"},
    {"tensor-type-unknown", SET, "t1.type", 4, 100000, 0, KK_E_UNSUPPORTED, "t1.type", 0, "b.weight"},
    {"q8_0-row-not-multiple-of-32", SET, "t1.ne0", 8, 33, 0, KK_E_FORMAT, "t1.type", 0, "b.weight"},
    /* offsets and data */
    {"offset-misaligned", SET, "t1.offset", 8, 33, 0, KK_E_FORMAT, "t1.offset", 0, "b.weight"},
    {"offset-past-eof", SET, "t1.offset", 8, 1ull << 40, 0, KK_E_FORMAT, "t1.offset", 0, "b.weight"},
    {"offset-wraps", SET, "t1.offset", 8, U64MAX - 31, 0, KK_E_FORMAT, "t1.offset", 0, "b.weight"},
    {"data-past-eof", SET, "t1.ne1", 8, 3, 0, KK_E_FORMAT, "t1.offset", 0, "b.weight"},
    {"tensors-overlap", SET, "t1.offset", 8, 0, 0, KK_E_FORMAT, "t1.offset", 0, "b.weight"},
    {"truncated-in-data", TRUNC, "data", 0, 0, 40, KK_E_FORMAT, "t1.offset", 0, "b.weight"},
};

static size_t apply(const bld *base, const defect *d, uint8_t *out)
{
    size_t len = base->len;
    memcpy(out, base->buf, len);
    size_t off = (size_t)((int64_t)at(base, d->field) + d->delta);
    switch (d->op) {
    case SET:
        for (int i = 0; i < d->width; i++)
            out[off + (size_t)i] = (uint8_t)(d->value >> (8 * i));
        break;
    case BYTE:
        out[off] = (uint8_t)d->value;
        break;
    case TRUNC:
        len = off;
        break;
    }
    return len;
}

static void maybe_write_corpus(const char *name, const uint8_t *buf, size_t len)
{
    const char *dir = getenv("KK_GGUF_WRITE_CORPUS");
    if (!dir)
        return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name); /* no .gguf: .gitignore */
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(buf, 1, len, f);
        fclose(f);
    }
}

/* ---- tests ----------------------------------------------------------------- */

static void base_file_should_parse_and_equal_the_writers_output(void **state)
{
    (void)state;
    bld b;
    build_base(&b);
    maybe_write_corpus("valid-base", b.buf, b.len);
    gguf_file *f;
    kk_err e;
    assert_int_equal(gguf_parse_buffer(&f, b.buf, b.len, "base", &e), KK_OK);
    assert_int_equal(f->n_kv, 6);
    assert_int_equal(f->n_tensors, 2);
    assert_int_equal(f->data_offset, at(&b, "data"));
    /* The writer fed the parsed contents lays out the same bytes. */
    gguf_writer *w = gguf_writer_init(3, 32);
    for (uint64_t i = 0; i < f->n_kv; i++) {
        char key[64];
        gguf_str_copy(f->kv[i].key, key, sizeof key);
        assert_int_equal(gguf_writer_set_value(w, key, &f->kv[i].value), KK_OK);
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        char name[64];
        gguf_str_copy(t->name, name, sizeof name);
        assert_int_equal(gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data,
                                                t->n_bytes, &e), KK_OK);
    }
    uint8_t *buf;
    size_t len;
    assert_int_equal(gguf_writer_to_buffer(w, &buf, &len, &e), KK_OK);
    assert_int_equal(len, b.len);
    assert_memory_equal(buf, b.buf, len);
    free(buf);
    gguf_writer_free(w);
    gguf_close(f);
}

static void each_defect_should_give_its_code_offset_and_where(void **state)
{
    (void)state;
    bld b;
    build_base(&b);
    for (size_t k = 0; k < sizeof DEFECTS / sizeof DEFECTS[0]; k++) {
        const defect *d = &DEFECTS[k];
        uint8_t buf[sizeof b.buf];
        size_t len = apply(&b, d, buf);
        maybe_write_corpus(d->name, buf, len);
        /* An exact-size heap copy so ASan catches any read past the end. */
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        gguf_file *f = (gguf_file *)1;
        kk_err e;
        kk_err_clear(&e);
        kk_code c = gguf_parse_buffer(&f, exact, len, "corrupt.gguf", &e);
        int64_t want = (int64_t)at(&b, d->off_field) + d->off_delta;
        if (c != d->code || e.offset != want || strcmp(e.where, d->where) != 0) {
            fprintf(stderr, "defect %s: want code %d offset %lld where '%s', got %d: ", d->name,
                    (int)d->code, (long long)want, d->where, (int)c);
            kk_err_print(stderr, NULL, &e);
        }
        assert_int_equal(c, d->code);
        assert_null(f);
        assert_string_equal(e.file, "corrupt.gguf");
        assert_true(e.msg[0] != '\0');
        assert_int_equal(e.offset, want);
        assert_string_equal(e.where, d->where);
        free(exact);
    }
}

/* The table's SET writes at most 8 bytes; a duplicate key needs the whole
 * name replaced: kv3 "tok.scores" becomes "tok.tokens". */
static void duplicate_key_should_be_reported_at_the_second_key(void **state)
{
    (void)state;
    bld b;
    build_base(&b);
    memcpy(b.buf + at(&b, "kv3.key") + 8, "tok.tokens", 10);
    maybe_write_corpus("duplicate-key-exact", b.buf, b.len);
    gguf_file *f;
    kk_err e;
    assert_int_equal(gguf_parse_buffer(&f, b.buf, b.len, "dup.gguf", &e), KK_E_DUPLICATE);
    assert_int_equal(e.offset, (int64_t)at(&b, "kv3.key"));
    assert_string_equal(e.where, "tok.tokens");
    assert_non_null(strstr(e.msg, "duplicate"));
}

/* Truncating anywhere before the last tensor's last byte must fail with
 * KK_E_FORMAT and an offset within the bytes kept; cutting only the final
 * padding leaves every tensor whole, so that still parses (as llama.cpp's
 * mmap loader accepts it), to the same contents. */
static void truncation_at_every_byte_should_fail_cleanly(void **state)
{
    (void)state;
    bld b;
    build_base(&b);
    size_t data_end = at(&b, "data_end");
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *exact = malloc(cut ? cut : 1);
        memcpy(exact, b.buf, cut);
        gguf_file *f = NULL;
        kk_err e;
        kk_err_clear(&e);
        kk_code c = gguf_parse_buffer(&f, exact, cut, "cut.gguf", &e);
        if (cut < data_end) {
            if (c != KK_E_FORMAT)
                fprintf(stderr, "cut at %zu: code %d\n", cut, (int)c);
            assert_int_equal(c, KK_E_FORMAT);
            assert_null(f);
            assert_true(e.offset >= 0 && (size_t)e.offset <= cut);
            assert_string_equal(e.file, "cut.gguf");
        } else {
            assert_int_equal(c, KK_OK);
            assert_int_equal(f->n_tensors, 2);
            assert_memory_equal(f->tensors[1].data, b.buf + at(&b, "data") + 32, 68);
            gguf_close(f);
        }
        free(exact);
    }
}

static void arrays_nested_beyond_the_cap_should_hit_the_limit(void **state)
{
    (void)state;
    for (int depth = GGUF_MAX_ARRAY_DEPTH; depth <= GGUF_MAX_ARRAY_DEPTH + 1; depth++) {
        bld b;
        memset(&b, 0, sizeof b);
        memcpy(b.buf, "GGUF", 4);
        b.len = 4;
        put_le(&b, 3, 4);
        put_le(&b, 0, 8);
        put_le(&b, 1, 8);
        put_str(&b, "deep");
        put_le(&b, GGUF_TYPE_ARRAY, 4);
        /* depth levels of "array of 1 array", then an empty u8 array */
        for (int i = 0; i < depth; i++) {
            put_le(&b, GGUF_TYPE_ARRAY, 4);
            put_le(&b, 1, 8);
        }
        put_le(&b, GGUF_TYPE_UINT8, 4);
        put_le(&b, 0, 8);
        pad(&b, 32);
        if (depth > GGUF_MAX_ARRAY_DEPTH)
            maybe_write_corpus("nested-too-deep", b.buf, b.len);
        gguf_file *f = NULL;
        kk_err e;
        kk_code c = gguf_parse_buffer(&f, b.buf, b.len, "deep.gguf", &e);
        if (depth <= GGUF_MAX_ARRAY_DEPTH) {
            assert_int_equal(c, KK_OK);
            gguf_close(f);
        } else {
            assert_int_equal(c, KK_E_LIMIT);
            assert_non_null(strstr(e.where, "deep[0]"));
        }
    }
}

static void empty_input_should_fail_with_format(void **state)
{
    (void)state;
    gguf_file *f;
    kk_err e;
    assert_int_equal(gguf_parse_buffer(&f, NULL, 0, "empty.gguf", &e), KK_E_FORMAT);
    assert_int_equal(e.offset, 0);
}

/* xorshift64*: one fixed seed, so a failure reproduces. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* Random defects from a seed: a few bytes changed, or a named field set to
 * an edge value. Whatever happens, no crash (ASan), and a failure carries
 * the file name and an offset inside the input. */
static void seeded_random_defects_should_never_crash(void **state)
{
    (void)state;
    bld b;
    build_base(&b);
    uint64_t s = 0x6b616b657961ull; /* "kakeya" */
    static const uint64_t edges[] = {0, 1, 2, 31, 32, 33, 0x7fffffffffffffffull,
                                     0x8000000000000000ull, UINT64_MAX, 1ull << 32};
    int n_ok = 0;
    for (int it = 0; it < 20000; it++) {
        uint8_t buf[sizeof b.buf];
        size_t len = b.len;
        memcpy(buf, b.buf, len);
        int n = 1 + (int)(rnd(&s) % 3);
        for (int k = 0; k < n; k++) {
            if (rnd(&s) % 2) {
                buf[rnd(&s) % len] = (uint8_t)rnd(&s);
            } else {
                size_t off = b.marks[rnd(&s) % (uint64_t)b.n_marks].off;
                uint64_t v = edges[rnd(&s) % (sizeof edges / sizeof edges[0])];
                for (int i = 0; i < 8 && off + (size_t)i < len; i++)
                    buf[off + (size_t)i] = (uint8_t)(v >> (8 * i));
            }
        }
        if (rnd(&s) % 8 == 0)
            len = (size_t)(rnd(&s) % len);
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        gguf_file *f = NULL;
        kk_err e;
        kk_err_clear(&e);
        kk_code c = gguf_parse_buffer(&f, exact, len, "rand.gguf", &e);
        if (c == KK_OK) {
            n_ok++;
            for (uint64_t i = 0; i < f->n_tensors; i++)
                assert_true(f->tensors[i].data + f->tensors[i].n_bytes <= exact + len);
            gguf_close(f);
        } else {
            assert_null(f);
            assert_string_equal(e.file, "rand.gguf");
            assert_true(e.offset >= 0 && (size_t)e.offset <= len);
        }
        free(exact);
    }
    /* Some mutations are harmless (a data byte): the oracle is not vacuous. */
    assert_true(n_ok > 0 && n_ok < 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base_file_should_parse_and_equal_the_writers_output),
        cmocka_unit_test(each_defect_should_give_its_code_offset_and_where),
        cmocka_unit_test(duplicate_key_should_be_reported_at_the_second_key),
        cmocka_unit_test(truncation_at_every_byte_should_fail_cleanly),
        cmocka_unit_test(arrays_nested_beyond_the_cap_should_hit_the_limit),
        cmocka_unit_test(empty_input_should_fail_with_format),
        cmocka_unit_test(seeded_random_defects_should_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
