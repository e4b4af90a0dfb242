/* gate_cmd: the evidence mode of kakeya-gate (see gate_cmd.h, docs/gate.md). */
#include "gate_cmd.h"

#include <dirent.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gate_check.h"
#include "gate_report.h"
#include "js.h"
#include "json.h"
#include "kk_args.h"
#include "kk_err.h"
#include "kk_file.h"

#define PROG "kakeya-gate"
/* Directory recursion bound: evidence/<preset>/<file> is 2 deep; 64 stops a
 * symlink loop long before PATH_MAX does. */
#define MAX_DIR_DEPTH 64

static void usage(FILE *out)
{
    fputs("usage: kakeya-gate [--presets DIR] [--schema FILE] [--junit FILE] [--json]\n"
          "                   [--md FILE] [--allow-stale] [--allow-dirty] EVIDENCE...\n"
          "       kakeya-gate validate --schema SCHEMA INSTANCE...\n"
          "\n"
          "Checks evidence files (or folders of them, *.json recursively, sorted)\n"
          "against gate/schemas/evidence.schema.json and their preset's gate: block.\n"
          "  --presets DIR   preset folder (default: <repository root>/presets)\n"
          "  --schema FILE   evidence schema (default: <repository root>/gate/schemas/\n"
          "                  evidence.schema.json)\n"
          "  --junit FILE    also write JUnit XML, one testcase per check\n"
          "  --json          print a JSON summary on stdout (check lines go to stderr)\n"
          "  --md FILE       also write a Markdown summary\n"
          "  --allow-stale   do not compare the evidence's preset sha256 with the preset\n"
          "  --allow-dirty   report evidence from a dirty working tree (DIRTY_TREE) as\n"
          "                  a note, not a failure (demos, tests on a working tree)\n"
          "exit: 0 all pass, 1 a threshold, control or rule failed,\n"
          "      2 malformed evidence, schema violation or bad preset, 3 usage\n",
          out);
}

typedef struct file_list {
    char **v;
    size_t n, cap;
} file_list;

static int list_push(file_list *l, const char *p)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(p)))
        return -1;
    l->n++;
    return 0;
}

