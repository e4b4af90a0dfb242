/*
 * run_codec_gpu: the runner of kind codec_gpu (docs/gpu.md, "The codec_gpu
 * kind"): each arm is a codec run on the GPU (engine/cuda/kkcu.h) against
 * the CPU codec of the same spec, in a `make cuda` build. A task is one
 * arm:
 *   check   the check data (n_check values: N(0,1) from the seed, then
 *           RUN_CG_ADVERSARIAL values of zeros, outliers, F16 limits and
 *           tiny values) encoded on the GPU from F32 and compared byte for
 *           byte with codec_encode; the small shape encoded on the GPU from
 *           the timing input type (BF16 by default) and compared with
 *           codec_encode of the same values widened to F32; the CPU's
 *           codes of the check data decoded on the GPU and compared bit for
 *           bit with codec_decode. An arm with `corrupt: true` flips one
 *           byte of the GPU's codes on the device before they are fetched
 *           (a declared negative control: the comparison must see it).
 *   figures bits_per_value from the bytes the GPU wrote; rel_mse_gaussian
 *           of the GPU's decode of its own codes of the N(0,1) part.
 *   timing  `repeats` rounds, each timing in turn a device-to-device copy
 *           of the large input (the bandwidth reference, read + written),
 *           then encode, decode and encode+decode at the small shape
 *           (n_small values: the source project's 2048 x 8 x 128) and at
 *           the large one (n_large: 64 Mi), each over a batch of calls
 *           between two synchronizations (RUN_CG_BATCH_SMALL,
 *           RUN_CG_BATCH_LARGE) on the host clock.
 *   counts  values_encoded, values_decoded: the device's own counters
 *           (kkcu_get_stats: one atomic add per thread block of the values
 *           it handled), over every call of the arm.
 * Tasks run one at a time (the runner sets --jobs to 1: two arms timing
 * the same GPU would measure each other). Without CUDA (a `make` build)
 * the kind is listed and its presets validate, but `run` refuses it
 * (exit 2) before anything is written; with CUDA and no GPU, prepare
 * refuses the same way.
 */
#ifndef KK_RUN_CODEC_GPU_H
#define KK_RUN_CODEC_GPU_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "evidence.h"
#include "kind.h"
#include "run.h"

/* Adversarial values after the N(0,1) part of the check data. */
#define RUN_CG_ADVERSARIAL 65536
/* Calls per timed batch: a few-microsecond kernel is timed back to back,
 * not with a host round trip each; a large one twice per batch. */
#define RUN_CG_BATCH_SMALL 16
#define RUN_CG_BATCH_LARGE 2

#define RUN_CG_MAX_REPEATS 200

/* One timing round of an arm: seconds per call. */
typedef struct run_cg_repeat {
    double copy_s;                   /* the large input, device to device */
    double enc_s, dec_s, rt_s;       /* small shape */
    double enc_l_s, dec_l_s, rt_l_s; /* large shape */
} run_cg_repeat;

/* What a task measured: an arm's result slot. */
typedef struct run_cg_result {
    double bits_per_value, rel_mse_gaussian;
    uint64_t bytes_checked, bytes_differing, values_checked, floats_differing;
    uint64_t values_encoded, values_decoded; /* the device's counters */
    size_t n_small, n_large;         /* values, whole units */
    size_t codes_small, codes_large; /* their bytes */
    size_t copy_bytes;               /* the copy's size (read once, written once) */
    size_t elem_bytes;               /* bytes of one timing input/output value */
    int n_rep;
    run_cg_repeat rep[RUN_CG_MAX_REPEATS];
} run_cg_result;

#ifdef KK_CUDA
extern const run_ops run_codec_gpu_ops;
#endif

/* An arm's "metrics", "timings", "signals" and "samples" from its result
 * (run.h's arm_evidence; docs/gpu.md lists the fields). Every build has
 * it: the tests gate what it writes without a GPU. @return b->code. */
kk_code run_codec_gpu_arm_json(const run_cg_result *r, ev_build *b, cJSON *a, kk_err *err);

/* Arm field check: `codec` parses as a codec spec (codec.h). */
int run_codec_gpu_check_codec(const char *val, char *why, size_t cap);

#endif /* KK_RUN_CODEC_GPU_H */
