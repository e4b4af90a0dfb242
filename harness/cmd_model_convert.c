/*
 * kakeya model convert FILE --type f16|bf16|q8_0 -o OUT
 * Writes FILE with its 2-D F32 tensors stored as F16, BF16 or Q8_0
 * (engine/gguf_convert.h: ggml's F16 rounding, ggml's Q8_0 quantizer byte
 * for byte; a tensor whose rows are not a multiple of 32 stays F32 for
 * q8_0), every other tensor and every metadata key as they are. The
 * reduced-precision files of drafter parity and the bench models are made
 * this way. Written whole (temp file + rename).
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "gguf.h"
#include "gguf_convert.h"
#include "kk_args.h"

static void help(FILE *out)
{
    fprintf(out, "usage: kakeya model convert FILE --type f16|bf16|q8_0 -o OUT\n"
                 "writes FILE with its 2-D F32 tensors as F16, BF16 or Q8_0 (ggml's bytes)\n"
                 "  --type T           f16 | bf16 | q8_0\n"
                 "  -o, --output OUT   where to write (temp file + rename)\n"
                 "exit codes: 0 ok, 2 bad input or write error, 3 usage\n");
}

int cmd_model_convert(int argc, char **argv)
{
    kk_err err;
    kk_err_clear(&err);
    const char *in = NULL, *out = NULL, *type_arg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return KK_EXIT_OK;
        }
        const char **dst = !strcmp(a, "--type")                         ? &type_arg
                           : (!strcmp(a, "-o") || !strcmp(a, "--output")) ? &out
                                                                          : NULL;
        if (!dst && a[0] != '-' && !in) {
            in = a;
            continue;
        }
        if (!dst) {
            fprintf(stderr, "kakeya model convert: unknown option '%s'\n", a);
            help(stderr);
            return KK_EXIT_USAGE;
        }
        if (!(*dst = kk_arg_value(argc, argv, &i, &err)))
            return cmd_fail("model convert", &err);
    }
    if (!in || !out || !type_arg) {
        fprintf(stderr, "kakeya model convert: %s is required\n",
                !in ? "FILE" : !type_arg ? "--type T" : "-o OUT");
        help(stderr);
        return KK_EXIT_USAGE;
    }
    dtype_t t;
    if (!strcmp(type_arg, "f16")) {
        t = DTYPE_F16;
    } else if (!strcmp(type_arg, "bf16")) {
        t = DTYPE_BF16;
    } else if (!strcmp(type_arg, "q8_0")) {
        t = DTYPE_Q8_0;
    } else {
        kk_err_set(&err, KK_E_RANGE, "--type '%s' is not allowed (allowed: f16, bf16, q8_0)",
                   type_arg);
        kk_err_where(&err, "--type");
        return cmd_fail("model convert", &err);
    }
    gguf_file *f = NULL;
    if (gguf_open(&f, in, &err) != KK_OK)
        return cmd_fail("model convert", &err);
    const kk_code rc = gguf_convert_to_file(f, t, out, &err);
    gguf_close(f);
    if (rc != KK_OK) {
        if (!err.file[0])
            kk_err_file(&err, out);
        return cmd_fail("model convert", &err);
    }
    fprintf(stderr, "kakeya model convert: wrote %s (%s)\n", out, type_arg);
    return KK_EXIT_OK;
}
