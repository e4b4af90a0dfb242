/* gate_check: see gate_check.h. */
#include "gate_check.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate_eval.h"
#include "kk_git.h"
#include "kk_preset.h"
#include "gate_rules.h"
#include "json.h"
#include "rule_internal.h"
#include "sha256.h"

/* Schema violations listed per file; the rest are counted in one line. */
#define MAX_SCHEMA_ERRORS 20

/* What the gate knows about one preset name, computed once. */
typedef struct preset_entry {
    char *name;
    kk_preset *preset;     /* NULL when it failed to load */
    kk_err load_err;
    int in_checkout;         /* presets_dir is inside a git checkout */
    int head_state;          /* 1 HEAD has it (head_sha set), 0 not committed,
                                -1 git could not answer (head_err) */
    char head_sha[65];
    kk_err head_err;
} preset_entry;

struct gate_ctx {
    gate_opts opts;
    preset_entry *presets;
    size_t n_presets, cap_presets;
};

gate_ctx *gate_ctx_init(const gate_opts *opts)
{
    gate_ctx *c = calloc(1, sizeof *c);
    if (c)
        c->opts = *opts;
    return c;
}

void gate_ctx_free(gate_ctx *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_presets; i++) {
        free(c->presets[i].name);
        kk_preset_free(c->presets[i].preset);
    }
    free(c->presets);
    free(c);
}

void gate_ptr_append(char *buf, size_t cap, const char *token)
{
    size_t at = strlen(buf);
    if (at + 1 >= cap)
        return;
    buf[at++] = '/';
    for (const char *s = token; *s && at + 2 < cap; s++) {
        if (*s == '~' || *s == '/') {
            buf[at++] = '~';
            buf[at++] = *s == '~' ? '0' : '1';
        } else {
            buf[at++] = *s;
        }
    }
    buf[at] = '\0';
}

static void err_text(const kk_err *e, char *buf, size_t cap)
{
    char where[KK_ERR_WHERE_MAX + 8] = "";
    if (e->where[0])
        snprintf(where, sizeof where, "at %s: ", e->where);
    if (e->file[0] && e->line > 0)
        snprintf(buf, cap, "%s:%d:%d: %s%s", e->file, e->line, e->col, where, e->msg);
    else if (e->file[0] && e->offset >= 0)
        snprintf(buf, cap, "%s: offset %lld: %s%s", e->file, (long long)e->offset,
                 where, e->msg);
    else if (e->file[0])
        snprintf(buf, cap, "%s: %s%s", e->file, where, e->msg);
    else
        snprintf(buf, cap, "%s%s", where, e->msg);
}

/* ---- presets and their staleness facts ------------------------------------ */

static preset_entry *preset_get(gate_ctx *c, const char *name)
{
    for (size_t i = 0; i < c->n_presets; i++)
        if (strcmp(c->presets[i].name, name) == 0)
            return &c->presets[i];
    if (c->n_presets == c->cap_presets) {
        size_t cap = c->cap_presets ? c->cap_presets * 2 : 4;
        preset_entry *np = realloc(c->presets, cap * sizeof *np);
        if (!np)
            return NULL;
        c->presets = np;
        c->cap_presets = cap;
    }
    preset_entry *e = &c->presets[c->n_presets];
    memset(e, 0, sizeof *e);
    e->name = strdup(name);
    if (!e->name)
        return NULL;
    c->n_presets++;
    kk_err_clear(&e->load_err);
    kk_err_clear(&e->head_err);
    if (kk_preset_load(c->opts.presets_dir, name, 0, &e->preset, &e->load_err) != KK_OK)
        return e;
    e->in_checkout = kk_git_in_checkout(c->opts.presets_dir);
    if (e->in_checkout && !c->opts.allow_stale) {
        char rel[PATH_MAX];
        snprintf(rel, sizeof rel, "%s.yaml", name);
        char *blob = NULL;
        size_t len = 0;
        kk_code rc = kk_git_blob_at_head(c->opts.presets_dir, rel, &blob, &len,
                                           &e->head_err);
        if (rc == KK_OK) {
            e->head_state = 1;
            sha256_hex(blob, len, e->head_sha);
        } else {
            e->head_state = rc == KK_E_MISSING ? 0 : -1;
        }
        free(blob);
    }
    return e;
}

