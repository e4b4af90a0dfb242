/* kind_table: the allowlist (kind.h). Adding a kind: its file and one line. */
#include <stdio.h>
#include <string.h>

#include "kind.h"

extern const kind_def kind_smoke;
extern const kind_def kind_niah;
extern const kind_def kind_kv_quant;
extern const kind_def kind_engine_bench;
extern const kind_def kind_restore;
extern const kind_def kind_spec_decode;
extern const kind_def kind_drafter_parity;
extern const kind_def kind_codec_gpu;

static const kind_def *const KINDS[] = {
    &kind_smoke,
    &kind_niah,
    &kind_kv_quant,
    &kind_engine_bench,
    &kind_restore,
    &kind_spec_decode,
    &kind_drafter_parity,
    &kind_codec_gpu,
};
#define N_KINDS (sizeof KINDS / sizeof KINDS[0])

size_t kind_count(void) { return N_KINDS; }

const kind_def *kind_at(size_t i) { return i < N_KINDS ? KINDS[i] : NULL; }

const kind_def *kind_find(const char *name)
{
    for (size_t i = 0; i < N_KINDS; i++)
        if (!strcmp(KINDS[i]->name, name))
            return KINDS[i];
    return NULL;
}

void kind_names(char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < N_KINDS && o + 1 < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", KINDS[i]->name);
}
