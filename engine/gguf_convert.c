/* gguf_convert: see gguf_convert.h. */
#include "gguf_convert.h"

#include <stdlib.h>
#include <string.h>

static kk_code build(const gguf_file *f, dtype_t type, gguf_writer **out, kk_err *err)
{
    *out = NULL;
    if (type != DTYPE_F16 && type != DTYPE_BF16 && type != DTYPE_Q8_0)
        return kk_err_set(err, KK_E_RANGE,
                          "convert: type %s is not allowed (allowed: f16, bf16, q8_0)",
                          dtype_name(type));
    gguf_writer *w = gguf_writer_init(3, f->alignment);
    if (!w)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    kk_code rc = KK_OK;
    for (uint64_t i = 0; rc == KK_OK && i < f->n_kv; i++) {
        char key[256];
        gguf_str_copy(f->kv[i].key, key, sizeof key);
        rc = gguf_writer_set_value(w, key, &f->kv[i].value);
        if (rc != KK_OK)
            kk_err_set(err, rc, "cannot copy metadata key %s", key);
    }
    for (uint64_t i = 0; rc == KK_OK && i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        char name[256];
        gguf_str_copy(t->name, name, sizeof name);
        if (t->n_dims != 2 || t->type != DTYPE_F32 || (type == DTYPE_Q8_0 && t->ne[0] % 32)) {
            rc = gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data, t->n_bytes,
                                        err);
            continue;
        }
        const uint64_t cols = t->ne[0], rows = t->ne[1];
        const size_t rb = dtype_row_size(type, cols);
        if (rb == 0 || rows > SIZE_MAX / rb || cols > SIZE_MAX / sizeof(float)) {
            rc = kk_err_set(err, KK_E_RANGE, "tensor %s: %llu x %llu does not fit in memory",
                            name, (unsigned long long)rows, (unsigned long long)cols);
            break;
        }
        uint8_t *buf = malloc(rb * rows);
        float *row = malloc(cols * sizeof(float));
        if (!buf || !row) {
            free(buf);
            free(row);
            rc = kk_err_set(err, KK_E_NOMEM, "out of memory converting %s", name);
            break;
        }
        for (uint64_t r = 0; r < rows; r++) {
            memcpy(row, t->data + r * cols * 4, cols * 4); /* any alignment */
            if (type == DTYPE_F16 || type == DTYPE_BF16)
                for (uint64_t c = 0; c < cols; c++) {
                    const uint16_t h = type == DTYPE_F16 ? dtype_f32_to_f16(row[c])
                                                         : dtype_f32_to_bf16(row[c]);
                    memcpy(buf + r * rb + 2 * c, &h, 2);
                }
            else
                dtype_quantize_row_q8_0_ref(row, (dtype_block_q8_0 *)(void *)(buf + r * rb),
                                            cols);
        }
        rc = gguf_writer_add_tensor(w, name, type, 2, t->ne, buf, rb * rows, err);
        free(buf);
        free(row);
    }
    if (rc != KK_OK) {
        gguf_writer_free(w);
        return rc;
    }
    *out = w;
    return KK_OK;
}

kk_code gguf_convert_to_buffer(const gguf_file *f, dtype_t type, uint8_t **buf, size_t *len,
                               kk_err *err)
{
    gguf_writer *w;
    kk_code rc = build(f, type, &w, err);
    if (rc != KK_OK)
        return rc;
    rc = gguf_writer_to_buffer(w, buf, len, err);
    gguf_writer_free(w);
    return rc;
}

kk_code gguf_convert_to_file(const gguf_file *f, dtype_t type, const char *path, kk_err *err)
{
    gguf_writer *w;
    kk_code rc = build(f, type, &w, err);
    if (rc != KK_OK)
        return rc;
    rc = gguf_writer_write(w, path, err);
    gguf_writer_free(w);
    return rc;
}