static const char *str_at(const json_value *root, const char *a, const char *b)
{
    const json_value *v = json_obj_get(json_obj_get(root, a), b);
    return v && v->type == JSON_STRING ? v->u.str.s : "";
}

static void check_stale(gate_ctx *c, const char *file, const json_value *root,
                        const preset_entry *e, gate_report *rep)
{
    const char *ev_sha = str_at(root, "preset", "sha256");
    const char *path = e->preset->file;
    char expected[PATH_MAX + 160], actual[PATH_MAX + 160];
    if (c->opts.allow_stale) {
        gate_report_add(rep, file, GATE_SKIP, 0, "STALE_PRESET", "/preset/sha256",
                        NULL, NULL, "not checked (--allow-stale)");
    } else if (!e->in_checkout) {
        snprintf(expected, sizeof expected, "sha256 of %s = %s", path,
                 e->preset->sha256);
        int same = strcmp(ev_sha, e->preset->sha256) == 0;
        gate_report_add(rep, file, same ? GATE_PASS : GATE_FAIL, 1, "STALE_PRESET",
                        "/preset/sha256", expected, ev_sha,
                        same ? "the presets folder is not in a git checkout: "
                               "compared with the file as it is"
                             : "the evidence was made with another version of "
                               "the preset; re-run it (or --allow-stale)");
    } else if (e->head_state < 0) {
        char t[KK_ERR_MSG_MAX + 300];
        err_text(&e->head_err, t, sizeof t);
        gate_report_add(rep, file, GATE_FAIL, 2, "STALE_PRESET", "/preset/sha256",
                        "the preset's blob at HEAD", t, NULL);
    } else if (e->head_state == 0) {
        snprintf(actual, sizeof actual, "%s is not committed at HEAD", path);
        gate_report_add(rep, file, GATE_FAIL, 1, "STALE_PRESET", "/preset/sha256",
                        "the preset committed at HEAD", actual,
                        "commit the preset (or --allow-stale)");
    } else if (strcmp(ev_sha, e->head_sha) != 0) {
        snprintf(expected, sizeof expected, "sha256 of %s at HEAD = %s", path,
                 e->head_sha);
        gate_report_add(rep, file, GATE_FAIL, 1, "STALE_PRESET", "/preset/sha256",
                        expected, ev_sha,
                        "the evidence was made with another version of the "
                        "preset; re-run it (or --allow-stale)");
    } else if (strcmp(e->preset->sha256, e->head_sha) != 0) {
        snprintf(expected, sizeof expected, "%s as committed at HEAD (%s)", path,
                 e->head_sha);
        snprintf(actual, sizeof actual, "the working file differs (sha256 %s): "
                 "uncommitted edits", e->preset->sha256);
        gate_report_add(rep, file, GATE_FAIL, 1, "STALE_PRESET", "/preset/sha256",
                        expected, actual,
                        "the gate reads thresholds from the working file; "
                        "commit or revert the edits (or --allow-stale)");
    } else {
        snprintf(expected, sizeof expected, "sha256 of %s at HEAD = %s", path,
                 e->head_sha);
        gate_report_add(rep, file, GATE_PASS, 1, "STALE_PRESET", "/preset/sha256",
                        expected, ev_sha, NULL);
    }
}

