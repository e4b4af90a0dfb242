/*
 * kkcu_codec: the C interface of kkcu.h: device queries, codec objects,
 * dispatch to the kernels (kkcu_kernels.cu), errors.
 *
 * A kkcu_codec wraps the CPU codec of the same spec: codec_init validates
 * the spec and computes every size and table (the d4/e8 scales come from
 * powf, which only the host computes, so the GPU uses the CPU's very
 * floats); kkcu_params_fill copies what the kernels need. That reads the
 * engine's codec struct (codec_internal.h): the GPU is a second
 * implementation of the same arms, like codec_avx2.c, not a client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#include "kkcu_internal.cuh"

extern "C" {
#include "codec_internal.h"
}

static_assert((int)KKCU_KIND_Q8_0 == (int)CODEC_KIND_Q8_0 &&
                  (int)KKCU_KIND_Q4_0 == (int)CODEC_KIND_Q4_0 &&
                  (int)KKCU_KIND_AFFINE == (int)CODEC_KIND_AFFINE &&
                  (int)KKCU_KIND_D4 == (int)CODEC_KIND_D4 && (int)KKCU_KIND_E8 == (int)CODEC_KIND_E8 &&
                  (int)KKCU_KIND_KL_D4 == (int)CODEC_KIND_KL_D4 &&
                  (int)KKCU_KIND_KL_E8 == (int)CODEC_KIND_KL_E8,
              "kkcu_arith.cuh's kind numbers are codec.h's");
static_assert(KKCU_MAX_DIM == CODEC_MAX_DIM && KKCU_MAX_SCALES == CODEC_MAX_SCALES,
              "kkcu limits are the CPU codec's");

/* ---- errors ------------------------------------------------------------------ */

/* A failed CUDA call as a located kk_err: code by kind of failure, file and
 * line of the call, where = the API function. */
static kk_code cuda_fail(kk_err *err, cudaError_t e, const char *call, const char *fn,
                         const char *file, int line)
{
    const kk_code code = e == cudaErrorMemoryAllocation ? KK_E_NOMEM
                         : (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver)
                             ? KK_E_UNSUPPORTED
                             : KK_E_IO;
    kk_err_set(err, code, "cuda: %s failed: %s (%s)", call, cudaGetErrorString(e),
               cudaGetErrorName(e));
    kk_err_file(err, file);
    kk_err_linecol(err, line, 0);
    kk_err_where(err, fn);
    return code;
}

