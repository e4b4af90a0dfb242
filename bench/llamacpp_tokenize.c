/*
 * llamacpp_tokenize: llama.cpp's tokenizer on a set of cases, the
 * reference side of the byte-level BPE tests (bench/bpe_refs.sh writes
 * tests/engine/data/bpe_refs_*.json from its output). Built by `make
 * refengine` against the library in ${KAKEYA_CACHE:-~/.cache/kakeya}/llama.cpp,
 * outside the project's build.
 *
 * usage:
 *   llamacpp_tokenize VOCAB.gguf --cases CASES.json
 *   llamacpp_tokenize VOCAB.gguf --bench FILE [--runs N] [--add-special] [--parse-special]
 *
 * The GGUF is loaded with vocab_only (a vocabulary-only file from
 * bench/vocab_gguf.py, or any model).
 *
 * --cases: CASES.json holds objects with a "name" (letters, digits, '_',
 * '-', '.') and a "hex" string (the case's bytes, any bytes: the text goes
 * to llama_tokenize as they are, with its length); anything else in the
 * file is skipped (a scanner, not a JSON parser: names and hex strings
 * carry no escapes). Output, one JSON document on stdout:
 *   {"n_vocab": V, "add_bos": b, "add_eos": b,
 *    "cases": [{"name": N,
 *               "special": {"ids": [...], "text": HEX},   add_special and
 *                                                         parse_special true
 *               "plain":   {"ids": [...], "text": HEX}}, both false
 *              ...],
 *    "pieces": {"ID": HEX, ...},          every id seen, ascending:
 *                                         llama_token_to_piece(lstrip 0, special false)
 *    "pieces_special": {"ID": HEX, ...}}  the ids whose piece with special true
 *                                         differs (control tokens)
 * where "text" is llama_detokenize(ids, remove_special false, unparse_special
 * false). One case at a time, one row flushed at a time. Each
 * llama_tokenize of --cases runs in a child process: llama.cpp throws on
 * some bytes (U+110000 decoded from F4 90 80 80: "invalid codepoint"),
 * which kills a C caller; such a mode is written {"error": "..."} (the
 * signal) instead of ids and text, and the run goes on.
 *
 * --bench: llama_tokenize over the whole FILE, N times (default 10, one
 * untimed warm-up first), wall clock (CLOCK_MONOTONIC); prints one JSON
 * line: bytes, tokens, runs, median_ms, mb_per_s (10^6 bytes / s, from the
 * median) and every sample.
 *
 * Exit 0 ok, 2 bad input, 3 usage.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "llama.h"

static void quiet(enum ggml_log_level level, const char *text, void *user)
{
    (void)user;
    if (level == GGML_LOG_LEVEL_ERROR)
        fputs(text, stderr);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 65536 > cap) {
            cap = (n + 65536) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        const size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void put_hex(const char *s, size_t n)
{
    static const char H[] = "0123456789abcdef";
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        putchar(H[(unsigned char)s[i] >> 4]);
        putchar(H[(unsigned char)s[i] & 15]);
    }
    putchar('"');
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The string value after `"key"` at or after p (whitespace and ':' between);
 * NULL when p does not start with that key. *end: past the closing quote. */
static const char *string_after_key(const char *p, const char *key, size_t *len,
                                    const char **end)
{
    const size_t kl = strlen(key);
    if (p[0] != '"' || strncmp(p + 1, key, kl) != 0 || p[1 + kl] != '"')
        return NULL;
    p += kl + 2;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t' || *p == ':')
        p++;
    if (*p != '"')
        return NULL;
    const char *s = ++p;
    while (*p && *p != '"') {
        if (*p == '\\')
            return NULL; /* no escapes in names or hex */
        p++;
    }
    if (*p != '"')
        return NULL;
    *len = (size_t)(p - s);
    *end = p + 1;
    return s;
}

typedef struct ids_buf {
    llama_token *v;
    int32_t n, cap;
} ids_buf;

/* llama_tokenize into b (grown as needed); -1 on failure. */
static int tokenize(const struct llama_vocab *vocab, const char *text, size_t len, bool add,
                    bool parse, ids_buf *b)
{
    if (len > (size_t)INT32_MAX / 2)
        return -1;
    for (;;) {
        const int32_t n = llama_tokenize(vocab, text, (int32_t)len, b->v, b->cap, add, parse);
        if (n >= 0) {
            b->n = n;
            return 0;
        }
        if (n == INT32_MIN)
            return -1; /* overflow */
        llama_token *nv = realloc(b->v, (size_t)(-n) * sizeof *nv);
        if (!nv)
            return -1;
        b->v = nv;
        b->cap = -n;
    }
}

/* tokenize() in a child process (see the header): 0 and b filled, -1 on a
 * failure here, or the signal that killed the child. */