static void check_commit(gate_ctx *c, const char *file, const json_value *root,
                         const preset_entry *e, gate_report *rep)
{
    const char *commit = str_at(root, "provenance", "git_commit");
    if (!e->in_checkout) {
        gate_report_add(rep, file, GATE_SKIP, 0, "UNKNOWN_COMMIT",
                        "/provenance/git_commit", NULL, NULL,
                        "not checked: the presets folder is not in a git "
                        "checkout");
        return;
    }
    kk_err err;
    kk_err_clear(&err);
    int r = kk_git_commit_exists(c->opts.presets_dir, commit, &err);
    if (r < 0) {
        char t[KK_ERR_MSG_MAX + 300];
        err_text(&err, t, sizeof t);
        gate_report_add(rep, file, GATE_FAIL, 2, "UNKNOWN_COMMIT",
                        "/provenance/git_commit", "a commit git can look up", t,
                        NULL);
        return;
    }
    gate_report_add(rep, file, r ? GATE_PASS : GATE_FAIL, 1, "UNKNOWN_COMMIT",
                    "/provenance/git_commit",
                    "a commit in this repository's history", commit,
                    r ? NULL
                      : "no such commit here (rewritten history, another "
                        "repository, or a shallow clone)");
}

/* FAULT_INJECTED: `kakeya run` records the faults KAKEYA_FAULT switched on
 * (common/kk_fault.h) in provenance.faults_injected. Such a file was made
 * with a component broken on purpose, to prove the rules bite; it is never
 * evidence. Not a rule but a provenance check like UNKNOWN_COMMIT, so no
 * preset can relax it (a relaxed SILENT_FALLBACK would otherwise admit it).
 * Absent (older files) or empty passes. */
static void check_faults(const char *file, const json_value *root, gate_report *rep)
{
    const json_value *f = json_obj_get(json_obj_get(root, "provenance"), "faults_injected");
    const char *expected = "no fault injection (KAKEYA_FAULT unset when it ran)";
    if (!f || f->type != JSON_ARRAY || f->u.arr.n == 0) {
        gate_report_add(rep, file, GATE_PASS, 1, "FAULT_INJECTED", "/provenance",
                        expected, f ? "[]" : "none recorded", NULL);
        return;
    }
    char actual[600];
    size_t at = 0;
    for (size_t k = 0; k < f->u.arr.n && at + 100 < sizeof actual; k++) {
        const json_value *s = f->u.arr.items[k];
        char q[96];
        if (s->type == JSON_STRING)
            gate_fmt_quoted(s->u.str.s, s->u.str.len, 60, q, sizeof q);
        else
            snprintf(q, sizeof q, "(not a string)");
        at += (size_t)snprintf(actual + at, sizeof actual - at, "%s%s", k ? ", " : "", q);
    }
    gate_report_add(rep, file, GATE_FAIL, 1, "FAULT_INJECTED", "/provenance/faults_injected",
                    expected, actual,
                    "made with a component broken on purpose (a test of the rules), "
                    "never evidence; cannot be relaxed");
}

/* ---- rules ------------------------------------------------------------------ */

/* Runs the rules of one phase. @return 0 when a RAW rule ended the file. */
static int run_rules(gate_rule_phase phase, const char *file,
                     const json_value *root, const kk_preset *preset,
                     int allow_dirty, gate_report *rep)
{
    for (size_t i = 0; i < gate_rules_count(); i++) {
        const gate_rule *r = gate_rules_at(i);
        if (r->phase != phase || !r->check)
            continue;
        const kk_preset_relax *rx = preset && r->relaxable
                                   ? kk_preset_relax_find(preset, r->code)
                                   : NULL;
        gate_rule_ctx rc = {file, root, preset, rx != NULL,
                            rx ? rx->reason : NULL, allow_dirty};
        size_t before = rep->n;
        int go_on = r->check(&rc, rep);
        for (size_t k = before; k < rep->n; k++) {
            gate_check *ck = &rep->checks[k];
            char *note = NULL;
            if (!ck->note[0] && ck->status == GATE_FAIL && !rx)
                note = strdup(r->reason);
            if (rx && ck->status == GATE_FAIL) {
                ck->status = GATE_RELAXED;
                ck->severity = 0;
                note = strdup(rx->reason);
            }
            if (note) {
                free(ck->note);
                ck->note = note;
            }
        }
        if (!go_on)
            return 0;
    }
    return 1;
}

