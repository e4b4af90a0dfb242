/*
 * kakeya generate -m FILE (-p TEXT | --tokens IDS) -n N [--threads T] [--json]
 * kakeya spec     ... the same ... --drafter D [--block L]
 *
 * Greedy generation: prefill the prompt in one forward call, then decode
 * one token per call until N tokens or EOS (EOS itself is not output).
 * stdout: the generated text followed by one newline, or with --json one
 * object {"prompt_ids", "ids", "text", "prefill_s", "decode_s"}.
 * stderr: tokens/s of prefill and decode.
 *
 * `spec` runs the same generation through speculative decoding
 * (engine/spec.h): the drafter proposes up to L - 1 tokens, one
 * batch-invariant call verifies them, so stdout is exactly what `generate`
 * prints for the same model, prompt, cache and N; the JSON adds "tau",
 * "blocks", "drafted", "accepted". Drafters: ngram[:n=N,max=M] (prompt
 * lookup; defaults n=2, max=L-1), random[:seed=S] (a negative control).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "json.h"
#include "cli_bounds.h"
#include "kk_args.h"
#include "kk_stats.h"
#include "sample.h"
#include "session.h"
#include "drafter.h"
#include "spec.h"

/* "generate" or "spec": which command this file is serving */
static const char *g_name = "generate";

