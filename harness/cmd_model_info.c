/*
 * kakeya model info FILE [--json]
 * What a GGUF file holds: version, architecture, the main hyperparameters
 * (llama.cpp's key names under the architecture's prefix), tokenizer
 * summary, every metadata key, each tensor (name, type, shape outermost
 * first, bytes), the parameter count, the file's size and sha256.
 * With --json the same as one JSON object on stdout.
 * Exit codes: 0 ok, 2 unreadable or malformed file, 3 usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "gguf.h"
#include "kk_err.h"
#include "sha256.h"
#include "tokenizer.h"

#define SUB "model info"

/* The hyperparameters shown, as suffixes of "<arch>." (llama.cpp
 * src/llama-arch.cpp LLM_KV_*). */
static const char *const HPARAMS[] = {
    "context_length",
    "embedding_length",
    "block_count",
    "feed_forward_length",
    "attention.head_count",
    "attention.head_count_kv",
    "attention.key_length",
    "attention.value_length",
    "attention.layer_norm_rms_epsilon",
    "attention.sliding_window",
    "attention.sliding_window_pattern",
    "rope.dimension_count",
    "rope.freq_base",
    "rope.freq_base_swa",
    "final_logit_softcapping",
    "vocab_size",
    "expert_count",
    "expert_used_count",
};
#define N_HPARAMS (sizeof HPARAMS / sizeof HPARAMS[0])

static void help(FILE *out)
{
    fprintf(out,
            "usage: kakeya model info FILE [--json]\n"
            "prints what a GGUF model holds: version, architecture, hyperparameters,\n"
            "metadata, tensors (name, type, shape outermost first), parameter count,\n"
            "file size and sha256\n"
            "  --json     one JSON object on stdout instead of text\n"
            "exit codes: 0 ok, 2 unreadable or malformed file, 3 usage\n");
}

/* ---- values as text and JSON ---------------------------------------------- */

static int is_uint(gguf_type t)
{
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_UINT32 ||
           t == GGUF_TYPE_UINT64;
}

static int is_int(gguf_type t)
{
    return t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 ||
           t == GGUF_TYPE_INT64;
}

/* A scalar as text (strings cut at `max` bytes with "..."). */
static void value_text(const gguf_value *v, char *buf, size_t cap, size_t max)
{
    if (is_uint(v->type)) {
        snprintf(buf, cap, "%" PRIu64, v->v.u);
    } else if (is_int(v->type)) {
        snprintf(buf, cap, "%" PRId64, v->v.i);
    } else if (v->type == GGUF_TYPE_FLOAT32 || v->type == GGUF_TYPE_FLOAT64) {
        /* Shortest text that reads back to the same value (1e-05, not
         * 9.99999975e-06, for a float32). */
        for (int prec = 6; prec <= 17; prec++) {
            snprintf(buf, cap, "%.*g", prec, v->v.f);
            double back = strtod(buf, NULL);
            if (v->type == GGUF_TYPE_FLOAT32 ? (float)back == (float)v->v.f : back == v->v.f)
                break;
        }
    } else if (v->type == GGUF_TYPE_BOOL) {
        snprintf(buf, cap, "%s", v->v.b ? "true" : "false");
    } else if (v->type == GGUF_TYPE_STRING) {
        uint64_t n = v->v.str.len < max ? v->v.str.len : max;
        size_t k = 0;
        buf[k++] = '\'';
        for (uint64_t i = 0; i < n && k + 5 < cap; i++) {
            unsigned char c = (unsigned char)v->v.str.s[i];
            if (c < 0x20 || c == 0x7f)
                k += (size_t)snprintf(buf + k, cap - k, "\\x%02x", c);
            else
                buf[k++] = (char)c;
        }
        if (k + 5 < cap && v->v.str.len > max) {
            memcpy(buf + k, "...", 3);
            k += 3;
        }
        buf[k++] = '\'';
        buf[k] = '\0';
    } else if (v->type == GGUF_TYPE_ARRAY) {
        snprintf(buf, cap, "[%" PRIu64 " x %s]", v->v.arr.n, gguf_type_name(v->v.arr.elem_type));
    } else {
        snprintf(buf, cap, "?");
    }
}