/* ---- one file --------------------------------------------------------------- */

static int arms_unique(const char *file, const json_value *root, gate_report *rep)
{
    const json_value *arms = json_obj_get(root, "arms");
    if (!arms || arms->type != JSON_ARRAY)
        return 1;
    for (size_t i = 0; i < arms->u.arr.n; i++) {
        const json_value *a = json_obj_get(arms->u.arr.items[i], "name");
        for (size_t j = 0; a && a->type == JSON_STRING && j < i; j++) {
            const json_value *b = json_obj_get(arms->u.arr.items[j], "name");
            if (b && b->type == JSON_STRING && a->u.str.len == b->u.str.len &&
                memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0) {
                char ptr[64], actual[256];
                snprintf(ptr, sizeof ptr, "/arms/%zu/name", i);
                snprintf(actual, sizeof actual, "\"%.100s\" also at /arms/%zu/name",
                         a->u.str.s, j);
                gate_report_add(rep, file, GATE_FAIL, 2, "ARM_NAMES", ptr,
                                "unique arm names", actual, NULL);
                return 0;
            }
        }
    }
    return 1;
}

static int schema_ok(gate_ctx *c, const char *file, const json_value *root,
                     gate_report *rep)
{
    js_result res = {0, NULL};
    kk_err err;
    kk_err_clear(&err);
    int v = js_validate(c->opts.schema, root, &res, &err);
    if (v < 0) {
        char t[KK_ERR_MSG_MAX + 300];
        err_text(&err, t, sizeof t);
        gate_report_add(rep, file, GATE_FAIL, 2, "SCHEMA", err.where,
                        "a document the validator can finish", t, NULL);
    } else if (v == 0) {
        size_t shown = res.n_errors < MAX_SCHEMA_ERRORS ? res.n_errors : MAX_SCHEMA_ERRORS;
        for (size_t i = 0; i < shown; i++) {
            char note[600];
            snprintf(note, sizeof note, "schema %.500s", res.errors[i].schema_ptr);
            gate_report_add(rep, file, GATE_FAIL, 2, "SCHEMA",
                            res.errors[i].instance_ptr, NULL,
                            res.errors[i].message, note);
        }
        if (res.n_errors > shown) {
            char more[96];
            snprintf(more, sizeof more, "%zu more schema violations not listed",
                     res.n_errors - shown);
            gate_report_add(rep, file, GATE_FAIL, 2, "SCHEMA", "", NULL, more, NULL);
        }
        if (res.n_errors == 0)
            gate_report_add(rep, file, GATE_FAIL, 2, "SCHEMA", "", NULL,
                            "invalid (no detail from the validator)", NULL);
    } else {
        gate_report_add(rep, file, GATE_PASS, 2, "SCHEMA", "",
                        "valid against evidence.schema.json", "valid", NULL);
    }
    js_result_free(&res);
    return v == 1;
}

