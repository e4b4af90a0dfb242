/* test_codec_util: the codec tests' shared helper (include after cmocka.h):
 * a codec from a spec string, failing the test with the parser's message. */
#ifndef KK_TEST_CODEC_UTIL_H
#define KK_TEST_CODEC_UTIL_H

#include "codec.h"

static inline codec *tc_make(const char *spec)
{
    codec_spec s;
    kk_err e;
    kk_err_clear(&e);
    if (codec_spec_parse(spec, &s, &e) != KK_OK)
        fail_msg("%s: %s", spec, e.msg);
    codec *c = NULL;
    assert_int_equal(codec_init(&c, &s, &e), KK_OK);
    return c;
}

#endif /* KK_TEST_CODEC_UTIL_H */
