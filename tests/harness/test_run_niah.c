/* Tests of harness/run_niah's synth: model source parser: a knob out of
 * range is refused at the preset parameter (where) with the source's own
 * key in the message, never a command-line flag (synth_check names
 * synth_cfg fields; the parser maps the one key that differs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "run_niah.h"
#include "synth.h"

static void a_bad_synth_source_knob_should_name_the_source_key_not_a_flag(void **state)
{
    (void)state;
    static const struct {
        const char *src, *key;
    } cases[] = {
        {"synth:niah?key_dim=3", "key_dim: 3 is out of range"},
        {"synth:niah?distractors=99", "distractors: 99 is out of range"},
        {"synth:niah?n_outliers=99", "n_outliers: 99 is out of range"},
        {"synth:niah?ballast_scale=-1", "ballast_scale: -1 is out of range"},
        {"synth:niah?n_ff=0", "n_ff: 0 is out of range"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        synth_cfg c;
        kk_err e;
        kk_err_clear(&e);
        assert_int_equal(run_niah_parse_synth(cases[i].src, "model", &c, &e), KK_E_RANGE);
        assert_string_equal(e.where, "model");
        assert_non_null(strstr(e.msg, cases[i].src));
        if (!strstr(e.msg, cases[i].key))
            fail_msg("%s: %s", cases[i].src, e.msg);
        assert_null(strstr(e.msg, "--"));
        assert_null(strstr(e.msg, "niah_distractors"));
    }
    synth_cfg c;
    assert_int_equal(run_niah_parse_synth("synth:niah?key_dim=16&distractors=3", "model", &c, NULL),
                     KK_OK);
    assert_int_equal(c.key_dim, 16);
    assert_int_equal(c.niah_distractors, 3);
    /* the ballast: its width and scale */
    assert_int_equal(run_niah_parse_synth("synth:copy?n_ff=64&ballast_scale=0.25", "model", &c,
                                          NULL), KK_OK);
    assert_int_equal(c.n_ff, 64);
    assert_true(c.ballast_scale == 0.25f);
    assert_int_equal(c.mode, SYNTH_MODE_COPY);
}


/* Values the parser cannot hold are refused as written, never wrapped into
 * an int first (4294967297 used to read as -2.14748e+09), and a key given
 * twice is refused (the second used to win silently). */
static void an_overflowing_or_repeated_synth_knob_should_be_refused_as_written(void **state)
{
    (void)state;
    static const struct {
        const char *src, *want;
    } cases[] = {
        {"synth:niah?key_dim=4294967297", "key_dim=4294967297"},
        {"synth:niah?n_ctx=99999999999", "n_ctx=99999999999"},
        {"synth:niah?seed=3&seed=4", "seed given twice"},
        {"synth:niah?beta=1&key_dim=8&beta=2", "beta given twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        synth_cfg c;
        kk_err e;
        kk_err_clear(&e);
        assert_int_equal(run_niah_parse_synth(cases[i].src, "model", &c, &e), KK_E_RANGE);
        assert_string_equal(e.where, "model");
        if (!strstr(e.msg, cases[i].want))
            fail_msg("%s: %s", cases[i].src, e.msg);
        assert_null(strstr(e.msg, "-2."));
    }
}

/* role, window and sliding_layers: a proposer's defaults whatever the key
 * order, a hybrid verifier, and bad values refused by the source's key. */
static void role_window_and_sliding_layers_should_make_the_pair_and_the_hybrid(void **state)
{
    (void)state;
    synth_cfg c, want;
    synth_defaults(&want, SYNTH_ROLE_PROPOSER);
    assert_int_equal(run_niah_parse_synth("synth:niah?seed=5&role=proposer", "proposer", &c, NULL),
                     KK_OK);
    assert_int_equal(c.role, SYNTH_ROLE_PROPOSER);
    assert_int_equal(c.n_embd, want.n_embd);
    assert_int_equal(c.seed, 5);
    assert_true(c.key_noise == want.key_noise);
    assert_int_equal(run_niah_parse_synth("synth:niah?key_noise=0.2&role=proposer", "proposer",
                                          &c, NULL), KK_OK);
    assert_true(c.key_noise == 0.2f && c.role == SYNTH_ROLE_PROPOSER);
    assert_int_equal(run_niah_parse_synth("synth:niah?window=64&sliding_layers=1", "model", &c,
                                          NULL), KK_OK);
    assert_int_equal(c.sliding_window, 64);
    assert_int_equal(c.sliding_layers, 1u);
    assert_int_equal(c.role, SYNTH_ROLE_VERIFIER);
    static const struct {
        const char *src, *want;
    } bad[] = {
        {"synth:niah?role=drafter", "role takes verifier or proposer"},
        {"synth:niah?sliding_layers=-1", "sliding_layers takes"},
        {"synth:niah?sliding_layers=1", "window"},
        {"synth:niah?window=64&sliding_layers=4", "sliding_layers"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kk_err e;
        kk_err_clear(&e);
        assert_int_equal(run_niah_parse_synth(bad[i].src, "model", &c, &e), KK_E_RANGE);
        assert_string_equal(e.where, "model");
        if (!strstr(e.msg, bad[i].want))
            fail_msg("%s: %s", bad[i].src, e.msg);
        assert_null(strstr(e.msg, "sliding_window"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_bad_synth_source_knob_should_name_the_source_key_not_a_flag),
        cmocka_unit_test(an_overflowing_or_repeated_synth_knob_should_be_refused_as_written),
        cmocka_unit_test(role_window_and_sliding_layers_should_make_the_pair_and_the_hybrid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