static void help(FILE *out)
{
    char th[128];
    if (!strcmp(g_name, "spec"))
        fprintf(out,
                "usage: kakeya spec -m FILE (-p TEXT | --tokens IDS) -n N --drafter D [--block L]\n"
                "       [generate's other options]\n"
                "speculative greedy decoding: stdout is exactly `kakeya generate`'s\n"
                "  --drafter D        ngram[:n=N,max=M] (prompt lookup: the latest earlier\n"
                "                     occurrence of the last N tokens, default 2, proposes what\n"
                "                     followed, at most M, default L - 1), random[:seed=S]\n"
                "                     (a negative control: nothing is accepted but by chance),\n"
                "                     model:FILE (a smaller model, same vocabulary, its own\n"
                "                     cache), skip:K (this model's first K layers and its\n"
                "                     output head), none (one token per call)\n"
                "  --block L          tokens per verify call, 1..64 (default 8)\n"
                "  --json adds \"tau\" (tokens per verify call), \"blocks\", \"drafted\",\n"
                "  \"accepted\"; statistics on stderr\n\n");
    fprintf(out,
            "usage: kakeya generate -m FILE (-p TEXT | --tokens IDS) -n N [--threads T] [--json]\n"
            "       [--act f32|ggml] [--kv-cache f32|f16 | --kv-codec SPEC [--kv-codec-v SPEC]\n"
            "       | --policy SPEC]\n"
            "  -m, --model FILE   GGUF model (llama, qwen3 or gemma3) with a llama tokenizer\n"
            "  -p, --prompt TEXT  prompt text; BOS added when the GGUF says so\n"
            "  --tokens IDS       comma-separated prompt token ids, verbatim (no BOS)\n"
            "  -n N               tokens to generate (greedy; stops early at EOS)\n"
            "  --threads T        %s; default: the cores available\n"
            "  --act f32|ggml     activations of Q8_0/F16 products: ggml rounds them as\n"
            "                     llama.cpp does (default), f32 keeps them exact\n"
            "  --kv-cache f32|f16 K/V cache storage: f32 (default) keeps K and V exact, f16\n"
            "                     halves the cache (llama.cpp's default cache type)\n"
            "  --policy SPEC      full (default), sinkwin:sink=S,window=W, or s5 (a model's\n"
            "                     sliding layers as rings of their window: gemma3)\n"
            "  --json             print {\"prompt_ids\", \"ids\", \"text\", \"prefill_s\", \"decode_s\"}\n"
            "stdout: the generated text (or the JSON); tokens/s on stderr.\n"
            "exit codes: 0 ok, 2 bad input (file, ids, N past the context), 3 usage\n",
            cli_bound_help("--threads", th, sizeof th));
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no
 * surrogates, <= U+10FFFF), 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
    const unsigned c = p[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2; min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3; min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4; min = 0x10000;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    unsigned cp = c & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* JSON strings hold Unicode text: bytes that are not valid UTF-8 (a byte
 * token cut mid-character) are written as U+FFFD, as a decoder would. */
static void write_json_text(FILE *out, const char *s, size_t len)
{
    char *clean = malloc(len * 3 + 1);
    if (!clean) {
        fputs("\"\"", out);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq((const unsigned char *)s + i, len - i);
        if (n == 0) {
            memcpy(clean + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i += 1;
        } else {
            memcpy(clean + k, s + i, n);
            k += n;
            i += n;
        }
    }
    json_write_string(out, clean, k);
    free(clean);
}

static void write_ids(FILE *out, const int32_t *ids, size_t n)
{
    putc('[', out);
    for (size_t i = 0; i < n; i++)
        fprintf(out, i ? ", %d" : "%d", (int)ids[i]);
    putc(']', out);
}

/* Append the piece of id to the growing text buffer. */
static kk_code text_append(const tok *t, int32_t id, char **text, size_t *len, size_t *cap,
                           kk_err *err)
{
    char piece[256];
    int n = tok_piece(t, id, piece, sizeof piece);
    if (n < 0)
        return kk_err_set(err, KK_E_RANGE, "token id %d has no piece", (int)id);
    if ((size_t)n > sizeof piece)
        n = (int)sizeof piece; /* pieces are a few bytes; longer ones are cut */
    if (*len + (size_t)n + 1 > *cap) {
        size_t nc = (*cap ? *cap * 2 : 1024) + (size_t)n;
        char *g = realloc(*text, nc);
        if (!g)
            return kk_err_set(err, KK_E_NOMEM, "out of memory");
        *text = g;
        *cap = nc;
    }
    memcpy(*text + *len, piece, (size_t)n);
    *len += (size_t)n;
    return KK_OK;
}

typedef struct gen_args {
    const char *path, *prompt, *ids, *threads, *act, *kv, *codec, *codec_v, *policy;
    const char *drafter;          /* spec */
    int64_t n_predict, block;     /* block: spec, default 8 */
    bool have_n, json;
} gen_args;

/* @return -1 to go on, else the exit code. */
static int parse(int argc, char **argv, gen_args *a, kk_err *err)
{
    memset(a, 0, sizeof *a);
    a->block = 8;
    const bool spec = !strcmp(g_name, "spec");
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const char **dst = NULL;
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            help(stdout);
            return KK_EXIT_OK;
        } else if (!strcmp(s, "--json")) {
            a->json = true;
            continue;
        } else if (!strcmp(s, "-m") || !strcmp(s, "--model")) {
            dst = &a->path;
        } else if (!strcmp(s, "-p") || !strcmp(s, "--prompt")) {
            dst = &a->prompt;
        } else if (!strcmp(s, "--tokens")) {
            dst = &a->ids;
        } else if (!strcmp(s, "--threads")) {
            dst = &a->threads;
        } else if (!strcmp(s, "--act")) {
            dst = &a->act;
        } else if (!strcmp(s, "--kv-cache")) {
            dst = &a->kv;
        } else if (!strcmp(s, "--kv-codec")) {
            dst = &a->codec;
        } else if (!strcmp(s, "--kv-codec-v")) {
            dst = &a->codec_v;
        } else if (!strcmp(s, "--policy")) {
            dst = &a->policy;
        } else if (spec && !strcmp(s, "--drafter")) {
            dst = &a->drafter;
        } else if (spec && !strcmp(s, "--block")) {
            const char *v = kk_arg_value(argc, argv, &i, err);
            if (!v || kk_arg_i64("--block", v, 1, 64, &a->block, err) != KK_OK)
                return cmd_fail(g_name, err);
            continue;
        } else if (!strcmp(s, "-n") || !strcmp(s, "--n-predict")) {
            const char *v = kk_arg_value(argc, argv, &i, err);
            if (!v)
                return cmd_fail(g_name, err);
            if (kk_arg_i64("-n", v, 0, INT32_MAX, &a->n_predict, err) != KK_OK)
                return cmd_fail(g_name, err);
            a->have_n = true;
            continue;
        } else {
            fprintf(stderr, "kakeya %s: unknown option '%s'\n", g_name, s);
            help(stderr);
            return KK_EXIT_USAGE;
        }
        if (!(*dst = kk_arg_value(argc, argv, &i, err)))
            return cmd_fail(g_name, err);
    }
    const char *missing = !a->path ? "-m FILE"
                          : (!a->prompt && !a->ids) ? "-p TEXT or --tokens IDS"
                          : !a->have_n ? "-n N"
                          : spec && !a->drafter ? "--drafter D" : NULL;
    if (missing || (a->prompt && a->ids)) {
        if (missing)
            fprintf(stderr, "kakeya %s: %s is required\n", g_name, missing);
        else
            fprintf(stderr, "kakeya %s: give -p TEXT or --tokens IDS, not both\n", g_name);
        help(stderr);
        return KK_EXIT_USAGE;
    }
    return -1;
}