static void list_free(file_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with_json(const char *s)
{
    size_t n = strlen(s);
    return n > 5 && strcmp(s + n - 5, ".json") == 0;
}

/* Collects *.json below dir. @return 0, -1 on error (err set). */
static int walk(const char *dir, int depth, file_list *out, kk_err *err)
{
    if (depth > MAX_DIR_DEPTH) {
        kk_err_set(err, KK_E_LIMIT, "folders nested deeper than %d (a symlink loop?)",
                   MAX_DIR_DEPTH);
        kk_err_file(err, dir);
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        kk_err_set(err, KK_E_IO, "cannot open folder");
        kk_err_file(err, dir);
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[PATH_MAX];
        int n = snprintf(p, sizeof p, "%s%s%s", dir,
                         dir[strlen(dir) - 1] == '/' ? "" : "/", e->d_name);
        if (n < 0 || (size_t)n >= sizeof p)
            continue;
        struct stat st;
        if (stat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = walk(p, depth + 1, out, err);
        else if (S_ISREG(st.st_mode) && ends_with_json(e->d_name) &&
                 list_push(out, p) != 0) {
            kk_err_set(err, KK_E_NOMEM, "out of memory");
            rc = -1;
        }
    }
    closedir(d);
    return rc;
}

int gate_cmd_check(int argc, char **argv)
{
    setlocale(LC_NUMERIC, "C");
    const char *presets = NULL, *schema_path = NULL, *junit = NULL, *md = NULL;
    int json_out = 0, allow_stale = 0, allow_dirty = 0, opts_done = 0;
    file_list inputs = {0};
    kk_err err;
    kk_err_clear(&err);
    int exit_code = KK_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!opts_done && a[0] == '-' && a[1] != '\0') {
            const char **slot = NULL;
            if (strcmp(a, "--") == 0) {
                opts_done = 1;
                continue;
            } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
                usage(stdout);
                list_free(&inputs);
                return KK_EXIT_OK;
            } else if (strcmp(a, "--json") == 0) {
                json_out = 1;
                continue;
            } else if (strcmp(a, "--allow-stale") == 0) {
                allow_stale = 1;
                continue;
            } else if (strcmp(a, "--allow-dirty") == 0) {
                allow_dirty = 1;
                continue;
            } else if (strcmp(a, "--presets") == 0) {
                slot = &presets;
            } else if (strcmp(a, "--schema") == 0) {
                slot = &schema_path;
            } else if (strcmp(a, "--junit") == 0) {
                slot = &junit;
            } else if (strcmp(a, "--md") == 0) {
                slot = &md;
            } else {
                fprintf(stderr, PROG ": unknown flag %s\n", a);
                usage(stderr);
                list_free(&inputs);
                return KK_EXIT_USAGE;
            }
            const char *v = kk_arg_value(argc, argv, &i, &err);
            if (!v) {
                fprintf(stderr, PROG ": %s needs a value\n", a);
                usage(stderr);
                list_free(&inputs);
                return KK_EXIT_USAGE;
            }
            *slot = v;
            continue;
        }
        if (list_push(&inputs, a) != 0) {
            list_free(&inputs);
            fprintf(stderr, PROG ": out of memory\n");
            return KK_EXIT_INPUT;
        }
    }
    if (inputs.n == 0) {
        fprintf(stderr, PROG ": no evidence files given\n");
        usage(stderr);
        list_free(&inputs);
        return KK_EXIT_USAGE;
    }

    /* Defaults come from the repository root, never the current folder. */
    char root[PATH_MAX], presets_buf[PATH_MAX + 16], schema_buf[PATH_MAX + 48];
    if (!presets || !schema_path) {
        if (kk_repo_root(root, sizeof root, &err) != KK_OK) {
            kk_err_print(stderr, PROG, &err);
            fprintf(stderr, PROG ": pass --presets and --schema explicitly\n");
            list_free(&inputs);
            return KK_EXIT_INPUT;
        }
        snprintf(presets_buf, sizeof presets_buf, "%s/presets", root);
        snprintf(schema_buf, sizeof schema_buf, "%s/gate/schemas/evidence.schema.json",
                 root);
        if (!presets)
            presets = presets_buf;
        if (!schema_path)
            schema_path = schema_buf;
    }

    /* The schema, compiled once. */
    json_doc *sdoc = NULL;
    js_registry *reg = NULL;
    js_schema *schema = NULL;
    gate_ctx *ctx = NULL;
    gate_report rep;
    gate_report_init(&rep);
    file_list files = {0};
    if (json_parse_file(schema_path, NULL, &sdoc, &err) != KK_OK) {
        if (!err.file[0])
            kk_err_file(&err, schema_path);
        kk_err_print(stderr, PROG, &err);
        exit_code = KK_EXIT_INPUT;
        goto done;
    }
    reg = js_registry_init();
    char base[PATH_MAX + 64], absp[PATH_MAX];
    snprintf(base, sizeof base, "file://%s",
             realpath(schema_path, absp) ? absp : schema_path);
    if (!reg || js_compile(json_doc_root(sdoc), base, reg, &schema, &err) != KK_OK) {
        if (!err.file[0])
            kk_err_file(&err, schema_path);
        kk_err_print(stderr, PROG, &err);
        exit_code = KK_EXIT_INPUT;
        goto done;
    }

    /* The files: arguments in order, each folder's *.json sorted. */
    for (size_t i = 0; i < inputs.n; i++) {
        struct stat st;
        if (stat(inputs.v[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            file_list sub = {0};
            kk_err_clear(&err);
            if (walk(inputs.v[i], 0, &sub, &err) != 0) {
                char t[KK_ERR_MSG_MAX + KK_ERR_FILE_MAX + 8];
                snprintf(t, sizeof t, "%s: %s", err.file, err.msg);
                gate_report_add(&rep, inputs.v[i], GATE_FAIL, 2, "FILE", "",
                                "a readable folder", t, NULL);
            }
            qsort(sub.v, sub.n, sizeof *sub.v, cmp_str);
            for (size_t k = 0; k < sub.n; k++)
                if (list_push(&files, sub.v[k]) != 0)
                    rep.nomem = 1;
            list_free(&sub);
        } else if (list_push(&files, inputs.v[i]) != 0) {
            rep.nomem = 1;
        }
    }
    if (files.n == 0 && rep.n == 0)
        gate_report_add(&rep, inputs.v[0], GATE_FAIL, 2, "FILE", "",
                        "at least one *.json evidence file", "none found", NULL);

    gate_opts o = {presets, schema, allow_stale, allow_dirty};
    ctx = gate_ctx_init(&o);
    if (!ctx) {
        fprintf(stderr, PROG ": out of memory\n");
        exit_code = KK_EXIT_INPUT;
        goto done;
    }
    for (size_t i = 0; i < files.n; i++)
        gate_check_file(ctx, files.v[i], &rep);

    gate_report_print_human(json_out ? stderr : stdout, &rep);
    if (json_out)
        gate_report_print_json(stdout, &rep);
    exit_code = gate_report_exit(&rep);
    if (junit && gate_report_write_junit(&rep, junit, &err) != KK_OK) {
        kk_err_print(stderr, PROG, &err);
        exit_code = KK_EXIT_INPUT;
    }
    if (md && gate_report_write_md(&rep, md, &err) != KK_OK) {
        kk_err_print(stderr, PROG, &err);
        exit_code = KK_EXIT_INPUT;
    }
done:
    gate_ctx_free(ctx);
    js_schema_free(schema);
    js_registry_free(reg);
    json_doc_free(sdoc);
    gate_report_free(&rep);
    list_free(&files);
    list_free(&inputs);
    return exit_code;
}
