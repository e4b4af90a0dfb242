/* kv_composite (engine/kv_composite.h): per-layer parts behind one seam.
 * Views must be exactly the parts' (memcmp), a refused rollback must leave
 * every part as it was, and maps that do not fit are refused by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kv_composite.h"
#include "kv_policy.h"
#include "kv_sinkwin.h"

enum { L = 4, KH = 2, D = 8, ROW = KH * D, T = 60 };

static float rowval(int64_t t, int32_t l, int64_t i) { return (float)(t * 1000 + l * 100 + i) * 0.5f; }

static void append_token(kv_cache *c, int32_t layer, int64_t t)
{
    float k[ROW], v[ROW];
    for (int64_t i = 0; i < ROW; i++) {
        k[i] = rowval(t, layer, i);
        v[i] = -rowval(t, layer, i);
    }
    const int32_t pos = (int32_t)t;
    kk_err e;
    assert_int_equal(kv_append(c, layer, k, v, &pos, 1, &e), KK_OK);
}

static kv_config config(int32_t n_layers, int64_t slack)
{
    return (kv_config){n_layers, KH, D, D, T, slack};
}

/* Layers 0 and 2 to part 0, 1 and 3 to part 1, both full: every view is
 * the one a single full cache gives, byte for byte. */
static void views_should_be_the_parts_layer_for_layer(void **state)
{
    (void)state;
    const kv_config all = config(L, 0), half = config(2, 0);
    kv_cache *parts[2] = {NULL, NULL}, *co = NULL, *ref = NULL;
    assert_int_equal(kv_full_init(&parts[0], &half, NULL), KK_OK);
    assert_int_equal(kv_full_init(&parts[1], &half, NULL), KK_OK);
    const int32_t map[L] = {0, 1, 0, 1};
    assert_int_equal(kv_composite_init(&co, &all, parts, 2, map, NULL), KK_OK);
    assert_int_equal(kv_full_init(&ref, &all, NULL), KK_OK);
    for (int64_t t = 0; t < 20; t++)
        for (int32_t l = 0; l < L; l++) {
            append_token(co, l, t);
            append_token(ref, l, t);
        }
    kk_err e;
    for (int32_t l = 0; l < L; l++) {
        kv_view a, b;
        assert_int_equal(kv_view_layer(co, l, &a, &e), KK_OK);
        assert_int_equal(kv_view_layer(ref, l, &b, &e), KK_OK);
        assert_int_equal(a.n, 20);
        assert_memory_equal(a.k, b.k, 20 * ROW * sizeof(float));
        assert_memory_equal(a.v, b.v, 20 * ROW * sizeof(float));
        assert_memory_equal(a.pos, b.pos, 20 * sizeof(int32_t));
    }
    assert_int_equal(kv_n_tokens(co), 20);
    assert_int_equal(kv_bytes_resident(co), kv_bytes_resident(ref));
    assert_int_equal(kv_composite_n_parts(co), 2);
    assert_ptr_equal(kv_composite_part(co, 1), parts[1]);
    assert_null(kv_composite_part(co, 2));
    assert_null(kv_composite_part(ref, 0));
    assert_int_equal(kv_truncate(co, 7, &e), KK_OK);
    assert_int_equal(kv_n_tokens(co), 7);
    kv_free(co);
    kv_free(ref);
}

/* A full part accepts any rollback, a ring does not: the composite asks
 * both first and changes neither when the ring refuses. */
static void a_refused_rollback_should_leave_every_part_as_it_was(void **state)
{
    (void)state;
    const kv_config all = config(L, 2), half = config(2, 2);
    kv_cache *parts[2] = {NULL, NULL}, *co = NULL;
    assert_int_equal(kv_full_init(&parts[0], &half, NULL), KK_OK);
    assert_int_equal(kv_sinkwin_init(&parts[1], &half, 1, 5, NULL), KK_OK);
    const int32_t map[L] = {0, 0, 1, 1}; /* global layers first, sliding last */
    assert_int_equal(kv_composite_init(&co, &all, parts, 2, map, NULL), KK_OK);
    for (int64_t t = 0; t < 30; t++)
        for (int32_t l = 0; l < L; l++)
            append_token(co, l, t);
    kk_err e;
    assert_int_equal(kv_truncate(co, 26, &e), KK_E_RANGE); /* 4 back; the ring keeps 3 */
    assert_int_equal(kv_n_tokens(parts[0]), 30);
    assert_int_equal(kv_n_tokens(parts[1]), 30);
    assert_int_equal(kv_truncate(co, 27, &e), KK_OK);
    assert_int_equal(kv_n_tokens(parts[0]), 27);
    assert_int_equal(kv_n_tokens(parts[1]), 27);
    /* the sliding part's view carries its mask; the full part's none */
    kv_view a, b;
    assert_int_equal(kv_view_layer(co, 0, &a, &e), KK_OK);
    assert_int_equal(kv_view_layer(co, 3, &b, &e), KK_OK);
    assert_int_equal(a.window, 0);
    assert_int_equal(b.window, 5);
    assert_int_equal(b.n_sink, 1);
    kv_free(co);
}

