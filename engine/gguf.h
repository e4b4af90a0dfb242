/*
 * gguf: reader and writer of GGUF v2/v3 files (the llama.cpp model format).
 *
 * File layout (GGUF spec, ggml docs/gguf.md; all little-endian):
 *   magic "GGUF" | u32 version (2 or 3) | u64 n_tensors | u64 n_kv
 *   n_kv x { string key | u32 value_type | value }
 *   n_tensors x { string name | u32 n_dims (1..4) | u64 ne[n_dims]
 *                 (innermost first) | u32 ggml_type | u64 offset }
 *   padding to general.alignment (default 32)
 *   data section: each tensor at data_start + offset (offset % alignment == 0)
 *   string = u64 len | len bytes (not NUL-terminated)
 *   array  = u32 elem_type | u64 n | n elements (nested arrays allowed)
 *
 * Reading: the file is mmapped read-only; strings, arrays of fixed-size
 * elements and tensor data are views into the map (never copied). Every
 * count, length, dimension and offset is checked before use: a malformed
 * file gives KK_E_FORMAT (or KK_E_DUPLICATE / KK_E_UNSUPPORTED / KK_E_LIMIT)
 * with err->file, err->offset (the byte where the bad field starts) and
 * err->where (the key or tensor name) set, never a crash or an
 * out-of-bounds read.
 *
 * Shapes: ne[] stays innermost first here, as in the file; the model loader
 * converts to outermost-first shape comments once.
 *
 * Ownership: gguf_open / gguf_parse_buffer return a gguf_file the caller
 * frees with gguf_close (accepts NULL). All views die with it.
 * gguf_writer_init returns a writer freed with gguf_writer_free; the writer
 * copies what it is given.
 */
#ifndef KK_GGUF_H
#define KK_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"
#include "kk_file.h"
#include "dtype.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

/* Caps on what a file may declare (KK_E_LIMIT beyond them). Counts are
 * first checked against the bytes left in the file (KK_E_FORMAT), so these
 * only bound well-formed but absurd files:
 *   GGUF_MAX_KV        real models carry 20..60 keys; 2^20 leaves room for
 *                      any metadata while bounding the kv table (64 MiB).
 *   GGUF_MAX_TENSORS   the largest public models have a few thousand tensors
 *                      (DeepSeek-V3: ~1,900); 2^20 bounds the tensor table.
 *   GGUF_MAX_KEY_LEN   the GGUF spec: keys are at most 2^16 - 1 bytes.
 *   GGUF_MAX_NAME_LEN  tensor names (llama.cpp stops at 63, GGML_MAX_NAME);
 *                      255 so a name always fits kk_err.where.
 *   GGUF_MAX_ARRAY_DEPTH  nested arrays: no model nests deeper than 2; the
 *                      cap bounds the reader's recursion.
 *   GGUF_MAX_ALIGNMENT general.alignment: writers use 32 (llama.cpp) up to a
 *                      page; every tensor may carry alignment - 1 bytes of
 *                      padding, and the fuzzer found a 115-byte file asking
 *                      for 2^25 (32 MiB of padding per re-write). 1 MiB. */
#define GGUF_MAX_KV (1 << 20)
#define GGUF_MAX_TENSORS (1 << 20)
#define GGUF_MAX_KEY_LEN 65535
#define GGUF_MAX_NAME_LEN 255
#define GGUF_MAX_ARRAY_DEPTH 8
#define GGUF_MAX_ALIGNMENT (1 << 20)

typedef enum gguf_type {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT
} gguf_type;

typedef struct gguf_str {
    const char *s; /* view; NOT NUL-terminated */
    uint64_t len;
} gguf_str;

typedef struct gguf_value gguf_value;
struct gguf_value {
    gguf_type type;
    union {
        uint64_t u;   /* UINT8..UINT64 */
        int64_t i;    /* INT8..INT64 */
        double f;     /* FLOAT32, FLOAT64 */
        bool b;       /* BOOL */
        gguf_str str; /* STRING */
        struct {
            gguf_type elem_type;
            uint64_t n;
            const uint8_t *raw; /* fixed-size elements: view, little-endian,
                                   possibly unaligned (read with memcpy) */
            gguf_value *items;  /* STRING or ARRAY elements: n parsed values
                                   (owned by the gguf_file); NULL otherwise */
        } arr;
    } v;
};

typedef struct gguf_kv {
    gguf_str key;
    gguf_value value;
    uint64_t file_offset; /* where the key starts, for error messages */
} gguf_kv;

typedef struct gguf_tensor {
    gguf_str name;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; /* innermost first; unused dims are 1 */
    dtype_t type;
    uint64_t offset;      /* relative to the data section */
    uint64_t n_elements;
    uint64_t n_bytes;
    const uint8_t *data;  /* view into the map */
} gguf_tensor;

