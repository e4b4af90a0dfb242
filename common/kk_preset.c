/* kk_preset: a preset file and its top level (kk_preset.h has the grammar);
 * the `gate:` block is read in kk_preset_gate.c. */
#include "kk_preset.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kk_preset_internal.h"
#include "kk_yaml.h"
#include "sha256.h"

typedef struct pctx {
    const char *file;
    kk_err *err;
} pctx;

/* ---- errors and typed reads ------------------------------------------------- */

/* A located error at node n of the file being read (kk_yaml_err). */
#define perr(c, ...) kk_yaml_err((c)->err, (c)->file, __VA_ARGS__)


static kk_code need_map(const pctx *c, const kk_yaml_node *n, const char *where)
{
    if (n->kind == KK_YAML_MAP)
        return KK_OK;
    char f[80];
    kk_yaml_found(n, f, sizeof f);
    return perr(c, n, where, KK_E_TYPE, "found %s; allowed: a map", f);
}

/* Every key of map m must be in allowed (NULL-terminated). */
static kk_code check_keys(const pctx *c, const kk_yaml_node *m, const char *where,
                          const char *const *allowed)
{
    for (size_t i = 0; i < m->n; i++) {
        const kk_yaml_node *k = m->keys[i];
        int ok = 0;
        for (size_t a = 0; allowed[a]; a++)
            ok |= strlen(allowed[a]) == k->len && !memcmp(k->str, allowed[a], k->len);
        if (!ok) {
            char list[400], q[80];
            size_t o = 0;
            list[0] = '\0';
            for (size_t a = 0; allowed[a] && o + 1 < sizeof list; a++)
                o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", a ? ", " : "",
                                      allowed[a]);
            kk_yaml_quote(k->str, k->len, q, sizeof q);
            return perr(c, k, where, KK_E_RANGE, "unknown key %s in %s; allowed: %s", q,
                        where[0] ? where : "the preset", list);
        }
    }
    return KK_OK;
}

/* A string scalar (KK_YAML_SC_STRING), 1..maxlen bytes without NUL. */
static kk_code get_string(const pctx *c, const kk_yaml_node *n, const char *where,
                          size_t maxlen, char **out)
{
    char q[80];
    kk_yaml_found(n, q, sizeof q);
    if (n->kind != KK_YAML_SCALAR)
        return perr(c, n, where, KK_E_TYPE, "found %s; allowed: a scalar", q);
    if (kk_yaml_node_class(n) != KK_YAML_SC_STRING)
        return perr(c, n, where, KK_E_TYPE, "found %s (not text unquoted); allowed: a string "
                    "(quote it to mean text)", q);
    if (n->len == 0 || n->len > maxlen || memchr(n->str, 0, n->len))
        return perr(c, n, where, KK_E_RANGE, "found %s (%zu bytes); allowed: a string of "
                    "1..%zu bytes", q, n->len, maxlen);
    *out = strdup(n->str);
    if (!*out)
        return perr(c, n, where, KK_E_NOMEM, "out of memory");
    return KK_OK;
}

int kk_preset_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > KK_PRESET_NAME_MAX_LEN || !(isalnum((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || strchr("._+-", s[i])))
            return 0;
    return 1;
}

/* ---- the file ------------------------------------------------------------------ */

void kk_preset_free(kk_preset *p)
{
    if (!p)
        return;
    kk_preset_gate_free(p);
    kk_yaml_doc_free(p->doc);
    free(p->file);
    free(p->name);
    free(p->kind);
    free(p->description);
    free(p);
}

/* name, kind and (FULL) description, in that order. */
static kk_code parse_top(const pctx *c, const kk_yaml_node *root, const char *expect_name,
                         unsigned flags, kk_preset *p)
{
    const kk_yaml_node *n = kk_yaml_get(root, "name");
    KK_TRY(get_string(c, n, "name", KK_PRESET_NAME_MAX_LEN, &p->name));
    if (!kk_preset_name_ok(p->name) || (expect_name && strcmp(p->name, expect_name) != 0))
        return perr(c, n, "name", KK_E_RANGE, "found \"%s\"; allowed: \"%s\" (a preset's name "
                    "is its file name)", p->name, expect_name ? expect_name : "a plain name");
    n = kk_yaml_get(root, "kind");
    KK_TRY(get_string(c, n, "kind", KK_PRESET_NAME_MAX_LEN, &p->kind));
    if (!kk_preset_name_ok(p->kind))
        return perr(c, n, "kind", KK_E_RANGE, "found \"%s\"; allowed: a name of letters, digits "
                    "and _ . + - (not starting with . + -)", p->kind);
    if (flags & KK_PRESET_FULL)
        KK_TRY(get_string(c, kk_yaml_get(root, "description"), "description",
                          KK_PRESET_DESC_MAX_LEN, &p->description));
    return KK_OK;
fail:
    return c->err ? c->err->code : KK_E_FORMAT;
}