void gate_check_doc(gate_ctx *c, const char *file, const json_value *root,
                    gate_report *rep)
{
    /* 1. schema_version first: LEGACY_SCHEMA alone judges an older file. */
    if (!run_rules(GATE_RULE_RAW, file, root, NULL, c->opts.allow_dirty, rep))
        return;
    const json_value *ver = json_obj_get(root, "schema_version");
    if (ver && ver->type == JSON_NUMBER && ver->u.num.is_int &&
        json_num_cmp_double(ver, (double)GATE_SCHEMA_VERSION) > 0) {
        char actual[64];
        snprintf(actual, sizeof actual, "%.*s", (int)(ver->u.num.len > 40 ? 40 : ver->u.num.len),
                 ver->u.num.text);
        gate_report_add(rep, file, GATE_FAIL, 2, "SCHEMA_VERSION", "/schema_version",
                        "schema_version <= 1 (this gate's)", actual,
                        "written by a newer harness: update the gate");
        return;
    }
    /* 2. the evidence schema. */
    if (!schema_ok(c, file, root, rep))
        return;
    if (!arms_unique(file, root, rep))
        return;
    /* 3. the preset. */
    const char *name = str_at(root, "preset", "name");
    preset_entry *e = preset_get(c, name);
    if (!e) {
        gate_report_add(rep, file, GATE_FAIL, 2, "PRESET", "/preset/name", NULL,
                        "out of memory", NULL);
        return;
    }
    if (!e->preset) {
        char t[KK_ERR_MSG_MAX + 300], expected[PATH_MAX + 64];
        err_text(&e->load_err, t, sizeof t);
        snprintf(expected, sizeof expected, "a well-formed %s/%s.yaml",
                 c->opts.presets_dir, name);
        gate_report_add(rep, file, GATE_FAIL, 2, "PRESET", "/preset/name", expected,
                        t, NULL);
        return;
    }
    const kk_preset *p = e->preset;
    const char *kind = str_at(root, "preset", "kind");
    char expected[256];
    snprintf(expected, sizeof expected, "kind \"%.100s\" (as in %.100s)", p->kind,
             p->file);
    gate_report_add(rep, file, strcmp(kind, p->kind) == 0 ? GATE_PASS : GATE_FAIL, 1,
                    "PRESET_KIND", "/preset/kind", expected, kind, NULL);
    /* 4. staleness. */
    check_stale(c, file, root, e, rep);
    check_commit(c, file, root, e, rep);
    check_faults(file, root, rep);
    /* 5. thresholds and controls. */
    for (size_t i = 0; i < p->n_thresholds; i++) {
        char id[48], where[64];
        snprintf(id, sizeof id, "THRESHOLD[%zu]", i);
        snprintf(where, sizeof where, "gate.thresholds[%zu]", i);
        gate_eval_cond(file, root, p, &p->thresholds[i], GATE_ROLE_THRESHOLD, id,
                       where, rep);
    }
    if (p->has_positive)
        gate_eval_cond(file, root, p, &p->positive, GATE_ROLE_POSITIVE,
                       "CONTROL_POSITIVE", "gate.controls.positive", rep);
    for (size_t i = 0; i < p->n_negative; i++) {
        char w[48];
        if (p->n_negative > 1)
            snprintf(w, sizeof w, "gate.controls.negative[%zu]", i);
        else
            snprintf(w, sizeof w, "gate.controls.negative");
        gate_eval_cond(file, root, p, &p->negative[i], GATE_ROLE_NEGATIVE, "CONTROL_NEGATIVE", w,
                       rep);
    }
    /* 6. rules, with the preset's relax entries printed with their reasons. */
    run_rules(GATE_RULE_EVIDENCE, file, root, p, c->opts.allow_dirty, rep);
    for (size_t i = 0; i < p->n_relax; i++) {
        char note[1200];
        snprintf(note, sizeof note, "relaxed by %s:%d: %s", p->file,
                 p->relax[i].line, p->relax[i].reason);
        gate_report_add(rep, file, GATE_SKIP, 0, p->relax[i].rule, "", NULL, NULL,
                        note);
    }
}

void gate_check_file(gate_ctx *c, const char *path, gate_report *rep)
{
    json_doc *doc = NULL;
    kk_err err;
    kk_err_clear(&err);
    if (json_parse_file(path, NULL, &doc, &err) != KK_OK) {
        char t[KK_ERR_MSG_MAX + 300];
        if (!err.file[0])
            kk_err_file(&err, path);
        err_text(&err, t, sizeof t);
        gate_report_add(rep, path, GATE_FAIL, 2, "JSON", "",
                        "a readable RFC 8259 JSON document", t, NULL);
        return;
    }
    gate_check_doc(c, path, json_doc_root(doc), rep);
    json_doc_free(doc);
}
