/* kv_sinkwin (engine/kv_sinkwin.h): the bounded cache against the full
 * cache masked to the same sinks and window, its constant memory, and
 * rollback that is exact (bit-identical attention) or refused.
 *
 * Tolerances: the sink+window view holds its entries in ring order, the
 * masked full cache in position order, so the same visible set is summed
 * in another order: the double-precision reference agrees to 1e-9, the
 * fast path with the reference to ATT_ABS_TOL (1e-5, as tests/engine/
 * test_forward.c: float accumulation over at most a few hundred entries of
 * values in [-1, 1)). The rollback checks are exact (memcmp): the visible
 * entries are the same bytes in the same slots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "kv_sinkwin.h"

#define ATT_ABS_TOL 1e-5
#define REF_ABS_TOL 1e-9

enum { L = 2, KH = 2, H = 4, DK = 8, DV = 8, ROW = KH * DK, T = 200 };

static float rng_unif(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

typedef struct data {
    float k[T * ROW], v[T * ROW], q[T * H * DK];
    int32_t pos[T];
} data;

static void data_fill(data *d, uint64_t seed)
{
    for (int i = 0; i < T * ROW; i++) {
        d->k[i] = rng_unif(&seed);
        d->v[i] = rng_unif(&seed);
    }
    for (int i = 0; i < T * H * DK; i++)
        d->q[i] = 2.0f * rng_unif(&seed);
    for (int i = 0; i < T; i++)
        d->pos[i] = i;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double x = fabs((double)a[i] - (double)b[i]);
        m = isnan(x) ? INFINITY : (x > m ? x : m);
    }
    return m;
}

static void append_all(kv_cache *c, const data *d, int64_t from, int64_t n)
{
    kk_err e;
    for (int32_t l = 0; l < L; l++)
        assert_int_equal(kv_append(c, l, d->k + from * ROW, d->v + from * ROW, d->pos + from, n,
                                   &e), KK_OK);
}

static const fwd_attn_shape SHAPE = {.n_heads = H, .n_kv_heads = KH, .head_dim_k = DK,
                                     .head_dim_v = DV};

/* Attention of queries [from, from+n) over layer 1 of c: fast and reference. */
static void attend(kv_cache *c, const data *d, int64_t from, int64_t n, float *fast, float *ref,
                   int32_t window, int32_t n_sink)
{
    kv_view vw;
    kk_err e;
    assert_int_equal(kv_view_layer(c, 1, &vw, &e), KK_OK);
    if (window) { /* the full cache, masked as the bounded one is */
        vw.window = window;
        vw.n_sink = n_sink;
    }
    if (fast)
        assert_int_equal(fwd_attention(&SHAPE, d->q + from * H * DK, d->pos + from, n, &vw, fast),
                         KK_OK);
    if (ref)
        fwd_attention_ref(&SHAPE, d->q + from * H * DK, d->pos + from, n, &vw, ref);
}

static kv_config config(int64_t n_ctx, int64_t slack)
{
    return (kv_config){L, KH, DK, DV, n_ctx, slack};
}

/* Chunks of up to slack + 1 tokens (the append bound), the ring wrapping
 * many times: after each chunk its queries see exactly what the full
 * cache masked to the same sinks and window gives them. */