static int generate_main(int argc, char **argv);

int cmd_generate(int argc, char **argv)
{
    g_name = "generate";
    return generate_main(argc, argv);
}

int cmd_spec(int argc, char **argv)
{
    g_name = "spec";
    return generate_main(argc, argv);
}

static int generate_main(int argc, char **argv)
{
    kk_err err;
    kk_err_clear(&err);
    gen_args a;
    int rc = parse(argc, argv, &a, &err);
    if (rc >= 0)
        return rc;
    int threads;
    ops_act act;
    session cache; /* the cache flags, copied into the session once open */
    memset(&cache, 0, sizeof cache);
    if (session_parse_threads(a.threads, &threads, &err) != KK_OK ||
        session_parse_act(a.act, &act, &err) != KK_OK)
        return cmd_fail(g_name, &err);
    if (session_parse_cache(&cache, a.kv, a.codec, a.codec_v, &err) != KK_OK ||
        session_parse_policy(&cache, a.policy, &err) != KK_OK) {
        if (err.code == KK_E_USAGE) {
            fprintf(stderr, "kakeya %s: %s\n", g_name, err.msg);
            help(stderr);
            return KK_EXIT_USAGE;
        }
        return cmd_fail(g_name, &err);
    }

    session s;
    drafter dr; /* spec */
    memset(&dr, 0, sizeof dr);
    kv_cache *kv = NULL;
    fwd_state *st = NULL;
    int32_t *prompt = NULL, *out_ids = NULL;
    size_t n_prompt = 0, n_out = 0, text_len = 0, text_cap = 0;
    float *logits = NULL;
    char *text = NULL;
    rc = KK_EXIT_OK;
    if (session_open(&s, a.path, true, &err) != KK_OK)
        return cmd_fail(g_name, &err);
    for (size_t i = 0; i < tok_n_warnings(s.t); i++)
        fprintf(stderr, "kakeya %s: warning: %s: %s\n", g_name, a.path, tok_warning(s.t, i));
    model_set_act(s.m, act);
    s.kv_f16 = cache.kv_f16;
    s.has_codec = cache.has_codec;
    s.kc = cache.kc;
    s.vc = cache.vc;
    s.has_policy = cache.has_policy;
    s.policy = cache.policy;
    if (!strcmp(g_name, "spec")) /* a verify call rolls back block - 1 drafts at most */
        s.kv_max_rollback = a.block - 1;
    const model_hparams *hp = &s.m->hp;

    if (a.prompt) {
        /* special-token texts parsed, as llama.cpp's examples tokenize a
         * prompt (a chat template's <|im_start|> is that token) */
        KK_TRY(tok_encode_ex(s.t, a.prompt, strlen(a.prompt), tok_add_bos(s.t), true, &prompt,
                             &n_prompt, &err));
        KK_CHECK(n_prompt > 0, &err, KK_E_RANGE,
                 "-p: the prompt is empty and the model adds no BOS: nothing to start from");
    } else {
        KK_TRY(kk_arg_ids("--tokens", a.ids, hp->n_vocab - 1, "token id", &prompt, &n_prompt, &err));
    }
    const int64_t n_ctx = (int64_t)n_prompt + a.n_predict;
    if (n_ctx > hp->n_ctx_train) {
        kk_err_set(&err, KK_E_RANGE,
                   "-n: %zu prompt tokens + %lld to generate exceed the model's "
                   "context_length %d",
                   n_prompt, (long long)a.n_predict, (int)hp->n_ctx_train);
        kk_err_where(&err, "-n");
        goto fail;
    }
    KK_TRY(session_cache_init(&s, n_ctx, &kv, &st, &err));
    logits = malloc((size_t)hp->n_vocab * sizeof(float));
    out_ids = malloc(((size_t)a.n_predict + 1) * sizeof(int32_t));
    KK_CHECK(logits && out_ids, &err, KK_E_NOMEM, "out of memory");

    const int32_t eos = tok_eos(s.t);
    double prefill_s = 0.0, decode_s = 0.0;
    size_t n_decoded = 0; /* forward calls after the prefill */
    spec_stats ss;
    memset(&ss, 0, sizeof ss);
    if (!strcmp(g_name, "spec")) {
        KK_TRY(drafter_parse("--drafter", a.drafter, a.block, &dr, &err));
        KK_TRY(drafter_open(&dr, "--drafter", s.m, s.t, act, n_ctx + a.block, s.kv_f16, &err));
        KK_TRY(spec_generate(st, kv, s.m, prompt, n_prompt, a.n_predict, eos, (int)a.block,
                             SPEC_VERIFY_INVARIANT, drafter_spec(&dr), out_ids, &n_out, &ss,
                             &err));
        for (size_t i = 0; i < n_out; i++)
            KK_TRY(text_append(s.t, out_ids[i], &text, &text_len, &text_cap, &err));
        if (!a.json)
            fwrite(text ? text : "", 1, text_len, stdout);
        prefill_s = ss.prefill_s;
        decode_s = ss.draft_s + ss.verify_s + ss.rollback_s;
        n_decoded = (size_t)ss.blocks;
    } else {
        double t0 = kk_now_s();
        KK_TRY(fwd_run(st, kv, prompt, NULL, (int64_t)n_prompt, FWD_LOGITS_LAST, logits, NULL,
                       &err));
        prefill_s = kk_now_s() - t0;
        while ((int64_t)n_out < a.n_predict) {
            const int32_t id = sample_greedy(logits, hp->n_vocab);
            if (id == eos)
                break;
            out_ids[n_out++] = id;
            const size_t before = text_len;
            KK_TRY(text_append(s.t, id, &text, &text_len, &text_cap, &err));
            if (!a.json) { /* stream the text as it comes */
                fwrite(text + before, 1, text_len - before, stdout);
                fflush(stdout);
            }
            if ((int64_t)n_out == a.n_predict)
                break; /* the last token's logits are not needed */
            t0 = kk_now_s();
            KK_TRY(fwd_run(st, kv, &id, NULL, 1, FWD_LOGITS_LAST, logits, NULL, &err));
            decode_s += kk_now_s() - t0;
            n_decoded++;
        }
    }
    if (a.json) {
        fputs("{\"prompt_ids\": ", stdout);
        write_ids(stdout, prompt, n_prompt);
        fputs(", \"ids\": ", stdout);
        write_ids(stdout, out_ids, n_out);
        fputs(", \"text\": ", stdout);
        write_json_text(stdout, text ? text : "", text_len);
        fputs(", \"prefill_s\": ", stdout);
        json_write_double(stdout, prefill_s);
        fputs(", \"decode_s\": ", stdout);
        json_write_double(stdout, decode_s);
        if (!strcmp(g_name, "spec")) {
            printf(", \"tau\": ");
            json_write_double(stdout, spec_tau(&ss));
            printf(", \"blocks\": %lld, \"drafted\": %lld, \"accepted\": %lld",
                   (long long)ss.blocks, (long long)ss.drafted, (long long)ss.accepted);
        }
        fputs("}\n", stdout);
    } else {
        putchar('\n');
    }
    if (fflush(stdout) != 0) {
        kk_err_set(&err, KK_E_IO, "writing to stdout failed");
        goto fail;
    }
    if (!strcmp(g_name, "spec"))
        fprintf(stderr,
                "kakeya spec: prefill %zu tokens in %.3f s, %zu tokens in %lld verify calls "
                "(tau %.2f; drafted %lld, accepted %lld) in %.3f s (%.1f tok/s: draft %.3f, "
                "verify %.3f, rollback %.3f s), %d threads\n",
                n_prompt, prefill_s, n_out, (long long)ss.blocks,
                spec_tau(&ss), (long long)ss.drafted,
                (long long)ss.accepted, decode_s, decode_s > 0 ? (double)n_out / decode_s : 0.0,
                ss.draft_s, ss.verify_s, ss.rollback_s, threads);
    else
        fprintf(stderr,
                "kakeya generate: prefill %zu tokens in %.3f s (%.1f tok/s), decode %zu tokens "
                "in %.3f s (%.1f tok/s), %d threads\n",
                n_prompt, prefill_s, prefill_s > 0 ? (double)n_prompt / prefill_s : 0.0,
                n_decoded, decode_s, decode_s > 0 ? (double)n_decoded / decode_s : 0.0, threads);
    goto done;
fail:
    if (!err.file[0] && err.code != KK_E_RANGE && err.code != KK_E_FORMAT)
        kk_err_file(&err, a.path);
    rc = cmd_fail(g_name, &err);
done:
    free(text);
    free(logits);
    free(out_ids);
    free(prompt);
    fwd_free(st);
    kv_free(kv);
    drafter_close(&dr);
    session_close(&s);
    return rc;
}