/* Check a CUDA call; on failure set err and rc and jump to `fail`. */
#define CU_TRY(call, fn)                                                      \
    do {                                                                      \
        const cudaError_t cu_e_ = (call);                                     \
        if (cu_e_ != cudaSuccess) {                                           \
            rc = cuda_fail(err, cu_e_, #call, fn, __FILE__, __LINE__);        \
            goto fail;                                                        \
        }                                                                     \
    } while (0)

/* ---- device ------------------------------------------------------------------ */

kk_code kkcu_device_get(kkcu_device *out, kk_err *err)
{
    kk_code rc = KK_OK;
    memset(out, 0, sizeof *out);
    int dev = 0;
    cudaDeviceProp prop;
    CU_TRY(cudaGetDevice(&dev), "kkcu_device_get");
    CU_TRY(cudaGetDeviceProperties(&prop, dev), "kkcu_device_get");
    CU_TRY(cudaDriverGetVersion(&out->driver_version), "kkcu_device_get");
    CU_TRY(cudaRuntimeGetVersion(&out->runtime_version), "kkcu_device_get");
    snprintf(out->name, sizeof out->name, "%s", prop.name);
    out->cc_major = prop.major;
    out->cc_minor = prop.minor;
    out->n_sms = prop.multiProcessorCount;
    out->mem_bytes = (uint64_t)prop.totalGlobalMem;
    out->l2_bytes = (uint64_t)prop.l2CacheSize;
    return KK_OK;
fail:
    return rc;
}

kk_code kkcu_device_name(char *buf, size_t cap, kk_err *err)
{
    kkcu_device d;
    const kk_code rc = kkcu_device_get(&d, err);
    if (rc != KK_OK)
        return rc;
    snprintf(buf, cap, "%s (sm_%d%d, %d SMs, driver %d.%d, runtime %d.%d)", d.name, d.cc_major,
             d.cc_minor, d.n_sms, d.driver_version / 1000, d.driver_version % 1000 / 10,
             d.runtime_version / 1000, d.runtime_version % 1000 / 10);
    return KK_OK;
}

kk_code kkcu_sync(kk_err *err)
{
    kk_code rc = KK_OK;
    CU_TRY(cudaDeviceSynchronize(), "kkcu_sync");
    return KK_OK;
fail:
    return rc;
}

/* ---- codecs ------------------------------------------------------------------ */

void kkcu_params_fill(const codec *c, kkcu_params *p)
{
    memset(p, 0, sizeof *p);
    const codec_spec *s = &c->spec;
    p->kind = (int)s->kind;
    p->bits = s->bits;
    p->group = s->group;
    p->scales = s->scales;
    p->axis = (int)s->axis;
    p->channels = s->channels;
    p->dim = c->signs ? s->dim : 0;
    p->rot_scale = p->dim ? 1.0f / sqrtf((float)p->dim) : 1.0f; /* codec_hadamard_forward's s */
    p->signs = NULL;
    p->unit_values = (int)c->unit_values;
    p->unit_bytes = (int)c->unit_bytes;
    p->arm_values = (int)c->arm_values;
    p->arm_bytes = (int)c->arm_bytes;
    p->lat_n = c->lat_n;
    p->q = c->q;
    p->log2q = c->log2q;
    p->log2s = c->log2s;
    p->code_bytes = (int)c->code_bytes;
    if (s->kind == CODEC_KIND_D4 || s->kind == CODEC_KIND_E8) {
        p->idx_offset = (int)codec_lattice_idx_offset(c);
        p->inv_sqrt_group = 1.0f / sqrtf((float)s->group); /* codec_lattice_betas' factor */
    }
    memcpy(p->scale_rel, c->scale_rel, sizeof p->scale_rel);
    p->escape_rel = c->escape_rel;
    p->kl_q = s->q;
    p->kl_bits = c->kl_bits;
}

static bool kind_on_gpu(codec_kind k)
{
    switch (k) {
    case CODEC_KIND_Q8_0:
    case CODEC_KIND_Q4_0:
    case CODEC_KIND_AFFINE:
    case CODEC_KIND_D4:
    case CODEC_KIND_E8:
    case CODEC_KIND_KL_D4:
    case CODEC_KIND_KL_E8:
        return true;
    default:
        return false;
    }
}

kk_code kkcu_codec_init(kkcu_codec **out, const codec_spec *spec, kk_err *err)
{
    *out = NULL;
    kkcu_codec *c = (kkcu_codec *)calloc(1, sizeof *c);
    if (!c)
        return kk_err_set(err, KK_E_NOMEM, "kkcu: out of memory");
    kk_code rc = codec_init(&c->cpu, spec, err);
    if (rc != KK_OK) {
        free(c);
        return rc;
    }
    if (!kind_on_gpu(spec->kind)) {
        char name[128];
        codec_spec_format(spec, name, sizeof name);
        kk_err_set(err, KK_E_UNSUPPORTED,
                   "kkcu: codec '%s' has no GPU path (GPU codecs: q8_0, q4_0, affine, d4, e8, "
                   "kl_d4, kl_e8)", name);
        kk_err_where(err, "codec");
        rc = KK_E_UNSUPPORTED;
        goto fail;
    }
    kkcu_params_fill(c->cpu, &c->p);
    if (c->p.dim) {
        CU_TRY(cudaMalloc((void **)&c->d_signs, (size_t)c->p.dim * sizeof(float)),
               "kkcu_codec_init");
        CU_TRY(cudaMemcpy(c->d_signs, c->cpu->signs, (size_t)c->p.dim * sizeof(float),
                          cudaMemcpyHostToDevice),
               "kkcu_codec_init");
        c->p.signs = c->d_signs;
    }
    CU_TRY(cudaMalloc((void **)&c->d_counts, 2 * sizeof(unsigned long long)), "kkcu_codec_init");
    CU_TRY(cudaMemset(c->d_counts, 0, 2 * sizeof(unsigned long long)), "kkcu_codec_init");
    c->impl = KKCU_IMPL_FAST;
    *out = c;
    return KK_OK;
fail:
    kkcu_codec_free(c);
    return rc;
}

void kkcu_codec_free(kkcu_codec *c)
{
    if (!c)
        return;
    if (c->d_signs || c->d_counts)
        cudaDeviceSynchronize(); /* nothing in flight may still read them */
    cudaFree(c->d_signs);
    cudaFree(c->d_counts);
    codec_free(c->cpu);
    free(c);
}

codec *kkcu_codec_cpu(kkcu_codec *c) { return c->cpu; }
size_t kkcu_block_values(const kkcu_codec *c) { return (size_t)c->p.unit_values; }
size_t kkcu_block_bytes(const kkcu_codec *c) { return (size_t)c->p.unit_bytes; }
size_t kkcu_encoded_bytes(const kkcu_codec *c, size_t n) { return codec_encoded_bytes(c->cpu, n); }
const float *kkcu_codec_signs(const kkcu_codec *c) { return c->d_signs; }

static const char *const IMPL_NAMES[] = {"fast", "tile", "simple"};

bool kkcu_set_impl(kkcu_codec *c, const char *name)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, IMPL_NAMES[i])) {
            c->impl = i;
            return true;
        }
    return false;
}

