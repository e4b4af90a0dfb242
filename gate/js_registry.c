/*
 * js_registry: documents by absolute URI, for $ref / $dynamicRef / $schema
 * targets outside the schema being compiled (the suite's remotes under
 * http://localhost:1234/, the 2020-12 meta-schemas).
 *
 * A document is registered under the URI it was given and, when its root
 * has an absolute "$id", under that too: the meta-schemas live in files
 * named schema.json and meta/core.json but are referenced by their $id
 * (https://json-schema.org/draft/2020-12/schema, .../meta/core).
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "js_internal.h"

js_registry *js_registry_init(void)
{
    return calloc(1, sizeof(js_registry));
}

void js_registry_free(js_registry *reg)
{
    if (!reg)
        return;
    js_smap_free(&reg->docs, NULL);
    for (size_t i = 0; i < reg->n_owned; i++)
        json_doc_free(reg->owned[i]);
    free(reg->owned);
    free(reg);
}

const json_value *js_registry_find(const js_registry *reg, const char *uri)
{
    if (!reg)
        return NULL;
    return js_smap_get(&reg->docs, uri);
}

static kk_code put_uri(js_registry *reg, const char *uri, const json_value *doc,
                       kk_err *err)
{
    char *u = js_uri_strip_fragment(uri, NULL);
    if (!u || js_smap_put(&reg->docs, u, (void *)doc) != 0) {
        free(u);
        return kk_err_set(err, KK_E_NOMEM, "registry: out of memory");
    }
    free(u);
    return KK_OK;
}

kk_code js_registry_add(js_registry *reg, const char *uri, const json_value *doc,
                        kk_err *err)
{
    if (!reg || !uri || !doc)
        return kk_err_set(err, KK_E_USAGE, "js_registry_add: NULL argument");
    kk_code rc = put_uri(reg, uri, doc, err);
    if (rc)
        return rc;
    const json_value *id = json_obj_get(doc, "$id");
    if (id && id->type == JSON_STRING && id->u.str.s[0] != '#') {
        char *abs = js_uri_resolve(uri, id->u.str.s);
        if (!abs)
            return kk_err_set(err, KK_E_NOMEM, "registry: out of memory");
        rc = put_uri(reg, abs, doc, err);
        free(abs);
    }
    return rc;
}

static kk_code add_dir_rec(js_registry *reg, const char *base_uri,
                           const char *dir, const char *rel, int depth,
                           kk_err *err)
{
    if (depth > 32)
        return kk_err_set(err, KK_E_LIMIT, "registry: %s nested too deeply", dir);
    char path[4096];
    int np = snprintf(path, sizeof path, "%s%s%s", dir, *rel ? "/" : "", rel);
    if (np < 0 || (size_t)np >= sizeof path)
        return kk_err_set(err, KK_E_LIMIT, "registry: path too long");
    DIR *d = opendir(path);
    if (!d) {
        kk_err_set(err, KK_E_IO, "registry: cannot open folder");
        kk_err_file(err, path);
        return KK_E_IO;
    }
    /* Sorted order is not needed: registration is by name. */
    struct dirent *e;
    kk_code rc = KK_OK;
    while (rc == KK_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sub[2048], full[4096];
        int n1 = snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "",
                          e->d_name);
        int n2 = n1 < 0 || (size_t)n1 >= sizeof sub ? -1
                 : snprintf(full, sizeof full, "%s/%s", dir, sub);
        if (n2 < 0 || (size_t)n2 >= sizeof full) {
            rc = kk_err_set(err, KK_E_LIMIT, "registry: path too long");
            kk_err_file(err, e->d_name);
            break;
        }
        struct stat st;
        if (stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            rc = add_dir_rec(reg, base_uri, dir, sub, depth + 1, err);
            continue;
        }
        size_t nl = strlen(e->d_name);
        if (nl < 5 || strcmp(e->d_name + nl - 5, ".json") != 0)
            continue;
        json_doc *doc = NULL;
        rc = json_parse_file(full, NULL, &doc, err);
        if (rc)
            break;
        if (reg->n_owned == reg->cap_owned) {
            size_t nc = reg->cap_owned ? reg->cap_owned * 2 : 16;
            json_doc **no = realloc(reg->owned, nc * sizeof *no);
            if (!no) {
                json_doc_free(doc);
                rc = kk_err_set(err, KK_E_NOMEM, "registry: out of memory");
                break;
            }
            reg->owned = no;
            reg->cap_owned = nc;
        }
        reg->owned[reg->n_owned++] = doc;
        char uri[4096 + 512];
        snprintf(uri, sizeof uri, "%s%s", base_uri, sub);
        rc = js_registry_add(reg, uri, json_doc_root(doc), err);
    }
    closedir(d);
    return rc;
}

kk_code js_registry_add_dir(js_registry *reg, const char *base_uri,
                            const char *dir, kk_err *err)
{
    if (!reg || !base_uri || !dir)
        return kk_err_set(err, KK_E_USAGE, "js_registry_add_dir: NULL argument");
    return add_dir_rec(reg, base_uri, dir, "", 0, err);
}