static int tokenize_guarded(const struct llama_vocab *vocab, const char *text, size_t len,
                            bool add, bool parse, ids_buf *b)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    fflush(NULL);
    const pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fd[0]);
        int32_t n = tokenize(vocab, text, len, add, parse, b) == 0 ? b->n : -1;
        int ok = write(fd[1], &n, sizeof n) == (ssize_t)sizeof n;
        for (int32_t off = 0; ok && n > 0 && off < n;) {
            const ssize_t w = write(fd[1], b->v + off, (size_t)(n - off) * sizeof *b->v);
            ok = w > 0;
            off += ok ? (int32_t)(w / (ssize_t)sizeof *b->v) : 0;
        }
        _exit(ok ? 0 : 1);
    }
    close(fd[1]);
    int32_t n = -1;
    size_t got = 0;
    char *dst = (char *)&n;
    size_t want = sizeof n;
    for (;;) {
        const ssize_t r = read(fd[0], dst + got, want - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got < want)
            continue;
        if (dst == (char *)&n && n > 0) { /* the count read: now the ids */
            if (n > b->cap) {
                llama_token *nv = realloc(b->v, (size_t)n * sizeof *nv);
                if (!nv)
                    break;
                b->v = nv;
                b->cap = n;
            }
            dst = (char *)b->v;
            want = (size_t)n * sizeof *b->v;
            got = 0;
            continue;
        }
        break;
    }
    close(fd[0]);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    if (WIFSIGNALED(status))
        return WTERMSIG(status);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || n < 0 ||
        (n > 0 && (dst != (char *)b->v || got != want)))
        return -1;
    b->n = n;
    return 0;
}

static char *g_text;
static int32_t g_text_cap;

static int detok(const struct llama_vocab *vocab, const ids_buf *b, int32_t *n_out)
{
    for (;;) {
        const int32_t n = llama_detokenize(vocab, b->v, b->n, g_text, g_text_cap, false, false);
        if (n >= 0) {
            *n_out = n;
            return 0;
        }
        char *nt = realloc(g_text, (size_t)(-n) + 1);
        if (!nt)
            return -1;
        g_text = nt;
        g_text_cap = -n;
    }
}

static int piece(const struct llama_vocab *vocab, llama_token id, bool special, char **buf,
                 int32_t *cap)
{
    for (;;) {
        const int32_t n = llama_token_to_piece(vocab, id, *buf, *cap, 0, special);
        if (n >= 0)
            return n;
        char *nb = realloc(*buf, (size_t)(-n));
        if (!nb)
            return -1;
        *buf = nb;
        *cap = -n;
    }
}

