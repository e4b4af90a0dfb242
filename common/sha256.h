/*
 * sha256: FIPS 180-4 SHA-256, streaming. No allocation; nothing to free.
 */
#ifndef KK_SHA256_H
#define KK_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"

typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t n_bytes;
    uint8_t buf[64];
    size_t n_buf;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
void sha256_final(sha256_ctx *c, uint8_t out[32]);

/* One call: hex digest (64 chars + NUL) of a buffer / of a file's bytes. */
void sha256_hex(const void *data, size_t len, char out[65]);
kk_code sha256_file_hex(const char *path, char out[65], kk_err *err);

#endif /* KK_SHA256_H */