typedef struct gguf_file {
    char path[KK_ERR_FILE_MAX];
    kk_map map;           /* fd -1 and no munmap when parsed from a buffer */
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset; /* absolute file offset of the data section */
    uint64_t n_kv;
    gguf_kv *kv;
    uint64_t n_tensors;
    gguf_tensor *tensors;
    void *arena_;         /* private: nested values */
} gguf_file;

/* Open and validate a file (mmap). */
kk_code gguf_open(gguf_file **out, const char *path, kk_err *err);
/* Parse bytes already in memory (the fuzzer, tests). The buffer must outlive
 * the gguf_file; `name` is used in error messages. */
kk_code gguf_parse_buffer(gguf_file **out, const uint8_t *data, size_t size,
                          const char *name, kk_err *err);
void gguf_close(gguf_file *f);

/* Lookups: index, or -1 when absent. */
int64_t gguf_find_key(const gguf_file *f, const char *key);
int64_t gguf_find_tensor(const gguf_file *f, const char *name);
const gguf_value *gguf_get(const gguf_file *f, const char *key); /* NULL if absent */
const gguf_tensor *gguf_get_tensor(const gguf_file *f, const char *name);

/* Typed getters. Integers accept any integer GGUF type whose value fits;
 * floats accept FLOAT32/FLOAT64. A missing key gives KK_E_MISSING, a wrong
 * type KK_E_TYPE, a value that does not fit KK_E_RANGE; err names the file
 * and the key. */
kk_code gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out, kk_err *err);
kk_code gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out, kk_err *err);
kk_code gguf_get_f32(const gguf_file *f, const char *key, float *out, kk_err *err);
kk_code gguf_get_bool(const gguf_file *f, const char *key, bool *out, kk_err *err);
/* Strings must be valid UTF-8 (KK_E_FORMAT otherwise). */
kk_code gguf_get_str(const gguf_file *f, const char *key, gguf_str *out, kk_err *err);
/* Copy a string view into a NUL-terminated buffer (truncates; returns dst). */
char *gguf_str_copy(gguf_str s, char *dst, size_t cap);
/* Array element readers (bounds-checked by the caller against arr.n).
 * Integer, bool and float elements convert (i32 saturates); an index out of
 * range or a string/array element gives 0. */
float gguf_arr_f32(const gguf_value *arr, uint64_t i);
int32_t gguf_arr_i32(const gguf_value *arr, uint64_t i);

const char *gguf_type_name(gguf_type t);

/* Index of the first byte that is not strict UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, <= U+10FFFF), or len when all of s is valid. */
uint64_t gguf_utf8_check(const char *s, uint64_t len);

/* ---- Writer ------------------------------------------------------------ */

typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_init(uint32_t version, uint64_t alignment);
void gguf_writer_free(gguf_writer *w);

/* Metadata, in insertion order. Setting an existing key replaces its value. */
kk_code gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v);
kk_code gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v);
kk_code gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v);
kk_code gguf_writer_set_f32(gguf_writer *w, const char *key, float v);
kk_code gguf_writer_set_f64(gguf_writer *w, const char *key, double v);
kk_code gguf_writer_set_bool(gguf_writer *w, const char *key, bool v);
kk_code gguf_writer_set_str(gguf_writer *w, const char *key, const char *v);
kk_code gguf_writer_set_arr_str(gguf_writer *w, const char *key,
                                const char *const *v, uint64_t n);
kk_code gguf_writer_set_arr_f32(gguf_writer *w, const char *key,
                                const float *v, uint64_t n);
kk_code gguf_writer_set_arr_i32(gguf_writer *w, const char *key,
                                const int32_t *v, uint64_t n);
/* Copy any parsed value (nested arrays included) from a reader. */
kk_code gguf_writer_set_value(gguf_writer *w, const char *key,
                              const gguf_value *v);

/* Tensors, in insertion order; data (n_bytes = dtype_row_size... * rows) is
 * copied. ne innermost first. */
kk_code gguf_writer_add_tensor(gguf_writer *w, const char *name, dtype_t type,
                               uint32_t n_dims, const uint64_t *ne,
                               const void *data, uint64_t n_bytes, kk_err *err);

/* Serialize to memory (caller frees *buf) or to a file (temp + rename). */
kk_code gguf_writer_to_buffer(const gguf_writer *w, uint8_t **buf, size_t *len,
                              kk_err *err);
kk_code gguf_writer_write(const gguf_writer *w, const char *path, kk_err *err);

#endif /* KK_GGUF_H */