const char *kkcu_impl_name(const kkcu_codec *c) { return IMPL_NAMES[c->impl]; }

/* n whole units and a known element type, else KK_E_RANGE at "n"/"dtype". */
static kk_code check_call(const kkcu_codec *c, size_t n, kkcu_dtype t, const char *fn, kk_err *err)
{
    if (t != KKCU_F32 && t != KKCU_BF16) {
        kk_err_set(err, KK_E_RANGE, "%s: element type %d is not allowed (allowed: KKCU_F32, "
                   "KKCU_BF16)", fn, (int)t);
        return kk_err_where(err, "dtype");
    }
    if (n % (size_t)c->p.unit_values != 0) {
        kk_err_set(err, KK_E_RANGE, "%s: n=%zu is not a multiple of the codec's unit (%d values)",
                   fn, n, c->p.unit_values);
        return kk_err_where(err, "n");
    }
    return KK_OK;
}

kk_code kkcu_encode(kkcu_codec *c, const void *d_x, kkcu_dtype xt, size_t n, uint8_t *d_out,
                    kkcu_stream stream, kk_err *err)
{
    kk_code rc = check_call(c, n, xt, "kkcu_encode", err);
    if (rc != KK_OK || n == 0)
        return rc;
    CU_TRY(kkcu_launch_encode(c, d_x, xt, n / (size_t)c->p.unit_values, d_out,
                              (cudaStream_t)stream),
           "kkcu_encode");
    return KK_OK;
fail:
    return rc;
}

kk_code kkcu_decode(kkcu_codec *c, const uint8_t *d_in, size_t n, void *d_y, kkcu_dtype yt,
                    kkcu_stream stream, kk_err *err)
{
    kk_code rc = check_call(c, n, yt, "kkcu_decode", err);
    if (rc != KK_OK || n == 0)
        return rc;
    CU_TRY(kkcu_launch_decode(c, d_in, n / (size_t)c->p.unit_values, d_y, yt,
                              (cudaStream_t)stream),
           "kkcu_decode");
    return KK_OK;
fail:
    return rc;
}

kk_code kkcu_get_stats(kkcu_codec *c, kkcu_stats *out, kk_err *err)
{
    kk_code rc = KK_OK;
    unsigned long long h[2] = {0, 0};
    memset(out, 0, sizeof *out);
    CU_TRY(cudaDeviceSynchronize(), "kkcu_get_stats");
    CU_TRY(cudaMemcpy(h, c->d_counts, sizeof h, cudaMemcpyDeviceToHost), "kkcu_get_stats");
    out->values_encoded = h[0];
    out->values_decoded = h[1];
    return KK_OK;
fail:
    return rc;
}

kk_code kkcu_reset_stats(kkcu_codec *c, kk_err *err)
{
    kk_code rc = KK_OK;
    CU_TRY(cudaDeviceSynchronize(), "kkcu_reset_stats");
    CU_TRY(cudaMemset(c->d_counts, 0, 2 * sizeof(unsigned long long)), "kkcu_reset_stats");
    return KK_OK;
fail:
    return rc;
}
