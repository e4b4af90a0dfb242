/*
 * gguf_internal: what gguf.c, gguf_get.c and gguf_write.c share. Not part of
 * the public interface (gguf.h).
 */
#ifndef KK_GGUF_INTERNAL_H
#define KK_GGUF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

/* Bytes of one element of a fixed-size value type; 0 for STRING, ARRAY and
 * unknown types. */
size_t gguf_type_size_(uint32_t t);
/* Decode one little-endian fixed-size element at p (caller checked bounds). */
void gguf_decode_fixed_(uint32_t t, const uint8_t *p, gguf_value *v);

#endif /* KK_GGUF_INTERNAL_H */
