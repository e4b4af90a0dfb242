/*
 * fuzz_preset: the common preset reader (kk_yaml + kk_preset), in both its
 * readings (the gate's, and KK_PRESET_FULL, the harness's), never crashes,
 * leaks or reads out of bounds, whatever the bytes; and its verdict is
 * consistent: success means a name, a kind and thresholds with the fields
 * the gate reads (and, in the full reading, a description and arms);
 * failure means a located error with a code. The full reading accepts
 * only what the gate's reading accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kk_preset.h"
#include "kk_yaml.h"

static kk_code one(const uint8_t *data, size_t size, unsigned flags)
{
    kk_preset *p = NULL;
    kk_err e;
    kk_err_clear(&e);
    kk_code rc = kk_preset_parse((const char *)data, size, "fuzz.yaml", NULL, flags, &p, &e);
    if (rc == KK_OK) {
        if (!p || !p->name || !p->kind || !p->root || !p->doc)
            abort();
        if ((flags & KK_PRESET_FULL) && (!p->description || !p->arms))
            abort();
        for (size_t i = 0; i < p->n_thresholds; i++)
            if (!p->thresholds[i].arm || !p->thresholds[i].metric ||
                !p->thresholds[i].value || p->thresholds[i].line < 1 ||
                ((p->thresholds[i].form == KK_PRESET_FORM_DELTA ||
                  p->thresholds[i].form == KK_PRESET_FORM_RATIO) && !p->thresholds[i].other))
                abort();
        for (size_t i = 0; i < p->n_relax; i++)
            if (!p->relax[i].rule || !p->relax[i].reason)
                abort();
    } else {
        if (p || e.code == KK_OK || e.msg[0] == '\0')
            abort();
        if (e.line < 0 || e.col < 0)
            abort();
    }
    kk_preset_free(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kk_code gate = one(data, size, 0);
    kk_code full = one(data, size, KK_PRESET_FULL);
    if (full == KK_OK && gate != KK_OK)
        abort();
    return 0;
}
