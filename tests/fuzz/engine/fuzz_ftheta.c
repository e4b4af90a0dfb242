/*
 * libFuzzer target: reading an f_theta file (engine/ftheta_gguf.h) must
 * never crash on any GGUF, and a pair it accepts must apply: both maps run
 * on an input of their width without touching memory outside their
 * tensors (ASan sees any shape the reader let through unchecked).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftheta_gguf.h"
#include "gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gguf_file *g = NULL;
    if (gguf_parse_buffer(&g, data, size, "fuzz.gguf", NULL) != KK_OK)
        return 0;
    ftheta *k = NULL, *v = NULL;
    ftheta_meta m;
    kk_err e;
    if (ftheta_pair_from_gguf(g, &k, &v, &m, &e) == KK_OK) {
        const ftheta *maps[2] = {k, v};
        for (int i = 0; i < 2; i++) {
            float *x = calloc((size_t)maps[i]->din * 2, sizeof *x);
            float *y = malloc((size_t)maps[i]->dout * 2 * sizeof *y);
            if (x && y)
                ftheta_apply(maps[i], x, 2, y);
            free(x);
            free(y);
        }
        ftheta_free(k);
        ftheta_free(v);
    } else if (!e.msg[0]) {
        abort(); /* an error without a message */
    }
    gguf_close(g);
    return 0;
}
