/*
 * fuzz_preset: the preset reader (gate_yaml + gate_preset) never crashes,
 * leaks or reads out of bounds, whatever the bytes; and its verdict is
 * consistent: success means a name, a kind and thresholds with the fields
 * the gate reads; failure means a located error with a code.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gate_preset.h"
#include "gate_yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gate_preset *p = NULL;
    kk_err e;
    kk_err_clear(&e);
    kk_code rc = gate_preset_parse((const char *)data, size, "fuzz.yaml", NULL, &p, &e);
    if (rc == KK_OK) {
        if (!p || !p->name || !p->kind)
            abort();
        for (size_t i = 0; i < p->n_thresholds; i++)
            if (!p->thresholds[i].arm || !p->thresholds[i].metric ||
                !p->thresholds[i].value || p->thresholds[i].line < 1 ||
                ((p->thresholds[i].form == GATE_FORM_DELTA ||
                  p->thresholds[i].form == GATE_FORM_RATIO) && !p->thresholds[i].other))
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
    gate_preset_free(p);
    return 0;
}