static void maps_that_do_not_fit_should_be_refused_by_name(void **state)
{
    (void)state;
    const kv_config all = config(L, 0), half = config(2, 0), three = config(3, 0);
    kv_cache *parts[2] = {NULL, NULL}, *co = NULL;
    kk_err e;
    /* a layer mapped to a part that does not exist (the parts are freed) */
    assert_int_equal(kv_full_init(&parts[0], &half, NULL), KK_OK);
    assert_int_equal(kv_full_init(&parts[1], &half, NULL), KK_OK);
    const int32_t bad[L] = {0, 1, 2, 1};
    assert_int_equal(kv_composite_init(&co, &all, parts, 2, bad, &e), KK_E_RANGE);
    assert_non_null(strstr(e.msg, "layer 2 maps to part 2"));
    assert_null(co);
    /* a part built for another number of layers */
    assert_int_equal(kv_full_init(&parts[0], &three, NULL), KK_OK);
    assert_int_equal(kv_full_init(&parts[1], &half, NULL), KK_OK);
    const int32_t map[L] = {0, 1, 0, 1};
    assert_int_equal(kv_composite_init(&co, &all, parts, 2, map, &e), KK_E_RANGE);
    assert_non_null(strstr(e.msg, "part 0 (full) has 3 layers"));
    assert_null(co);
    /* no parts at all */
    assert_int_equal(kv_composite_init(&co, &all, parts, 0, map, &e), KK_E_RANGE);
}

/* Bounded policies at 1k and 16k tokens (the caches alone, rows appended
 * in blocks of 64 as a prefill does): sinkwin's resident bytes and s5's
 * sliding bytes are the same at both lengths, while a full cache and s5's
 * global part grow with the context. s5 views the ring's layers inside
 * their window and the global layers whole; a model without a sliding
 * layer is refused by name. */
static void bounded_policies_should_hold_the_same_bytes_at_1k_and_16k(void **state)
{
    (void)state;
    enum { B = 64 };
    const int32_t lw[L] = {32, 0, 32, 0};
    size_t sw_bytes[2], s5_slide[2], s5_all[2], full_bytes[2];
    static float k[B * ROW], v[B * ROW];
    int32_t pos[B];
    for (int i = 0; i < B * ROW; i++)
        k[i] = v[i] = (float)i;
    kv_policy sw, s5, full;
    kk_err e;
    assert_int_equal(kv_policy_parse("sinkwin:sink=4,window=64", &sw, &e), KK_OK);
    assert_int_equal(kv_policy_parse("s5", &s5, &e), KK_OK);
    assert_int_equal(kv_policy_parse("full", &full, &e), KK_OK);
    for (int i = 0; i < 2; i++) {
        const int64_t n = i ? 16384 : 1024;
        const kv_config cfg = {L, KH, D, D, n, B - 1};
        kv_cache *c[3] = {NULL, NULL, NULL};
        const kv_policy *ps[3] = {&sw, &s5, &full};
        for (int j = 0; j < 3; j++) {
            assert_int_equal(kv_policy_make(ps[j], &cfg, lw, &c[j], &e), KK_OK);
            for (int64_t t0 = 0; t0 < n; t0 += B) {
                for (int t = 0; t < B; t++)
                    pos[t] = (int32_t)(t0 + t);
                for (int32_t l = 0; l < L; l++)
                    assert_int_equal(kv_append(c[j], l, k, v, pos, B, &e), KK_OK);
            }
        }
        kv_view vw;
        assert_int_equal(kv_view_layer(c[1], 0, &vw, &e), KK_OK);
        assert_int_equal(vw.window, 32);
        assert_int_equal(kv_view_layer(c[1], 1, &vw, &e), KK_OK);
        assert_int_equal(vw.n, n);
        sw_bytes[i] = kv_bytes_resident(c[0]);
        s5_slide[i] = kv_policy_bytes_sliding(&s5, c[1]);
        s5_all[i] = kv_bytes_resident(c[1]);
        full_bytes[i] = kv_bytes_resident(c[2]);
        assert_int_equal(kv_policy_bytes_sliding(&sw, c[0]), 0);
        for (int j = 0; j < 3; j++)
            kv_free(c[j]);
    }
    assert_int_equal(sw_bytes[0], sw_bytes[1]);
    assert_int_equal(s5_slide[0], s5_slide[1]);
    assert_true(s5_slide[0] > 0);
    assert_true(s5_all[1] > s5_all[0] && full_bytes[1] > 8 * full_bytes[0]);
    const int32_t none[L] = {0, 0, 0, 0};
    const kv_config cfg = {L, KH, D, D, 128, 0};
    kv_cache *bad = NULL;
    assert_int_equal(kv_policy_make(&s5, &cfg, none, &bad, &e), KK_E_RANGE);
    assert_non_null(strstr(e.msg, "s5"));
    assert_null(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(views_should_be_the_parts_layer_for_layer),
        cmocka_unit_test(a_refused_rollback_should_leave_every_part_as_it_was),
        cmocka_unit_test(maps_that_do_not_fit_should_be_refused_by_name),
        cmocka_unit_test(bounded_policies_should_hold_the_same_bytes_at_1k_and_16k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
