/* fuzz_preset_load: the harness's preset loader never crashes, and its
 * verdict is consistent: a loaded preset has a kind, arms and a gate, and
 * every --set of a parameter's own current value is accepted. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kind.h"
#include "preset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    preset *p = NULL;
    kk_err e;
    kk_code c = preset_parse((const char *)data, size, "fuzz.yaml", NULL, &p, &e);
    if (c != KK_OK) {
        if (p || e.code == KK_OK)
            abort();
        return 0;
    }
    if (!p->kind || !p->n_arms || !p->src)
        abort();
    for (size_t i = 0; i < p->n_params; i++) {
        char val[2048], set[2200];
        preset_value_text(&p->params[i], val, sizeof val);
        if (strlen(val) + 1 >= sizeof val)
            continue;
        snprintf(set, sizeof set, "%s=%s", p->params[i].name, val);
        /* strings holding commas or placeholders round-trip only as strings */
        if (p->params[i].b.type == PRESET_T_LIST && p->params[i].b.of == PRESET_T_STRING)
            continue;
        if (preset_set(p, set, &e) != KK_OK && !strstr(val, "${"))
            abort();
    }
    preset_free(p);
    return 0;
}