static void attention_should_equal_the_full_cache_masked_to_sinks_and_window(void **state)
{
    (void)state;
    static data d;
    data_fill(&d, 11);
    static const int32_t sinks[] = {0, 1, 4}, windows[] = {1, 8, 33};
    static const int64_t slacks[] = {0, 7};
    float fast[16 * H * DV], ref[16 * H * DV], want[16 * H * DV];
    for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 3; b++)
            for (size_t c = 0; c < 2; c++) {
                const int32_t S = sinks[a], W = windows[b];
                const int64_t B = slacks[c];
                const kv_config cfg = config(T, B);
                kv_cache *sw = NULL, *full = NULL;
                kk_err e;
                assert_int_equal(kv_sinkwin_init(&sw, &cfg, S, W, &e), KK_OK);
                assert_int_equal(kv_full_init(&full, &cfg, &e), KK_OK);
                assert_int_equal(kv_sinkwin_rows(sw), S + W + B);
                for (int64_t at = 0, i = 0; at < T; i++) {
                    int64_t n = 1 + (i * 5) % (B + 1);
                    n = n < T - at ? n : T - at;
                    append_all(sw, &d, at, n);
                    append_all(full, &d, at, n);
                    attend(sw, &d, at, n, fast, ref, 0, 0);
                    attend(full, &d, at, n, NULL, want, W, S);
                    const size_t m = (size_t)(n * H * DV);
                    if (max_abs_diff(ref, want, m) >= REF_ABS_TOL ||
                        max_abs_diff(fast, want, m) >= ATT_ABS_TOL)
                        fail_msg("sinks %d window %d slack %lld at %lld: ref %g fast %g", S, W,
                                 (long long)B, (long long)at, max_abs_diff(ref, want, m),
                                 max_abs_diff(fast, want, m));
                    at += n;
                }
                kv_free(sw);
                kv_free(full);
            }
    /* The oracle bites: without the sinks the output differs. */
    const kv_config cfg = config(T, 0);
    kv_cache *sw = NULL, *full = NULL;
    assert_int_equal(kv_sinkwin_init(&sw, &cfg, 4, 8, NULL), KK_OK);
    assert_int_equal(kv_full_init(&full, &cfg, NULL), KK_OK);
    for (int64_t at = 0; at < 40; at++) {
        append_all(sw, &d, at, 1);
        append_all(full, &d, at, 1);
    }
    attend(sw, &d, 39, 1, NULL, ref, 0, 0);
    attend(full, &d, 39, 1, NULL, want, 8, 0);
    assert_true(max_abs_diff(ref, want, H * DV) > 1e-3);
    kv_free(sw);
    kv_free(full);
}

static void memory_should_not_grow_with_the_context(void **state)
{
    (void)state;
    const kv_config small = config(1024, 15), large = config(16384, 15);
    kv_cache *a = NULL, *b = NULL;
    assert_int_equal(kv_sinkwin_init(&a, &small, 4, 64, NULL), KK_OK);
    assert_int_equal(kv_sinkwin_init(&b, &large, 4, 64, NULL), KK_OK);
    assert_int_equal(kv_bytes_resident(a), kv_bytes_resident(b));
    /* (4 + 64 + 15) rows x 2 layers x (16 + 16) floats, and a position each */
    assert_int_equal(kv_bytes_resident(a), (size_t)(83 * L) * (2 * ROW * 4 + 4));
    kv_free(a);
    kv_free(b);
}

/* Wrap the ring, append a block, roll it back, append another: the
 * attention of the new block is bit-identical to a cache that never saw
 * the rolled-back one. */
static void a_rollback_should_equal_a_cache_that_never_saw_the_rows(void **state)
{
    (void)state;
    static data d, other;
    data_fill(&d, 21);
    data_fill(&other, 22);
    enum { S = 3, W = 12, B = 7 };
    const kv_config cfg = config(T, B);
    for (int64_t back = 1; back <= B + 1; back++) {
        kv_cache *a = NULL, *never = NULL;
        assert_int_equal(kv_sinkwin_init(&a, &cfg, S, W, NULL), KK_OK);
        assert_int_equal(kv_sinkwin_init(&never, &cfg, S, W, NULL), KK_OK);
        const int64_t n0 = 61; /* the ring (W + B = 19) wrapped three times */
        for (int64_t at = 0; at < n0; at += 1) {
            append_all(a, &d, at, 1);
            append_all(never, &d, at, 1);
        }
        /* a drafts B + 1 rows from `other` (at positions n0..), rolls back */
        kk_err e;
        for (int32_t l = 0; l < L; l++)
            assert_int_equal(kv_append(a, l, other.k, other.v, d.pos + n0, B + 1, &e), KK_OK);
        assert_int_equal(kv_truncate(a, n0 + B + 1 - back, &e), KK_OK);
        assert_int_equal(kv_truncate(never, n0 + B + 1 - back, &e), KK_OK); /* a no-op or less */
        /* both catch up to n0 with d's rows, then take the same block */
        const int64_t have = kv_n_tokens(a);
        if (have > n0) { /* kept some drafted rows: never gets the same */
            for (int32_t l = 0; l < L; l++)
                assert_int_equal(kv_append(never, l, other.k, other.v, d.pos + n0, have - n0, &e),
                                 KK_OK);
        }
        const int64_t m = 5;
        append_all(a, &d, have, m);
        append_all(never, &d, have, m);
        float oa[5 * H * DV], on[5 * H * DV];
        attend(a, &d, have, m, oa, NULL, 0, 0);
        attend(never, &d, have, m, on, NULL, 0, 0);
        assert_memory_equal(oa, on, sizeof oa);
        attend(a, &d, have, m, NULL, oa, 0, 0);
        attend(never, &d, have, m, NULL, on, 0, 0);
        assert_memory_equal(oa, on, sizeof oa);
        kv_free(a);
        kv_free(never);
    }
}

