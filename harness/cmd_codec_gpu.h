/*
 * cmd_codec_gpu: the GPU sides of `kakeya codec` (docs/gpu.md):
 *   codec eval --device cuda   codec_eval_gpu, called by cmd_codec.c
 *   codec attn                 cmd_codec_attn: the fused decode attention
 *                              over a packed K/V cache against decoding to
 *                              F16 and attending (engine/cuda/kkcu_attn.h)
 * In a build without CUDA both refuse (cli_cuda.h: exit 2).
 */
#ifndef KK_CMD_CODEC_GPU_H
#define KK_CMD_CODEC_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "kk_err.h"

typedef struct codec_gpu_result {
    double t_enc, t_dec;  /* seconds per call (F32 in and out), on the GPU */
    size_t written;       /* bytes of the codes */
    int bytes_equal_cpu;  /* the GPU's codes are codec_encode's, byte for byte */
    int floats_equal_cpu; /* the GPU's decode of them is codec_decode's, bit for bit */
    char device[256];     /* the GPU's name */
} codec_gpu_result;

/* On device 0: encode x (n values, a whole number of c's units) into buf
 * (codec_encoded_bytes(c, n) bytes), decode them into y (n floats), time
 * both (repeated for at least min_s seconds each, calls in batches between
 * synchronizations), and compare both with c (the CPU codec of the same
 * spec). @return KK_OK; KK_E_UNSUPPORTED without CUDA or a GPU, or for a
 * codec with no GPU path (the message says which); KK_E_NOMEM; KK_E_IO. */
kk_code codec_eval_gpu(const codec_spec *spec, codec *c, const float *x, size_t n,
                       double min_s, uint8_t *buf, float *y, codec_gpu_result *r, kk_err *err);

/* kakeya codec attn ... (argv[0] = "attn"). */
int cmd_codec_attn(int argc, char **argv);

#endif /* KK_CMD_CODEC_GPU_H */
