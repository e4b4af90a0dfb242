/*
 * kakeya tokenize -m FILE (-p TEXT | -f FILE) [--no-bos] [--no-parse-special]
 *   [--pieces | --json] [--repeat N]
 * A GGUF's tokenizer on a text, as llama.cpp's llama-tokenize does it (BOS
 * as the file says, special-token texts parsed): the ids, comma-separated
 * (what --tokens takes), one "id<TAB>piece" line each, or JSON. Only the
 * file's metadata is read, so a vocabulary-only GGUF works too. --repeat N
 * times N encodings of the text (after one untimed) and reports the median
 * (the tokenizer benchmark's kakeya side).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gguf.h"
#include "json.h"
#include "kk_args.h"
#include "kk_file.h"
#include "kk_stats.h"
#include "tokenizer.h"
#include "unicode.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: kakeya tokenize -m FILE (-p TEXT | -f FILE) [--no-bos] [--no-parse-special]\n"
            "                       [--pieces | --json] [--repeat N]\n"
            "  -m, --model FILE     GGUF file (its tokenizer.* metadata; tensors are not read)\n"
            "  -p, --prompt TEXT    the text\n"
            "  -f, --file FILE      the text from a file ('-': standard input)\n"
            "  --no-bos             no BOS even where the file asks for one\n"
            "  --no-parse-special   special-token texts (<|im_start|>, ...) stay text;\n"
            "                       user-defined tokens are matched either way (llama.cpp)\n"
            "  --pieces             one line per token: id, a tab, its piece (C escapes)\n"
            "  --json               {\"n_tokens\", \"ids\", \"pieces\"}: a piece that is no\n"
            "                       valid UTF-8 is {\"hex\": \"...\"}\n"
            "  --repeat N           time N encodings (1..1000) after one untimed; print the\n"
            "                       median on stderr (--json: in the object)\n"
            "default output: the ids, comma-separated (what --tokens takes).\n"
            "exit codes: 0 ok, 2 bad input (file, tokenizer), 3 usage\n");
}

static bool valid_utf8(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t adv;
        uint32_t cp = uni_decode(s + i, n - i, &adv);
        /* uni_decode lets overlong forms and surrogates through (llama.cpp
         * does): refuse them here, JSON wants real UTF-8 */
        char re[4];
        if ((cp == UNI_REPLACEMENT && adv == 1 && (unsigned char)s[i] != 0xEF) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || uni_encode(cp, re) != adv)
            return false;
        i += adv;
    }
    return true;
}

static void print_escaped(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)s[i];
        if (c == '\\')
            fputs("\\\\", stdout);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else if (c < 0x20 || c == 0x7F)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