/* Integers go out as raw number text so 64-bit values stay exact (cJSON
 * numbers are doubles); floats print so they read back exactly. */
static cJSON *value_json(const gguf_value *v)
{
    char num[32];
    if (is_uint(v->type)) {
        snprintf(num, sizeof num, "%" PRIu64, v->v.u);
        return cJSON_CreateRaw(num);
    }
    if (is_int(v->type)) {
        snprintf(num, sizeof num, "%" PRId64, v->v.i);
        return cJSON_CreateRaw(num);
    }
    if (v->type == GGUF_TYPE_FLOAT32 || v->type == GGUF_TYPE_FLOAT64) {
        if (v->v.f != v->v.f || v->v.f - v->v.f != 0)
            return cJSON_CreateNull(); /* NaN/inf have no JSON form */
        return cJSON_CreateNumber(v->v.f);
    }
    if (v->type == GGUF_TYPE_BOOL)
        return cJSON_CreateBool(v->v.b);
    if (v->type == GGUF_TYPE_STRING) {
        char *s = malloc((size_t)v->v.str.len + 1);
        if (!s)
            return NULL;
        gguf_str_copy(v->v.str, s, (size_t)v->v.str.len + 1); /* cut at a NUL */
        cJSON *j = cJSON_CreateString(s);
        free(s);
        return j;
    }
    /* Arrays: type and length (a vocabulary would drown the output). */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "array");
    cJSON_AddStringToObject(o, "elem_type", gguf_type_name(v->v.arr.elem_type));
    snprintf(num, sizeof num, "%" PRIu64, v->v.arr.n);
    cJSON_AddRawToObject(o, "n", num);
    return o;
}

/* ---- the tokenizer, read from its keys (any tokenizer model, runnable or not) ---- */

#define TOK_NONE 0xFFFFFFFFu
#define TOK_MAX_LISTED 16

typedef struct tok_info {
    char model[64], pre[64];   /* "" when absent */
    uint32_t bos, eos, unk;    /* TOK_NONE when absent */
    int add_bos;               /* -1 absent (llama.cpp: true for llama, false for gpt2) */
    int64_t n_control, n_user; /* token_type 3 and 4 */
    uint32_t listed[TOK_MAX_LISTED];
    int n_listed;
} tok_info;

static void str_key(const gguf_file *f, const char *key, char *out, size_t cap)
{
    const gguf_value *v = gguf_get(f, key);
    out[0] = '\0';
    if (v && v->type == GGUF_TYPE_STRING)
        gguf_str_copy(v->v.str, out, cap);
}

static uint32_t id_key(const gguf_file *f, const char *key)
{
    const gguf_value *v = gguf_get(f, key);
    if (!v || (v->type != GGUF_TYPE_UINT32 && v->type != GGUF_TYPE_INT32))
        return TOK_NONE;
    return (uint32_t)(v->type == GGUF_TYPE_UINT32 ? v->v.u : (uint64_t)v->v.i);
}

static void read_tok(const gguf_file *f, tok_info *t)
{
    memset(t, 0, sizeof *t);
    str_key(f, "tokenizer.ggml.model", t->model, sizeof t->model);
    str_key(f, "tokenizer.ggml.pre", t->pre, sizeof t->pre);
    t->bos = id_key(f, "tokenizer.ggml.bos_token_id");
    t->eos = id_key(f, "tokenizer.ggml.eos_token_id");
    t->unk = id_key(f, "tokenizer.ggml.unknown_token_id");
    const gguf_value *ab = gguf_get(f, "tokenizer.ggml.add_bos_token");
    t->add_bos = ab && ab->type == GGUF_TYPE_BOOL ? ab->v.b : -1;
    const gguf_value *ty = gguf_get(f, "tokenizer.ggml.token_type");
    if (!ty || ty->type != GGUF_TYPE_ARRAY || ty->v.arr.elem_type != GGUF_TYPE_INT32)
        return;
    for (uint64_t i = 0; i < ty->v.arr.n; i++) {
        int32_t k;
        memcpy(&k, ty->v.arr.raw + 4 * i, 4);
        if (k != 3 && k != 4)
            continue;
        t->n_control += k == 3;
        t->n_user += k == 4;
        if (t->n_listed < TOK_MAX_LISTED)
            t->listed[t->n_listed++] = (uint32_t)i;
    }
}

