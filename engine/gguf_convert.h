/*
 * gguf_convert: a GGUF file's 2-D F32 tensors stored as F16, BF16 or Q8_0
 * (ggml's round-to-nearest-even F16 and BF16, NaN kept; Q8_0 bytes as ggml's quantizer writes them,
 * dtype_quantize_row_q8_0_ref), every other tensor and every metadata key
 * copied as they are: how the bench models and the tests' reduced-precision
 * models are made from an F32 file.
 *
 * Ownership: *buf is malloc'ed (caller frees); f is borrowed.
 */
#ifndef KK_GGUF_CONVERT_H
#define KK_GGUF_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "gguf.h"
#include "kk_err.h"

/* @return KK_OK; KK_E_RANGE for a type other than F16/BF16/Q8_0 or a tensor too
 * large for memory; KK_E_NOMEM. */
kk_code gguf_convert_to_buffer(const gguf_file *f, dtype_t type, uint8_t **buf, size_t *len,
                               kk_err *err);
/* The same, written to path (temp file + rename, as gguf_writer_write). */
kk_code gguf_convert_to_file(const gguf_file *f, dtype_t type, const char *path, kk_err *err);

#endif /* KK_GGUF_CONVERT_H */
