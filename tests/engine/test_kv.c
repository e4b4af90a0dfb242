/* Tests of engine/kv: the full cache against a flat array oracle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "kv.h"

/* The oracle: per layer, the rows ever appended and not truncated, in a
 * flat (n_ctx, row) array, plus positions. */
typedef struct oracle {
    kv_config cfg;
    int64_t k_row, v_row;
    float *k, *v;
    int32_t *pos;
    int64_t *len;
} oracle;

static void oracle_init(oracle *o, const kv_config *c)
{
    o->cfg = *c;
    o->k_row = (int64_t)c->n_kv_heads * c->head_dim_k;
    o->v_row = (int64_t)c->n_kv_heads * c->head_dim_v;
    o->k = calloc((size_t)(c->n_layers * c->n_ctx * o->k_row), sizeof(float));
    o->v = calloc((size_t)(c->n_layers * c->n_ctx * o->v_row), sizeof(float));
    o->pos = calloc((size_t)(c->n_layers * c->n_ctx), sizeof(int32_t));
    o->len = calloc((size_t)c->n_layers, sizeof(int64_t));
}

static void oracle_free(oracle *o)
{
    free(o->k);
    free(o->v);
    free(o->pos);
    free(o->len);
}

static uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* 0 when the cache's view of every layer equals the oracle exactly. */
static int compare(kv_cache *c, const oracle *o)
{
    for (int32_t l = 0; l < o->cfg.n_layers; l++) {
        kv_view v;
        if (kv_view_layer(c, l, &v, NULL) != KK_OK || v.n != o->len[l])
            return 1;
        for (int64_t i = 0; i < v.n; i++) {
            const float *ok = o->k + (l * o->cfg.n_ctx + i) * o->k_row;
            const float *ov = o->v + (l * o->cfg.n_ctx + i) * o->v_row;
            if (memcmp(v.k + i * v.k_stride, ok, (size_t)o->k_row * sizeof(float)) ||
                memcmp(v.v + i * v.v_stride, ov, (size_t)o->v_row * sizeof(float)) ||
                v.pos[i] != o->pos[l * o->cfg.n_ctx + i])
                return 1;
        }
    }
    return 0;
}

static void full_cache_should_match_a_flat_array_over_random_appends_and_truncations(void **state)
{
    (void)state;
    const kv_config cfg = {3, 2, 8, 4, 50, 0};
    kv_cache *c = NULL;
    assert_int_equal(kv_full_init(&c, &cfg, NULL), KK_OK);
    oracle o;
    oracle_init(&o, &cfg);
    uint64_t s = 42;
    float k[8 * 16 * 2], v[4 * 16 * 2];
    int32_t pos[16];
    for (int step = 0; step < 400; step++) {
        if (rng_next(&s) % 4 == 0) {
            int64_t to = (int64_t)(rng_next(&s) % 60);
            assert_int_equal(kv_truncate(c, to, NULL), KK_OK);
            for (int32_t l = 0; l < cfg.n_layers; l++)
                if (o.len[l] > to)
                    o.len[l] = to;
        } else {
            int64_t n = 1 + (int64_t)(rng_next(&s) % 16);
            for (int32_t l = 0; l < cfg.n_layers; l++) {
                for (int64_t i = 0; i < n * o.k_row; i++)
                    k[i] = (float)(rng_next(&s) % 1000) * 0.25f;
                for (int64_t i = 0; i < n * o.v_row; i++)
                    v[i] = (float)(rng_next(&s) % 1000) * 0.25f;
                for (int64_t i = 0; i < n; i++)
                    pos[i] = (int32_t)(o.len[l] + i);
                kk_code rc = kv_append(c, l, k, v, pos, n, NULL);
                if (o.len[l] + n > cfg.n_ctx) {
                    assert_int_equal(rc, KK_E_LIMIT); /* full: nothing written */
                    continue;
                }
                assert_int_equal(rc, KK_OK);
                memcpy(o.k + (l * cfg.n_ctx + o.len[l]) * o.k_row, k,
                       (size_t)(n * o.k_row) * sizeof(float));
                memcpy(o.v + (l * cfg.n_ctx + o.len[l]) * o.v_row, v,
                       (size_t)(n * o.v_row) * sizeof(float));
                memcpy(o.pos + l * cfg.n_ctx + o.len[l], pos, (size_t)n * sizeof(int32_t));
                o.len[l] += n;
            }
        }
        assert_int_equal(compare(c, &o), 0);
        assert_int_equal(kv_n_tokens(c), o.len[cfg.n_layers - 1]);
    }
    /* The oracle bites: change one stored value and the comparison fails. */
    for (int32_t l = 0; l < cfg.n_layers; l++)
        if (o.len[l] > 0) {
            o.v[(l * cfg.n_ctx + o.len[l] - 1) * o.v_row] += 1.0f;
            assert_int_equal(compare(c, &o), 1);
            break;
        }
    oracle_free(&o);
    kv_free(c);
}