/* Token id's text into buf ("?" when the tokens array does not hold it). */
static const char *tok_text_of(const gguf_file *f, uint32_t id, char *buf, size_t cap)
{
    const gguf_value *v = gguf_get(f, "tokenizer.ggml.tokens");
    snprintf(buf, cap, "?");
    if (v && v->type == GGUF_TYPE_ARRAY && v->v.arr.items && id < v->v.arr.n &&
        v->v.arr.items[id].type == GGUF_TYPE_STRING)
        gguf_str_copy(v->v.arr.items[id].v.str, buf, cap);
    return buf;
}

static void print_tok(const gguf_file *f, const tok_info *t)
{
    char a[96];
    printf("tokenizer     %s", t->model[0] ? t->model : "(none)");
    printf(" (pre-tokenizer %s)", t->pre[0] ? t->pre : "(none)");
    const struct { const char *name; uint32_t id; } ids[] = {
        {"bos", t->bos}, {"eos", t->eos}, {"unk", t->unk}};
    for (size_t i = 0; i < 3; i++)
        if (ids[i].id != TOK_NONE)
            printf(", %s %u '%s'", ids[i].name, ids[i].id, tok_text_of(f, ids[i].id, a, sizeof a));
    if (t->add_bos < 0)
        printf(", add_bos %s (absent: llama.cpp's default)\n",
               tok_default_add_bos(t->model, t->pre) ? "true" : "false");
    else
        printf(", add_bos %s\n", t->add_bos ? "true" : "false");
    if (!t->n_control && !t->n_user)
        return;
    printf("special       %" PRId64 " control, %" PRId64 " user-defined:", t->n_control, t->n_user);
    for (int i = 0; i < t->n_listed; i++)
        printf(" %s", tok_text_of(f, t->listed[i], a, sizeof a));
    printf("%s\n", t->n_control + t->n_user > t->n_listed ? " ..." : "");
}

static cJSON *tok_json(const gguf_file *f, const tok_info *t)
{
    char a[96];
    cJSON *o = cJSON_CreateObject();
    if (t->model[0])
        cJSON_AddStringToObject(o, "model", t->model);
    else
        cJSON_AddNullToObject(o, "model");
    if (t->pre[0])
        cJSON_AddStringToObject(o, "pre", t->pre);
    else
        cJSON_AddNullToObject(o, "pre");
    const struct { const char *name; uint32_t id; } ids[] = {
        {"bos_id", t->bos}, {"eos_id", t->eos}, {"unk_id", t->unk}};
    for (size_t i = 0; i < 3; i++) {
        if (ids[i].id == TOK_NONE)
            cJSON_AddNullToObject(o, ids[i].name);
        else
            cJSON_AddNumberToObject(o, ids[i].name, ids[i].id);
    }
    if (t->add_bos < 0) /* absent: llama.cpp's default */
        cJSON_AddBoolToObject(o, "add_bos", tok_default_add_bos(t->model, t->pre));
    else
        cJSON_AddBoolToObject(o, "add_bos", t->add_bos);
    cJSON_AddNumberToObject(o, "control", (double)t->n_control);
    cJSON_AddNumberToObject(o, "user_defined", (double)t->n_user);
    cJSON *sp = cJSON_AddArrayToObject(o, "special_first");
    for (int i = 0; i < t->n_listed; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "id", t->listed[i]);
        cJSON_AddStringToObject(e, "text", tok_text_of(f, t->listed[i], a, sizeof a));
        cJSON_AddItemToArray(sp, e);
    }
    return o;
}

/* ---- the report ---------------------------------------------------------------- */

typedef struct info {
    const gguf_file *f;
    char arch[128];
    char sha[65];
    uint64_t n_params;
    uint64_t params_by_type[31]; /* indexed by dtype_t (<= 30) */
    int64_t n_vocab;             /* -1: no tokenizer.ggml.tokens */
} info;

static void shape_text(const gguf_tensor *t, char *buf, size_t cap)
{
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (uint32_t d = t->n_dims; d-- > 0 && k < cap;)
        k += (size_t)snprintf(buf + k, cap - k, "%" PRIu64 "%s", t->ne[d], d ? ", " : "]");
}