int cmd_tokenize(int argc, char **argv)
{
    kk_err err;
    kk_err_clear(&err);
    const char *path = NULL, *prompt = NULL, *file = NULL, *repeat_arg = NULL;
    bool no_bos = false, no_parse = false, pieces = false, json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **val = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return KK_EXIT_OK;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            val = &path;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            val = &prompt;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            val = &file;
        } else if (!strcmp(a, "--repeat")) {
            val = &repeat_arg;
        } else if (!strcmp(a, "--no-bos")) {
            no_bos = true;
        } else if (!strcmp(a, "--no-parse-special")) {
            no_parse = true;
        } else if (!strcmp(a, "--pieces")) {
            pieces = true;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else {
            fprintf(stderr, "kakeya tokenize: unknown option '%s'\n", a);
            help(stderr);
            return KK_EXIT_USAGE;
        }
        if (val && !(*val = kk_arg_value(argc, argv, &i, &err)))
            return cmd_fail("tokenize", &err);
    }
    if (!path || !prompt == !file || (pieces && json)) {
        fprintf(stderr, "kakeya tokenize: %s\n",
                !path ? "-m FILE is required"
                : pieces && json ? "--pieces and --json exclude each other"
                                 : "give the text with exactly one of -p TEXT and -f FILE");
        help(stderr);
        return KK_EXIT_USAGE;
    }
    int64_t repeat = 0;
    if (repeat_arg && kk_arg_i64("--repeat", repeat_arg, 1, 1000, &repeat, &err) != KK_OK)
        return cmd_fail("tokenize", &err);

    gguf_file *f = NULL;
    tok *t = NULL;
    char *data = NULL;
    int32_t *ids = NULL;
    double *ms = NULL;
    size_t len = 0, n = 0;
    int rc = KK_EXIT_OK;
    if (file) {
        if (kk_file_read_all(file, &data, &len, &err) != KK_OK)
            goto fail;
    } else {
        len = strlen(prompt);
    }
    const char *text = file ? data : prompt;
    if (gguf_open(&f, path, &err) != KK_OK || tok_init_from_gguf(&t, f, &err) != KK_OK)
        goto fail;
    for (size_t k = 0; k < tok_n_warnings(t); k++)
        fprintf(stderr, "kakeya tokenize: warning: %s: %s\n", path, tok_warning(t, k));
    const bool add_bos = tok_add_bos(t) && !no_bos;
    if (tok_encode_ex(t, text, len, add_bos, !no_parse, &ids, &n, &err) != KK_OK) {
        if (!err.file[0])
            kk_err_file(&err, path);
        goto fail;
    }
    double median_ms = 0;
    if (repeat > 0) {
        ms = malloc((size_t)repeat * sizeof *ms);
        if (!ms) {
            kk_err_set(&err, KK_E_NOMEM, "out of memory");
            goto fail;
        }
        for (int64_t r = 0; r < repeat; r++) {
            int32_t *again = NULL;
            size_t n2 = 0;
            const double t0 = kk_now_s();
            kk_code c = tok_encode_ex(t, text, len, add_bos, !no_parse, &again, &n2, &err);
            ms[r] = 1e3 * (kk_now_s() - t0);
            free(again);
            if (c != KK_OK)
                goto fail;
        }
        median_ms = kk_median(ms, (size_t)repeat);
        if (!json)
            fprintf(stderr, "kakeya tokenize: %zu bytes -> %zu tokens: median %.3f ms of %d "
                    "(%.2f MB/s)\n", len, n, median_ms, (int)repeat,
                    median_ms > 0 ? (double)len / 1e3 / median_ms : 0.0);
    }

    char piece[512];
    if (json) {
        printf("{\"n_tokens\": %zu, \"bytes\": %zu, \"add_bos\": %s, \"parse_special\": %s, "
               "\"ids\": [", n, len, add_bos ? "true" : "false", no_parse ? "false" : "true");
        for (size_t i = 0; i < n; i++)
            printf("%s%d", i ? ", " : "", (int)ids[i]);
        printf("], \"pieces\": [");
        for (size_t i = 0; i < n; i++) {
            int k = tok_piece(t, ids[i], piece, sizeof piece);
            size_t w = (size_t)k < sizeof piece ? (size_t)k : sizeof piece;
            fputs(i ? ", " : "", stdout);
            if (valid_utf8(piece, w)) {
                json_write_string(stdout, piece, w);
            } else {
                fputs("{\"hex\": \"", stdout);
                for (size_t j = 0; j < w; j++)
                    printf("%02x", (unsigned char)piece[j]);
                fputs("\"}", stdout);
            }
        }
        printf("]");
        if (repeat > 0) {
            printf(", \"repeat\": %d, \"median_ms\": ", (int)repeat);
            json_write_double(stdout, median_ms);
        }
        printf("}\n");
    } else if (pieces) {
        for (size_t i = 0; i < n; i++) {
            int k = tok_piece(t, ids[i], piece, sizeof piece);
            printf("%d\t", (int)ids[i]);
            print_escaped(piece, (size_t)k < sizeof piece ? (size_t)k : sizeof piece);
            putchar('\n');
        }
    } else {
        for (size_t i = 0; i < n; i++)
            printf("%s%d", i ? "," : "", (int)ids[i]);
        putchar('\n');
    }
    goto done;
fail:
    rc = cmd_fail("tokenize", &err);
done:
    free(ms);
    free(ids);
    free(data);
    tok_free(t);
    gguf_close(f);
    return rc;
}