static int run_cases(const struct llama_vocab *vocab, const char *path)
{
    size_t len;
    char *doc = slurp(path, &len);
    if (!doc) {
        fprintf(stderr, "llamacpp_tokenize: cannot read %s\n", path);
        return 2;
    }
    const int32_t n_vocab = llama_vocab_n_tokens(vocab);
    unsigned char *seen = calloc((size_t)n_vocab, 1);
    char *bytes = malloc(len / 2 + 1);
    ids_buf b = {0};
    if (!seen || !bytes)
        return 2;
    printf("{\"n_vocab\":%d,\"add_bos\":%s,\"add_eos\":%s,\"cases\":[", (int)n_vocab,
           llama_vocab_get_add_bos(vocab) ? "true" : "false",
           llama_vocab_get_add_eos(vocab) ? "true" : "false");
    const char *name = NULL;
    size_t name_len = 0;
    int n_cases = 0;
    for (const char *p = doc; *p;) {
        size_t sl;
        const char *end;
        const char *s;
        if ((s = string_after_key(p, "name", &sl, &end))) {
            name = s;
            name_len = sl;
            p = end;
            continue;
        }
        if (!(s = string_after_key(p, "hex", &sl, &end))) {
            p++;
            continue;
        }
        p = end;
        if (!name || sl % 2) {
            fprintf(stderr, "llamacpp_tokenize: %s: a \"hex\" without a \"name\" before it, "
                            "or of odd length, at byte %zu\n", path, (size_t)(s - doc));
            return 2;
        }
        size_t n = 0;
        for (size_t i = 0; i < sl; i += 2) {
            const int hi = hexval(s[i]), lo = hexval(s[i + 1]);
            if (hi < 0 || lo < 0) {
                fprintf(stderr, "llamacpp_tokenize: %s: bad hex digit at byte %zu\n", path,
                        (size_t)(s + i - doc));
                return 2;
            }
            bytes[n++] = (char)(hi * 16 + lo);
        }
        printf("%s\n{\"name\":\"%.*s\"", n_cases ? "," : "", (int)name_len, name);
        for (int mode = 0; mode < 2; mode++) {
            const bool on = mode == 0;
            int32_t tn = 0;
            const int g = tokenize_guarded(vocab, bytes, n, on, on, &b);
            if (g > 0) {
                fprintf(stderr, "llamacpp_tokenize: case %.*s (%s): llama_tokenize killed by "
                                "signal %d\n", (int)name_len, name, on ? "special" : "plain", g);
                printf(",\"%s\":{\"error\":\"llama_tokenize killed by signal %d\"}",
                       on ? "special" : "plain", g);
                continue;
            }
            if (g != 0 || detok(vocab, &b, &tn) != 0) {
                fprintf(stderr, "llamacpp_tokenize: case %.*s: tokenize failed\n",
                        (int)name_len, name);
                return 2;
            }
            printf(",\"%s\":{\"ids\":[", on ? "special" : "plain");
            for (int32_t i = 0; i < b.n; i++) {
                printf(i ? ",%d" : "%d", (int)b.v[i]);
                if (b.v[i] >= 0 && b.v[i] < n_vocab)
                    seen[b.v[i]] = 1;
            }
            printf("],\"text\":");
            put_hex(g_text, (size_t)tn);
            putchar('}');
        }
        putchar('}');
        fflush(stdout);
        n_cases++;
        name = NULL;
    }
    printf("\n],\"pieces\":{");
    char *pb = NULL, *ps = NULL;
    int32_t pcap = 0, scap = 0;
    int first = 1;
    for (int32_t id = 0; id < n_vocab; id++) {
        if (!seen[id])
            continue;
        const int n = piece(vocab, id, false, &pb, &pcap);
        if (n < 0)
            return 2;
        printf("%s\n\"%d\":", first ? "" : ",", (int)id);
        put_hex(pb, (size_t)n);
        first = 0;
    }
    printf("\n},\"pieces_special\":{");
    first = 1;
    for (int32_t id = 0; id < n_vocab; id++) {
        if (!seen[id])
            continue;
        const int n = piece(vocab, id, false, &pb, &pcap);
        const int m = piece(vocab, id, true, &ps, &scap);
        if (n < 0 || m < 0)
            return 2;
        if (n == m && !memcmp(pb, ps, (size_t)n))
            continue;
        printf("%s\n\"%d\":", first ? "" : ",", (int)id);
        put_hex(ps, (size_t)m);
        first = 0;
    }
    printf("\n}}\n");
    fprintf(stderr, "llamacpp_tokenize: %d cases\n", n_cases);
    free(pb);
    free(ps);
    free(b.v);
    free(bytes);
    free(seen);
    free(doc);
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int run_bench(const struct llama_vocab *vocab, const char *path, int runs, bool add,
                     bool parse)
{
    size_t len;
    char *text = slurp(path, &len);
    if (!text) {
        fprintf(stderr, "llamacpp_tokenize: cannot read %s\n", path);
        return 2;
    }
    ids_buf b = {0};
    if (tokenize(vocab, text, len, add, parse, &b) != 0) { /* warm-up, sizes b */
        fprintf(stderr, "llamacpp_tokenize: %s: tokenize failed\n", path);
        return 2;
    }
    double *ms = malloc((size_t)runs * sizeof *ms);
    if (!ms)
        return 2;
    for (int r = 0; r < runs; r++) {
        const double t0 = now_ms();
        tokenize(vocab, text, len, add, parse, &b);
        ms[r] = now_ms() - t0;
    }
    double *sorted = malloc((size_t)runs * sizeof *sorted);
    if (!sorted)
        return 2;
    memcpy(sorted, ms, (size_t)runs * sizeof *ms);
    qsort(sorted, (size_t)runs, sizeof *sorted, cmp_double);
    const double med = runs % 2 ? sorted[runs / 2]
                                : 0.5 * (sorted[runs / 2 - 1] + sorted[runs / 2]);
    printf("{\"file\":\"%s\",\"bytes\":%zu,\"tokens\":%d,\"add_special\":%s,"
           "\"parse_special\":%s,\"runs\":%d,\"median_ms\":%.6g,\"mb_per_s\":%.6g,"
           "\"samples_ms\":[",
           path, len, (int)b.n, add ? "true" : "false", parse ? "true" : "false", runs, med,
           med > 0 ? (double)len / 1e6 / (med / 1e3) : 0.0);
    for (int r = 0; r < runs; r++)
        printf(r ? ",%.6g" : "%.6g", ms[r]);
    printf("]}\n");
    free(sorted);
    free(ms);
    free(b.v);
    free(text);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: llamacpp_tokenize VOCAB.gguf --cases CASES.json\n"
                    "       llamacpp_tokenize VOCAB.gguf --bench FILE [--runs N] "
                    "[--add-special] [--parse-special]\n");
    return 3;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return usage();
    const char *cases = NULL, *bench = NULL;
    int runs = 10;
    bool add = false, parse = false;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--cases") && i + 1 < argc)
            cases = argv[++i];
        else if (!strcmp(argv[i], "--bench") && i + 1 < argc)
            bench = argv[++i];
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--add-special"))
            add = true;
        else if (!strcmp(argv[i], "--parse-special"))
            parse = true;
        else
            return usage();
    }
    if (!cases == !bench || runs < 1)
        return usage();
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        fprintf(stderr, "llamacpp_tokenize: cannot load %s\n", argv[1]);
        return 2;
    }
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    const int rc = cases ? run_cases(vocab, cases) : run_bench(vocab, bench, runs, add, parse);
    free(g_text);
    llama_model_free(model);
    llama_backend_free();
    return rc;
}