kk_code kk_preset_parse(const char *buf, size_t len, const char *file,
                        const char *expect_name, unsigned flags, kk_preset **out,
                        kk_err *err)
{
    static const char *const top[] = {"name", "kind", "description", "params", "models",
                                      "arms", "gate", NULL};
    static const char *const req_full[] = {"name", "kind", "description", "arms", "gate", NULL};
    static const char *const req_gate[] = {"name", "kind", "gate", NULL};
    const char *const *req = flags & KK_PRESET_FULL ? req_full : req_gate;
    const char *req_text = flags & KK_PRESET_FULL ? "name, kind, description, arms, gate"
                                                  : "name, kind, gate";
    pctx c = {file, err};
    *out = NULL;
    kk_err_clear(err);
    kk_preset *p = calloc(1, sizeof *p);
    if (!p)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    p->min_samples_recall = KK_PRESET_MIN_SAMPLES_RECALL_DEFAULT;
    p->restore_min_mass = KK_PRESET_RESTORE_MIN_MASS_DEFAULT;
    p->min_samples_timing = KK_PRESET_MIN_SAMPLES_TIMING_DEFAULT;
    p->file = strdup(file ? file : "");
    if (!p->file) {
        free(p);
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    }
    sha256_hex((const uint8_t *)buf, len, p->sha256);
    KK_TRY(kk_yaml_parse(buf, len, file, &p->doc, err));
    const kk_yaml_node *root = p->doc->root;
    if (!root) {
        perr(&c, NULL, "", KK_E_MISSING, "empty preset; required: %s", req_text);
        goto fail;
    }
    p->root = root;
    KK_TRY(need_map(&c, root, ""));
    if (flags & KK_PRESET_FULL)
        KK_TRY(check_keys(&c, root, "", top));
    for (size_t i = 0; req[i]; i++)
        if (!kk_yaml_get(root, req[i])) {
            perr(&c, root, "", KK_E_MISSING, "missing key '%s'; required: %s", req[i], req_text);
            goto fail;
        }
    KK_TRY(parse_top(&c, root, expect_name, flags, p));
    p->params = kk_yaml_get(root, "params");
    p->models = kk_yaml_get(root, "models");
    p->arms = kk_yaml_get(root, "arms");
    KK_TRY(kk_preset_gate_parse(file, kk_yaml_get(root, "gate"), p, err));
    *out = p;
    return KK_OK;
fail:
    kk_preset_free(p);
    if (err && err->code == KK_OK)
        kk_err_set(err, KK_E_INTERNAL, "preset parse failed without a message");
    return err ? err->code : KK_E_FORMAT;
}

kk_code kk_preset_path_check(const char *presets_dir, const char *path, kk_err *err)
{
    char dir_real[PATH_MAX], file_real[PATH_MAX];
    struct stat st;
    if (lstat(path, &st) != 0 || !realpath(presets_dir, dir_real))
        return KK_OK; /* absent: the read says so */
    if (!realpath(path, file_real)) {
        kk_err_set(err, KK_E_RANGE, "is a symlink that does not resolve (%s); allowed: a file "
                   "in the presets folder %s or a symlink to one", strerror(errno), dir_real);
        kk_err_file(err, path);
        return KK_E_RANGE;
    }
    size_t n = strlen(dir_real);
    if (strncmp(file_real, dir_real, n) != 0 || (file_real[n] != '/' && dir_real[n - 1] != '/')) {
        kk_err_set(err, KK_E_RANGE, "is %s that leaves the presets folder %s; allowed: a file "
                   "in it or a symlink to one", S_ISLNK(st.st_mode) ? "a symlink" : "a path",
                   dir_real);
        kk_err_file(err, path);
        return KK_E_RANGE;
    }
    return KK_OK;
}

kk_code kk_preset_load(const char *presets_dir, const char *name, unsigned flags,
                       kk_preset **out, kk_err *err)
{
    *out = NULL;
    if (!kk_preset_name_ok(name))
        return kk_err_set(err, KK_E_RANGE,
                          "preset name \"%.64s\" is not a plain file stem "
                          "(letters, digits, _ - . +)", name);
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s.yaml", presets_dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return kk_err_set(err, KK_E_RANGE, "presets path too long");
    char *buf = NULL;
    size_t len = 0;
    kk_code rc = kk_preset_path_check(presets_dir, path, err);
    if (rc != KK_OK)
        return rc;
    rc = kk_yaml_read_file(path, &buf, &len, err);
    if (rc != KK_OK)
        return rc;
    rc = kk_preset_parse(buf, len, path, name, flags, out, err);
    free(buf);
    return rc;
}
