/* rule_provenance: DIRTY_TREE, the evidence rule on where the code that ran
 * came from (see rule_internal.h for what the rules share).
 *
 * `kakeya run` marks provenance.git_dirty when the working tree differed
 * from the commit it names: a modified, staged or untracked (not ignored)
 * file outside evidence/, a binary older than its sources, or git that
 * could not be used (provenance.git_error). Such a file is not evidence of
 * that commit, so the rule fails it; no preset can relax it (the preset is
 * part of the tree it would excuse). `kakeya-gate --allow-dirty` (demos,
 * tests on a working tree) turns the failure into a note. */
#include <stdio.h>
#include <string.h>

#include "rule_internal.h"

/* "N path(s): a, b, ... (and M more)", from git_dirty_paths and
 * git_dirty_paths_total, plus git_error when present. */
static void dirty_text(const json_value *pv, char *buf, size_t cap)
{
    const json_value *paths = json_obj_get(pv, "git_dirty_paths");
    const json_value *err = json_obj_get(pv, "git_error");
    int ok = 0;
    double total = gate_json_num(pv, "git_dirty_paths_total", &ok);
    size_t listed = paths && paths->type == JSON_ARRAY ? paths->u.arr.n : 0;
    size_t n = ok && total >= (double)listed ? (size_t)total : listed;
    size_t at = 0;
#define PUT(...)                                                                   \
    do {                                                                           \
        int w_ = snprintf(buf + at, cap - at, __VA_ARGS__);                        \
        at = w_ < 0 ? at : (size_t)w_ >= cap - at ? cap - 1 : at + (size_t)w_;     \
    } while (0)
    buf[0] = '\0';
    PUT("git_dirty true");
    if (err && err->type == JSON_STRING) {
        char q[200];
        gate_fmt_quoted(err->u.str.s, err->u.str.len, 160, q, sizeof q);
        PUT(", git could not be used: %s", q);
    }
    if (n == 0) {
        if (!err)
            PUT(", no path recorded (a binary older than its sources, or a file "
                "written before git_dirty_paths)");
        return;
    }
    PUT(", %zu path%s: ", n, n == 1 ? "" : "s");
    size_t shown = 0;
    for (; shown < listed && shown < 5 && at + 100 < cap; shown++) {
        const json_value *s = paths->u.arr.items[shown];
        char q[96];
        if (s->type == JSON_STRING)
            gate_fmt_quoted(s->u.str.s, s->u.str.len, 60, q, sizeof q);
        else
            snprintf(q, sizeof q, "(not a string)");
        PUT("%s%s", shown ? ", " : "", q);
    }
    if (n > shown)
        PUT(" (and %zu more)", n - shown);
#undef PUT
}

int gate_rule_dirty_tree(const gate_rule_ctx *ctx, gate_report *rep)
{
    const json_value *pv = json_obj_get(ctx->root, "provenance");
    const json_value *d = json_obj_get(pv, "git_dirty");
    const char *expected = "git_dirty false (the committed code, and nothing else, ran)";
    if (!d || d->type != JSON_TRUE) {
        gate_report_add(rep, ctx->file, GATE_PASS, 1, "DIRTY_TREE", "/provenance/git_dirty",
                        expected, "false", NULL);
        return 1;
    }
    char actual[GATE_RULE_TXT];
    dirty_text(pv, actual, sizeof actual);
    if (ctx->allow_dirty) {
        char note[GATE_RULE_TXT + 64];
        snprintf(note, sizeof note, "%s (allowed by --allow-dirty)", actual);
        gate_report_add(rep, ctx->file, GATE_SKIP, 0, "DIRTY_TREE", "/provenance/git_dirty",
                        NULL, NULL, note);
        return 1;
    }
    gate_rule_fail(ctx, rep, "DIRTY_TREE", "/provenance/git_dirty", expected, actual,
                   "made from a working tree that differs from the commit it names; "
                   "commit and re-run (or --allow-dirty for a demo); cannot be relaxed",
                   NULL);
    return 1;
}
