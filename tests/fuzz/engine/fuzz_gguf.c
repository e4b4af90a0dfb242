/*
 * fuzz_gguf: gguf_parse_buffer must never crash or read out of bounds, and
 * what it accepts must hold these invariants:
 *   - every value, string byte and tensor byte is inside the input (touched
 *     here so ASan sees any view that escapes it), and the first row of
 *     each tensor dequantizes;
 *   - every key and tensor name is found again by its lookup;
 *   - the writer re-writes it (set_value per key, add_tensor per tensor),
 *     the reader accepts that, and re-writing that gives the same bytes
 *     again (the canonical layout is a fixed point);
 *   - an error names the input and an offset inside it;
 *   - model_load on it either loads (every architecture: llama, qwen3,
 *     gemma3 with its window keys and pattern arrays) or fails naming the
 *     file, never crashes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "gguf.h"
#include "model.h"

static void die(const char *what)
{
    fprintf(stderr, "fuzz_gguf: invariant broken: %s\n", what);
    abort();
}

static volatile uint64_t sink;

static void touch(const void *p, uint64_t n)
{
    const uint8_t *b = p;
    uint64_t s = 0;
    for (uint64_t i = 0; i < n; i++)
        s += b[i];
    sink += s;
}

static void touch_value(const gguf_value *v)
{
    switch (v->type) {
    case GGUF_TYPE_STRING:
        touch(v->v.str.s, v->v.str.len);
        break;
    case GGUF_TYPE_ARRAY:
        if (v->v.arr.items) {
            for (uint64_t i = 0; i < v->v.arr.n; i++)
                touch_value(&v->v.arr.items[i]);
        } else if (v->v.arr.raw) {
            for (uint64_t i = 0; i < v->v.arr.n; i++) {
                sink += (uint64_t)gguf_arr_i32(v, i);
                float f = gguf_arr_f32(v, i);
                sink += f == f;
            }
        } else if (v->v.arr.n && v->v.arr.elem_type != GGUF_TYPE_ARRAY &&
                   v->v.arr.elem_type != GGUF_TYPE_STRING) {
            die("fixed-size array without raw view");
        }
        break;
    default:
        sink += v->v.u;
        break;
    }
}

static gguf_writer *rewrite(const gguf_file *f)
{
    gguf_writer *w = gguf_writer_init(f->version, GGUF_DEFAULT_ALIGNMENT);
    if (!w)
        die("writer init");
    char *key = malloc(GGUF_MAX_KEY_LEN + 1);
    for (uint64_t i = 0; i < f->n_kv; i++) {
        gguf_str_copy(f->kv[i].key, key, GGUF_MAX_KEY_LEN + 1);
        if (gguf_writer_set_value(w, key, &f->kv[i].value) != KK_OK)
            die("writer refuses a parsed value");
    }
    free(key);
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        char name[GGUF_MAX_NAME_LEN + 1];
        gguf_str_copy(t->name, name, sizeof name);
        if (gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data, t->n_bytes, NULL))
            die("writer refuses a parsed tensor");
    }
    return w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gguf_file *f = NULL;
    kk_err e;
    kk_err_clear(&e);
    if (gguf_parse_buffer(&f, data, size, "fuzz", &e) != KK_OK) {
        if (f)
            die("error but a file returned");
        if (strcmp(e.file, "fuzz") != 0)
            die("error without the file name");
        if (e.code != KK_E_NOMEM && (e.offset < 0 || (uint64_t)e.offset > size))
            die("error offset outside the input");
        return 0;
    }
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        touch(kv->key.s, kv->key.len);
        touch_value(&kv->value);
        char key[GGUF_MAX_NAME_LEN + 1];
        if (kv->key.len <= GGUF_MAX_NAME_LEN) {
            gguf_str_copy(kv->key, key, sizeof key);
            if (gguf_find_key(f, key) != (int64_t)i)
                die("key not found by its name");
            uint32_t u;
            float x;
            gguf_str s;
            bool b;
            (void)gguf_get_u32(f, key, &u, &e);
            (void)gguf_get_f32(f, key, &x, &e);
            (void)gguf_get_str(f, key, &s, &e);
            (void)gguf_get_bool(f, key, &b, &e);
        }
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        char name[GGUF_MAX_NAME_LEN + 1];
        gguf_str_copy(t->name, name, sizeof name);
        if (gguf_find_tensor(f, name) != (int64_t)i)
            die("tensor not found by its name");
        if (t->data < data || t->data + t->n_bytes > data + size)
            die("tensor view outside the input");
        if (t->n_bytes) {
            sink += t->data[0];
            sink += t->data[t->n_bytes - 1];
        }
        size_t rs = dtype_row_size(t->type, t->ne[0]);
        if (rs == 0 || rs > t->n_bytes)
            die("row size");
        float *row = malloc((size_t)t->ne[0] * sizeof(float));
        if (row) {
            dtype_to_f32_row(t->type, t->data, row, (size_t)t->ne[0]);
            touch(row, t->ne[0] * sizeof(float));
            free(row);
        }
    }
    gguf_writer *w = rewrite(f);
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    if (gguf_writer_to_buffer(w, &b1, &n1, NULL) != KK_OK)
        die("writer cannot serialize a parsed file");
    gguf_file *f2 = NULL;
    if (gguf_parse_buffer(&f2, b1, n1, "rewritten", &e) != KK_OK)
        die("reader refuses the writer's output");
    gguf_writer *w2 = rewrite(f2);
    if (gguf_writer_to_buffer(w2, &b2, &n2, NULL) != KK_OK)
        die("writer cannot serialize its own output");
    if (n1 != n2 || memcmp(b1, b2, n1) != 0)
        die("re-writing the writer's output changes it");
    gguf_close(f2);
    gguf_writer_free(w);
    gguf_writer_free(w2);
    free(b1);
    free(b2);
    model *m = NULL;
    kk_err_clear(&e);
    if (model_load(&m, f, &e) == KK_OK) {
        for (int32_t il = 0; il < m->hp.n_layers; il++)
            sink += (uint64_t)m->layers[il].sliding_window + m->layers[il].rope_swa;
        model_free(m);
    } else if (strcmp(e.file, "fuzz") != 0 && e.code != KK_E_NOMEM) {
        die("a model error without the file name");
    }
    gguf_close(f);
    return 0;
}
