/*
 * libFuzzer target: the cache policy parser (engine/kv_policy.h) must not
 * crash on any string, and what it accepts must round-trip: its canonical
 * form parses to the same policy and formats to the same text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv_policy.h"

static void die(const char *what)
{
    (void)what;
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char spec[257];
    const size_t n = size < 256 ? size : 256;
    memcpy(spec, data, n);
    spec[n] = '\0';
    kv_policy p, q;
    kk_err e;
    if (kv_policy_parse(spec, &p, &e) != KK_OK) {
        if (!e.msg[0])
            die("an error without a message");
        return 0;
    }
    if (p.kind == KV_POLICY_SINKWIN && (p.n_sink < 0 || p.window < 1 ||
                                        p.n_sink > KV_POLICY_MAX || p.window > KV_POLICY_MAX))
        die("accepted a value out of range");
    char a[64], b[64];
    kv_policy_format(&p, a, sizeof a);
    if (kv_policy_parse(a, &q, &e) != KK_OK)
        die("the canonical form does not parse");
    kv_policy_format(&q, b, sizeof b);
    if (strcmp(a, b) || p.kind != q.kind ||
        (p.kind == KV_POLICY_SINKWIN && (p.n_sink != q.n_sink || p.window != q.window)))
        die("the canonical form does not round-trip");
    return 0;
}