static void what_the_ring_cannot_do_should_be_refused_and_change_nothing(void **state)
{
    (void)state;
    static data d;
    data_fill(&d, 31);
    enum { S = 2, W = 10, B = 3 };
    const kv_config cfg = config(T, B);
    kv_cache *c = NULL;
    kk_err e;
    assert_int_equal(kv_sinkwin_init(&c, &cfg, S, W, &e), KK_OK);
    /* one append of more than B + 1 rows */
    assert_int_equal(kv_append(c, 0, d.k, d.v, d.pos, B + 2, &e), KK_E_LIMIT);
    assert_non_null(strstr(e.msg, "slack of 3 + 1"));
    assert_int_equal(kv_n_tokens(c), 0);
    for (int64_t at = 0; at < 50; at++)
        append_all(c, &d, at, 1);
    float before[H * DV], after[H * DV];
    attend(c, &d, 49, 1, NULL, before, 0, 0);
    /* a rollback deeper than B + 1: the window it needs was overwritten */
    assert_int_equal(kv_truncate(c, 50 - (B + 2), &e), KK_E_RANGE);
    assert_non_null(strstr(e.msg, "overwritten"));
    assert_int_equal(kv_n_tokens(c), 50);
    attend(c, &d, 49, 1, NULL, after, 0, 0);
    assert_memory_equal(before, after, sizeof before);
    /* B + 1 back is exact, and the dropped entries are never visible
     * again: their positions are INT32_MAX (kv.h), whatever positions the
     * rows appended next carry */
    assert_int_equal(kv_truncate(c, 50 - (B + 1), &e), KK_OK);
    kv_view vw;
    assert_int_equal(kv_view_layer(c, 0, &vw, &e), KK_OK);
    int dropped = 0;
    for (int64_t j = 0; j < vw.n; j++) {
        assert_true(vw.pos[j] < 50 - (B + 1) || vw.pos[j] == INT32_MAX);
        dropped += vw.pos[j] == INT32_MAX;
    }
    assert_int_equal(dropped, B + 1);
    /* emptying always works */
    assert_int_equal(kv_truncate(c, 0, &e), KK_OK);
    assert_int_equal(kv_n_tokens(c), 0);
    for (int64_t at = 0; at < 5; at++)
        append_all(c, &d, at, 1);
    assert_int_equal(kv_truncate(c, 1, &e), KK_OK); /* before the ring wrapped */
    for (int64_t at = 1; at < 40; at++)
        append_all(c, &d, at, 1);
    assert_int_equal(kv_truncate(c, S, &e), KK_OK); /* into the sinks: only they are needed */
    kv_free(c);
    /* bad configurations name what is wrong */
    kv_cache *x = NULL;
    assert_int_equal(kv_sinkwin_init(&x, &cfg, -1, W, &e), KK_E_RANGE);
    assert_non_null(strstr(e.msg, "sinks -1"));
    assert_int_equal(kv_sinkwin_init(&x, &cfg, S, 0, &e), KK_E_RANGE);
    assert_null(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(attention_should_equal_the_full_cache_masked_to_sinks_and_window),
        cmocka_unit_test(memory_should_not_grow_with_the_context),
        cmocka_unit_test(a_rollback_should_equal_a_cache_that_never_saw_the_rows),
        cmocka_unit_test(what_the_ring_cannot_do_should_be_refused_and_change_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