static void full_cache_should_report_its_allocated_bytes(void **state)
{
    (void)state;
    const kv_config cfg = {5, 4, 8, 8, 100, 0};
    kv_cache *c = NULL;
    assert_int_equal(kv_full_init(&c, &cfg, NULL), KK_OK);
    /* K and V: 5 layers x 100 tokens x 32 floats each, plus an int32
     * position per layer and token; independent of what is stored. */
    const size_t want = (size_t)5 * 100 * (32 + 32) * 4 + (size_t)5 * 100 * 4;
    assert_int_equal(kv_bytes_resident(c), want);
    float k[32] = {0}, v[32] = {0};
    int32_t p = 0;
    for (int32_t l = 0; l < 5; l++)
        assert_int_equal(kv_append(c, l, k, v, &p, 1, NULL), KK_OK);
    assert_int_equal(kv_bytes_resident(c), want);
    kv_free(c);
}

static void full_cache_should_reject_bad_layers_and_configs(void **state)
{
    (void)state;
    kv_cache *c = NULL;
    kk_err e;
    const kv_config bad = {0, 1, 1, 1, 10, 0};
    assert_int_equal(kv_full_init(&c, &bad, &e), KK_E_RANGE);
    assert_null(c);
    const kv_config cfg = {2, 1, 2, 2, 4, 0};
    assert_int_equal(kv_full_init(&c, &cfg, &e), KK_OK);
    kv_view v;
    assert_int_equal(kv_view_layer(c, 2, &v, &e), KK_E_RANGE);
    assert_int_equal(kv_view_layer(c, -1, &v, &e), KK_E_RANGE);
    float k[2] = {1, 2}, vv[2] = {3, 4};
    int32_t p = 0;
    assert_int_equal(kv_append(c, 7, k, vv, &p, 1, &e), KK_E_RANGE);
    kv_free(c);
    kv_free(NULL);
}

/* The F16 cache holds dtype_f32_to_f16 of what was appended (round to
 * nearest even: the same bits), hands the rows out as F16 (k, v NULL),
 * truncates as the full cache does and allocates half the row bytes. */
static void f16_cache_should_hold_the_rounded_rows_and_half_the_bytes(void **state)
{
    (void)state;
    kk_err e;
    const kv_config cfg = {2, 2, 4, 3, 8, 0};
    kv_cache *c = NULL, *c32 = NULL;
    assert_int_equal(kv_full_f16_init(&c, &cfg, &e), KK_OK);
    assert_int_equal(kv_full_init(&c32, &cfg, &e), KK_OK);
    float k[3 * 8], v[3 * 6];
    for (int i = 0; i < 3 * 8; i++)
        k[i] = 0.1f * (float)i - 1.234567f;
    for (int i = 0; i < 3 * 6; i++)
        v[i] = 1e-3f * (float)(i * i) + 0.5f;
    const int32_t pos[3] = {0, 1, 2};
    for (int32_t l = 0; l < 2; l++)
        assert_int_equal(kv_append(c, l, k, v, pos, 3, &e), KK_OK);
    kv_view vw;
    assert_int_equal(kv_view_layer(c, 1, &vw, &e), KK_OK);
    assert_int_equal(vw.n, 3);
    assert_null(vw.k);
    assert_null(vw.v);
    assert_non_null(vw.k16);
    for (int t = 0; t < 3; t++) {
        for (int i = 0; i < 8; i++)
            assert_int_equal(vw.k16[t * vw.k_stride + i], dtype_f32_to_f16(k[t * 8 + i]));
        for (int i = 0; i < 6; i++)
            assert_int_equal(vw.v16[t * vw.v_stride + i], dtype_f32_to_f16(v[t * 6 + i]));
        assert_int_equal(vw.pos[t], t);
    }
    assert_int_equal(kv_truncate(c, 1, NULL), KK_OK);
    assert_int_equal(kv_n_tokens(c), 1);
    assert_int_equal(kv_append(c, 0, k, v, pos, 8, &e), KK_E_LIMIT); /* 1 + 8 > 8 */
    /* rows: 2 layers x 8 slots x (8 + 6) values x 2 bytes, plus positions */
    assert_int_equal(kv_bytes_resident(c), 2 * 8 * 14 * 2 + 2 * 8 * 4);
    assert_int_equal(kv_bytes_resident(c32), 2 * 8 * 14 * 4 + 2 * 8 * 4);
    const kv_config bad = {1, 0, 4, 4, 8, 0};
    kv_cache *b = NULL;
    assert_int_equal(kv_full_f16_init(&b, &bad, &e), KK_E_RANGE);
    assert_null(b);
    kv_free(c);
    kv_free(c32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_cache_should_match_a_flat_array_over_random_appends_and_truncations),
        cmocka_unit_test(full_cache_should_report_its_allocated_bytes),
        cmocka_unit_test(full_cache_should_reject_bad_layers_and_configs),
        cmocka_unit_test(f16_cache_should_hold_the_rounded_rows_and_half_the_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
