/*
 * cmd_validate: `kakeya-gate validate --schema SCHEMA [--remote URI=DIR]...
 * [--json] [--quiet] INSTANCE...`
 *
 * Output (stdout): per instance "PASS file" or "FAIL file", then one line
 * per error: "  at INSTANCE_PTR (schema SCHEMA_PTR): expected ..., found
 * ...". --json replaces it with one JSON object (see docs/jsonschema.md);
 * --quiet prints nothing (the exit code says it). Malformed files and an
 * invalid schema are reported on stderr with their location.
 * Exit: 0 all valid, 1 an instance invalid, 2 malformed JSON, an invalid
 * schema, an unreadable file or a schema that hit a work limit, 3 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_validate.h"
#include "js.h"
#include "json.h"
#include "kk_args.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kakeya-gate validate --schema SCHEMA [--remote URI=DIR]... "
            "[--json] [--quiet] INSTANCE...\n"
            "  --schema FILE      the JSON Schema (draft 2020-12)\n"
            "  --remote URI=DIR   resolve $ref under URI from the *.json files "
            "of DIR\n"
            "  --json             print a JSON summary instead of lines\n"
            "  --quiet            print nothing; the exit code says it\n"
            "exit: 0 all valid, 1 an instance invalid, 2 bad input, 3 usage\n");
}

static void print_ptr(FILE *out, const char *p)
{
    fputs(*p ? p : "\"\" (root)", out);
}

static void json_result(FILE *out, int first, const char *file, int valid,
                        const js_result *res, const kk_err *err)
{
    fprintf(out, "%s{\"file\": ", first ? "" : ", ");
    json_write_string(out, file, strlen(file));
    fprintf(out, ", \"status\": \"%s\"",
            valid == 1 ? "pass" : valid == 0 ? "fail" : "error");
    if (valid < 0 && err) {
        fprintf(out, ", \"message\": ");
        json_write_string(out, err->msg, strlen(err->msg));
    }
    fprintf(out, ", \"errors\": [");
    for (size_t i = 0; res && i < res->n_errors; i++) {
        const js_error *e = &res->errors[i];
        fprintf(out, "%s{\"instance\": ", i ? ", " : "");
        json_write_string(out, e->instance_ptr, strlen(e->instance_ptr));
        fprintf(out, ", \"schema\": ");
        json_write_string(out, e->schema_ptr, strlen(e->schema_ptr));
        fprintf(out, ", \"message\": ");
        json_write_string(out, e->message, strlen(e->message));
        fputc('}', out);
    }
    fputs("]}", out);
}

int gate_cmd_validate(int argc, char **argv)
{
    const char *schema_path = NULL;
    int as_json = 0, quiet = 0, n_inst = 0;
    char **inst = calloc((size_t)(argc > 0 ? argc : 1), sizeof *inst);
    const char **remotes = calloc((size_t)(argc > 0 ? argc : 1), sizeof *remotes);
    int n_remotes = 0;
    kk_err err;
    kk_err_clear(&err);
    int rc = KK_EXIT_OK;
    js_registry *reg = NULL;
    json_doc *sdoc = NULL;
    js_schema *schema = NULL;
    if (!inst || !remotes) {
        fprintf(stderr, "kakeya-gate validate: out of memory\n");
        rc = KK_EXIT_INPUT;
        goto done;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--schema") == 0 || strcmp(a, "--remote") == 0) {
            const char *v = kk_arg_value(argc, argv, &i, &err);
            if (!v) {
                kk_err_print(stderr, "kakeya-gate validate", &err);
                usage(stderr);
                rc = KK_EXIT_USAGE;
                goto done;
            }
            if (a[2] == 's')
                schema_path = v;
            else
                remotes[n_remotes++] = v;
        } else if (strcmp(a, "--json") == 0) {
            as_json = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            goto done;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "kakeya-gate validate: unknown flag %s\n", a);
            usage(stderr);
            rc = KK_EXIT_USAGE;
            goto done;
        } else {
            inst[n_inst++] = argv[i];
        }
    }
    if (!schema_path || n_inst == 0) {
        fprintf(stderr, "kakeya-gate validate: %s\n",
                !schema_path ? "--schema is required" : "no INSTANCE given");
        usage(stderr);
        rc = KK_EXIT_USAGE;
        goto done;
    }
    reg = js_registry_init();
    if (!reg) {
        fprintf(stderr, "kakeya-gate validate: out of memory\n");
        rc = KK_EXIT_INPUT;
        goto done;
    }
    for (int i = 0; i < n_remotes; i++) {
        const char *eq = strchr(remotes[i], '=');
        if (!eq || eq == remotes[i] || !eq[1]) {
            fprintf(stderr, "kakeya-gate validate: --remote needs URI=DIR, "
                            "found \"%s\"\n", remotes[i]);
            rc = KK_EXIT_USAGE;
            goto done;
        }
        char uri[2048];
        snprintf(uri, sizeof uri, "%.*s", (int)(eq - remotes[i]), remotes[i]);
        if (js_registry_add_dir(reg, uri, eq + 1, &err) != KK_OK) {
            kk_err_print(stderr, "kakeya-gate validate", &err);
            rc = KK_EXIT_INPUT;
            goto done;
        }
    }
    if (json_parse_file(schema_path, NULL, &sdoc, &err) != KK_OK ||
        js_compile(json_doc_root(sdoc), "", reg, &schema, &err) != KK_OK) {
        if (!err.file[0])
            kk_err_file(&err, schema_path);
        kk_err_print(stderr, "kakeya-gate validate: invalid schema", &err);
        rc = KK_EXIT_INPUT;
        goto done;
    }
    if (as_json && !quiet) {
        printf("{\"schema\": ");
        json_write_string(stdout, schema_path, strlen(schema_path));
        printf(", \"results\": [");
    }
    int n_pass = 0, n_fail = 0, n_bad = 0;
    for (int i = 0; i < n_inst; i++) {
        json_doc *doc = NULL;
        js_result res = {0, NULL};
        kk_err ierr;
        kk_err_clear(&ierr);
        int v = -1;
        if (json_parse_file(inst[i], NULL, &doc, &ierr) == KK_OK)
            v = js_validate(schema, json_doc_root(doc), quiet ? NULL : &res,
                            &ierr);
        if (v < 0) {
            if (!ierr.file[0])
                kk_err_file(&ierr, inst[i]);
            kk_err_print(stderr, "kakeya-gate validate", &ierr);
            n_bad++;
        } else if (v) {
            n_pass++;
        } else {
            n_fail++;
        }
        if (quiet) {
        } else if (as_json) {
            json_result(stdout, i == 0, inst[i], v, &res, &ierr);
        } else {
            printf("%s %s\n", v == 1 ? "PASS" : v == 0 ? "FAIL" : "ERROR",
                   inst[i]);
            for (size_t k = 0; k < res.n_errors; k++) {
                printf("  at ");
                print_ptr(stdout, res.errors[k].instance_ptr);
                printf(" (schema %s): %s\n",
                       *res.errors[k].schema_ptr ? res.errors[k].schema_ptr : "#",
                       res.errors[k].message);
            }
        }
        fflush(stdout);
        js_result_free(&res);
        json_doc_free(doc);
    }
    if (as_json && !quiet)
        printf("], \"pass\": %d, \"fail\": %d, \"error\": %d}\n", n_pass, n_fail,
               n_bad);
    else if (!quiet)
        printf("%d valid, %d invalid, %d errors\n", n_pass, n_fail, n_bad);
    rc = n_bad ? KK_EXIT_INPUT : n_fail ? KK_EXIT_FAIL : KK_EXIT_OK;
done:
    js_schema_free(schema);
    json_doc_free(sdoc);
    js_registry_free(reg);
    free(inst);
    free(remotes);
    return rc;
}
