/* run_merge: shard evidence joined into one file (run_merge.h). */
#include "run_merge.h"

#include <stdlib.h>
#include <string.h>

#include "evidence.h"
#include "kk_file.h"

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static int same(const cJSON *a, const cJSON *b)
{
    return a && b && cJSON_Compare(a, b, 1);
}

static kk_code refuse(kk_err *err, const char *file, const char *what, const char *first)
{
    kk_err_set(err, KK_E_RANGE, "%s differs from %s's; shards of one run must share preset, "
               "parameters, seed, commit and shard count", what, first);
    kk_err_file(err, file);
    return kk_err_where(err, what);
}

/* Replace o's member key with item (or add it): through b, so a failure
 * (item NULL, no o) fails the build. Takes ownership of item. */
static void set_member(ev_build *b, cJSON *o, const char *key, cJSON *item)
{
    if (b->code == KK_OK && o && item && cJSON_GetObjectItemCaseSensitive(o, key)) {
        if (!cJSON_ReplaceItemInObjectCaseSensitive(o, key, item)) {
            cJSON_Delete(item);
            ev_put(b, NULL, key, NULL);
        }
        return;
    }
    ev_put(b, o, key, item);
}

kk_code run_merge(const char *const *files, size_t n, cJSON **out, kk_err *err)
{
    *out = NULL;
    cJSON **docs = calloc(n ? n : 1, sizeof *docs);
    cJSON *shard_of[256] = {0};
    int count = 0;
    if (!docs)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    kk_code code = KK_OK;
    for (size_t i = 0; i < n && code == KK_OK; i++) {
        char *buf = NULL;
        size_t len = 0;
        code = kk_file_read_all(files[i], &buf, &len, err);
        if (code != KK_OK)
            break;
        docs[i] = cJSON_ParseWithLength(buf, len);
        free(buf);
        const cJSON *pv = docs[i] ? get(docs[i], "provenance") : NULL;
        const cJSON *sh = get(pv, "shard");
        int si = (int)cJSON_GetNumberValue(get(sh, "index"));
        int sn = (int)cJSON_GetNumberValue(get(sh, "count"));
        if (!docs[i] || !pv || !sh || sn < 1 || sn > 256 || si < 1 || si > sn) {
            kk_err_set(err, KK_E_FORMAT, "not the evidence of a sharded run (no provenance.shard "
                       "{index, count}); allowed: files written by kakeya run --shard I/N");
            kk_err_file(err, files[i]);
            code = KK_E_FORMAT;
            break;
        }
        if (i == 0)
            count = sn;
        const cJSON *p0 = get(docs[0], "preset"), *p1 = get(docs[i], "preset");
        const cJSON *v0 = get(docs[0], "provenance");
        if (!same(p0, p1))
            code = refuse(err, files[i], "preset", files[0]);
        else if (!same(get(v0, "seed"), get(pv, "seed")))
            code = refuse(err, files[i], "provenance.seed", files[0]);
        else if (!same(get(v0, "git_commit"), get(pv, "git_commit")))
            code = refuse(err, files[i], "provenance.git_commit", files[0]);
        else if (sn != count)
            code = refuse(err, files[i], "provenance.shard.count", files[0]);
        else if (shard_of[si - 1]) {
            kk_err_set(err, KK_E_DUPLICATE, "shard %d/%d given twice", si, sn);
            kk_err_file(err, files[i]);
            code = KK_E_DUPLICATE;
        } else {
            shard_of[si - 1] = docs[i];
        }
    }
    if (code == KK_OK && n == 0)
        code = kk_err_set(err, KK_E_MISSING, "no evidence files to merge");
    for (int s = 0; code == KK_OK && s < count; s++)
        if (!shard_of[s]) {
            kk_err_set(err, KK_E_MISSING, "shard %d/%d is missing; give every shard's file", s + 1,
                       count);
            code = KK_E_MISSING;
        }
    if (code != KK_OK) {
        for (size_t i = 0; i < n; i++)
            cJSON_Delete(docs[i]);
        free(docs);
        return code;
    }
    /* Arms back in preset order: arm k of the full run is the (k / N)-th
     * arm of shard k % N. Every member is checked (ev_build): the merged
     * file is whole or an error. */
    ev_build eb;
    ev_build_init(&eb, err);
    cJSON *d = cJSON_Duplicate(shard_of[0], 1);
    cJSON *arms = cJSON_CreateArray();
    for (size_t k = 0; arms; k++) {
        const cJSON *sa = get(shard_of[k % (size_t)count], "arms");
        cJSON *a = cJSON_GetArrayItem(sa, (int)(k / (size_t)count));
        if (!a)
            break;
        ev_put(&eb, arms, "arms[]", cJSON_Duplicate(a, 1));
    }
    cJSON *summary = NULL;
    if (arms && eb.code == KK_OK && ev_summary_build(arms, &summary, err) != KK_OK)
        eb.code = err ? err->code : KK_E_NOMEM;
    set_member(&eb, d, "arms", arms);
    set_member(&eb, d, "summary", summary);
    cJSON *pv = cJSON_GetObjectItemCaseSensitive(d, "provenance");
    double wall = 0, jobs = 0;
    const char *start = NULL, *fin = NULL;
    int dirty = 0;
    for (int s = 0; s < count; s++) {
        const cJSON *v = get(shard_of[s], "provenance");
        wall += cJSON_GetNumberValue(get(v, "wall_s"));
        double j = cJSON_GetNumberValue(get(v, "jobs"));
        jobs = j > jobs ? j : jobs;
        const char *a = cJSON_GetStringValue(get(v, "started"));
        const char *b = cJSON_GetStringValue(get(v, "finished"));
        if (a && (!start || strcmp(a, start) < 0))
            start = a;
        if (b && (!fin || strcmp(b, fin) > 0))
            fin = b;
        dirty |= cJSON_IsTrue(get(v, "git_dirty"));
    }
    set_member(&eb, pv, "wall_s", cJSON_CreateNumber(wall));
    set_member(&eb, pv, "jobs", cJSON_CreateNumber(jobs));
    set_member(&eb, pv, "git_dirty", cJSON_CreateBool(dirty));
    if (start)
        set_member(&eb, pv, "started", cJSON_CreateString(start));
    if (fin)
        set_member(&eb, pv, "finished", cJSON_CreateString(fin));
    /* A fault injected into any shard marks the merged file (the union, in
     * shard order): merging must never wash a fault out of provenance. */
    cJSON *faults = cJSON_CreateArray();
    for (int s = 0; s < count && faults; s++) {
        const cJSON *f;
        cJSON_ArrayForEach(f, get(get(shard_of[s], "provenance"), "faults_injected")) {
            int seen = !cJSON_IsString(f);
            const cJSON *g;
            cJSON_ArrayForEach(g, faults) seen |= !strcmp(g->valuestring, f->valuestring);
            if (!seen)
                ev_put_str(&eb, faults, "faults_injected[]", f->valuestring);
        }
    }
    set_member(&eb, pv, "faults_injected", faults);
    cJSON_DeleteItemFromObjectCaseSensitive(pv, "shard");
    cJSON *from = ev_put_arr(&eb, pv, "merged_from");
    for (size_t i = 0; i < n; i++)
        ev_put_str(&eb, from, "merged_from[]", files[i]);
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(docs[i]);
    free(docs);
    if (ev_build_end(&eb, &d) != KK_OK)
        return eb.code;
    *out = d;
    return KK_OK;
}