static void print_text(const info *in, const char *path)
{
    const gguf_file *f = in->f;
    char buf[512], key[512];
    printf("file          %s\n", path);
    printf("size          %zu bytes\n", f->map.size);
    printf("sha256        %s\n", in->sha);
    printf("gguf          version %" PRIu32 ", alignment %" PRIu64 ", %" PRIu64 " keys, %" PRIu64
           " tensors, data at offset %" PRIu64 "\n",
           f->version, f->alignment, f->n_kv, f->n_tensors, f->data_offset);
    printf("architecture  %s\n", in->arch[0] ? in->arch : "(none: no general.architecture)");
    if (in->n_vocab >= 0)
        printf("vocabulary    %" PRId64 " tokens\n", in->n_vocab);
    tok_info ti;
    read_tok(f, &ti);
    if (in->n_vocab >= 0 || ti.model[0])
        print_tok(f, &ti);
    printf("parameters    %" PRIu64 " (", in->n_params);
    const char *sep = "";
    for (int t = 0; t <= 30; t++) {
        if (in->params_by_type[t]) {
            printf("%s%s %" PRIu64, sep, dtype_name((dtype_t)t), in->params_by_type[t]);
            sep = ", ";
        }
    }
    printf(")\n");
    if (in->arch[0]) {
        printf("\nhyperparameters\n");
        for (size_t i = 0; i < N_HPARAMS; i++) {
            snprintf(key, sizeof key, "%s.%s", in->arch, HPARAMS[i]);
            const gguf_value *v = gguf_get(f, key);
            if (!v)
                continue;
            value_text(v, buf, sizeof buf, 60);
            printf("  %-34s %s\n", HPARAMS[i], buf);
        }
    }
    printf("\nmetadata\n");
    for (uint64_t i = 0; i < f->n_kv; i++) {
        gguf_str_copy(f->kv[i].key, key, sizeof key);
        value_text(&f->kv[i].value, buf, sizeof buf, 60);
        printf("  %-40s %-8s %s\n", key, gguf_type_name(f->kv[i].value.type), buf);
    }
    printf("\ntensors (shape outermost first)\n");
    printf("  %-36s %-5s %-22s %12s\n", "name", "type", "shape", "bytes");
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        char shape[128];
        gguf_str_copy(t->name, key, sizeof key);
        shape_text(t, shape, sizeof shape);
        printf("  %-36s %-5s %-22s %12" PRIu64 "\n", key, dtype_name(t->type), shape, t->n_bytes);
    }
}

static int print_json(const info *in, const char *path)
{
    const gguf_file *f = in->f;
    char key[512], num[32];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", path);
    snprintf(num, sizeof num, "%zu", f->map.size);
    cJSON_AddRawToObject(o, "size_bytes", num);
    cJSON_AddStringToObject(o, "sha256", in->sha);
    cJSON_AddNumberToObject(o, "gguf_version", f->version);
    snprintf(num, sizeof num, "%" PRIu64, f->alignment);
    cJSON_AddRawToObject(o, "alignment", num);
    snprintf(num, sizeof num, "%" PRIu64, f->data_offset);
    cJSON_AddRawToObject(o, "data_offset", num);
    if (in->arch[0])
        cJSON_AddStringToObject(o, "architecture", in->arch);
    else
        cJSON_AddNullToObject(o, "architecture");
    if (in->n_vocab >= 0)
        cJSON_AddNumberToObject(o, "n_vocab", (double)in->n_vocab);
    tok_info ti;
    read_tok(f, &ti);
    cJSON_AddItemToObject(o, "tokenizer", tok_json(f, &ti));
    snprintf(num, sizeof num, "%" PRIu64, in->n_params);
    cJSON_AddRawToObject(o, "n_params", num);
    cJSON *by = cJSON_AddObjectToObject(o, "params_by_type");
    for (int t = 0; t <= 30; t++) {
        if (in->params_by_type[t]) {
            snprintf(num, sizeof num, "%" PRIu64, in->params_by_type[t]);
            cJSON_AddRawToObject(by, dtype_name((dtype_t)t), num);
        }
    }
    cJSON *hp = cJSON_AddObjectToObject(o, "hyperparameters");
    for (size_t i = 0; in->arch[0] && i < N_HPARAMS; i++) {
        snprintf(key, sizeof key, "%s.%s", in->arch, HPARAMS[i]);
        const gguf_value *v = gguf_get(f, key);
        if (v)
            cJSON_AddItemToObject(hp, HPARAMS[i], value_json(v));
    }
    cJSON *md = cJSON_AddObjectToObject(o, "metadata");
    for (uint64_t i = 0; i < f->n_kv; i++) {
        gguf_str_copy(f->kv[i].key, key, sizeof key);
        cJSON_AddItemToObject(md, key, value_json(&f->kv[i].value));
    }
    cJSON *ts = cJSON_AddArrayToObject(o, "tensors");
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        cJSON *jt = cJSON_CreateObject();
        gguf_str_copy(t->name, key, sizeof key);
        cJSON_AddStringToObject(jt, "name", key);
        cJSON_AddStringToObject(jt, "type", dtype_name(t->type));
        cJSON *sh = cJSON_AddArrayToObject(jt, "shape"); /* outermost first */
        for (uint32_t d = t->n_dims; d-- > 0;) {
            snprintf(num, sizeof num, "%" PRIu64, t->ne[d]);
            cJSON_AddItemToArray(sh, cJSON_CreateRaw(num));
        }
        snprintf(num, sizeof num, "%" PRIu64, t->n_elements);
        cJSON_AddRawToObject(jt, "n_elements", num);
        snprintf(num, sizeof num, "%" PRIu64, t->n_bytes);
        cJSON_AddRawToObject(jt, "n_bytes", num);
        snprintf(num, sizeof num, "%" PRIu64, t->offset);
        cJSON_AddRawToObject(jt, "offset", num);
        cJSON_AddItemToArray(ts, jt);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) {
        fprintf(stderr, "kakeya " SUB ": out of memory printing JSON\n");
        return KK_EXIT_INPUT;
    }
    printf("%s\n", s);
    free(s);
    return KK_EXIT_OK;
}

int cmd_model_info(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return KK_EXIT_OK;
        }
        if (!strcmp(a, "--json")) {
            json = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "kakeya " SUB ": unknown option '%s'\n", a);
            help(stderr);
            return KK_EXIT_USAGE;
        } else if (path) {
            fprintf(stderr, "kakeya " SUB ": one FILE expected, got '%s' and '%s'\n", path, a);
            return KK_EXIT_USAGE;
        } else {
            path = a;
        }
    }
    if (!path) {
        fprintf(stderr, "kakeya " SUB ": missing FILE\n");
        help(stderr);
        return KK_EXIT_USAGE;
    }
    kk_err err;
    kk_err_clear(&err);
    gguf_file *f = NULL;
    if (gguf_open(&f, path, &err) != KK_OK)
        return cmd_fail(SUB, &err);
    info in;
    memset(&in, 0, sizeof in);
    in.f = f;
    in.n_vocab = -1;
    gguf_str arch;
    if (gguf_get(f, "general.architecture")) {
        if (gguf_get_str(f, "general.architecture", &arch, &err) != KK_OK) {
            gguf_close(f);
            return cmd_fail(SUB, &err);
        }
        gguf_str_copy(arch, in.arch, sizeof in.arch);
    }
    const gguf_value *tok = gguf_get(f, "tokenizer.ggml.tokens");
    if (tok && tok->type == GGUF_TYPE_ARRAY)
        in.n_vocab = (int64_t)tok->v.arr.n;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        /* Tensors do not overlap (the reader checks), so the sum is at most
         * 32/18 elements per file byte (Q4_0): no overflow. */
        in.n_params += t->n_elements;
        if ((unsigned)t->type <= 30)
            in.params_by_type[t->type] += t->n_elements;
    }
    sha256_hex(f->map.data ? (const void *)f->map.data : (const void *)"", f->map.size, in.sha);
    int rc = KK_EXIT_OK;
    if (json)
        rc = print_json(&in, path);
    else
        print_text(&in, path);
    gguf_close(f);
    return rc;
}
