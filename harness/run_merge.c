/* run_merge: shard evidence read strictly, checked and joined into one
 * file; the merged file checked by kakeya-gate validate (run_merge.h). */
#include "run_merge.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evidence.h"
#include "json.h"
#include "kk_file.h"
#include "kk_preset.h"

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

/* A shard field that is not what `kakeya run` writes: KK_E_RANGE naming
 * the file and the field. */
static kk_code bad_field(kk_err *err, const char *file, const char *field, const char *allowed)
{
    kk_err_set(err, KK_E_RANGE, "%s is not what kakeya run writes; allowed: %s", field, allowed);
    kk_err_file(err, file);
    return kk_err_where(err, field);
}

static int is_hex(const json_value *v, size_t len)
{
    if (!v || v->type != JSON_STRING || v->u.str.len != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!strchr("0123456789abcdef", v->u.str.s[i]) || !v->u.str.s[i])
            return 0;
    return 1;
}

static int is_name(const json_value *v)
{
    return v && v->type == JSON_STRING && strlen(v->u.str.s) == v->u.str.len &&
           kk_preset_name_ok(v->u.str.s);
}

/* One shard read strictly (json.h, duplicate member names refused) and the
 * fields merge relies on checked; then parsed again with cJSON, which the
 * merged document is built with (the strict parse proved there is nothing
 * cJSON could read differently: no duplicates, valid JSON). *n_arms gets
 * the shard's arm count. */
static kk_code read_shard(const char *file, cJSON **out, size_t *n_arms, kk_err *err)
{
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    json_doc *jd = NULL;
    json_parse_opts opts = {.no_duplicates = 1};
    kk_code code = kk_file_read_all(file, &buf, &len, err);
    if (code == KK_OK)
        code = json_parse(buf, len, file, &opts, &jd, err);
    if (code != KK_OK) {
        free(buf);
        return code;
    }
    const json_value *r = json_doc_root(jd);
    const json_value *sv = json_obj_get(r, "schema_version");
    const json_value *pr = json_obj_get(r, "preset");
    const json_value *pv = json_obj_get(r, "provenance");
    const json_value *arms = json_obj_get(r, "arms");
    char allowed[64];
    snprintf(allowed, sizeof allowed, "%d (this kakeya's evidence)", EV_SCHEMA_VERSION);
    if (!sv || sv->type != JSON_NUMBER || json_num_cmp_double(sv, EV_SCHEMA_VERSION) != 0)
        code = bad_field(err, file, "schema_version", allowed);
    else if (!is_name(json_obj_get(pr, "name")))
        code = bad_field(err, file, "preset.name", "a plain file stem of letters, digits and "
                         "_ . + - (kk_preset_name_ok)");
    else if (!is_hex(json_obj_get(pr, "sha256"), 64))
        code = bad_field(err, file, "preset.sha256", "64 lowercase hex digits");
    else if (!is_hex(json_obj_get(pv, "git_commit"), 40))
        code = bad_field(err, file, "provenance.git_commit", "40 lowercase hex digits");
    else if (!arms || arms->type != JSON_ARRAY || arms->u.arr.n == 0)
        code = bad_field(err, file, "arms", "a list of at least one arm");
    for (size_t a = 0; code == KK_OK && a < arms->u.arr.n; a++)
        if (!is_name(json_obj_get(arms->u.arr.items[a], "name"))) {
            char where[48];
            snprintf(where, sizeof where, "arms[%zu].name", a);
            code = bad_field(err, file, where, "a plain arm name (kk_preset_name_ok)");
        }
    if (code == KK_OK) {
        *n_arms = arms->u.arr.n;
        *out = cJSON_ParseWithLength(buf, len);
        if (!*out)
            code = kk_err_set(err, KK_E_NOMEM, "out of memory reading %s", file);
    }
    json_doc_free(jd);
    free(buf);
    return code;
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
    size_t arms_of[256] = {0};
    const char *file_of[256] = {0};
    int count = 0;
    if (!docs)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    kk_code code = KK_OK;
    for (size_t i = 0; i < n && code == KK_OK; i++) {
        size_t n_arms = 0;
        code = read_shard(files[i], &docs[i], &n_arms, err);
        if (code != KK_OK)
            break;
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
            arms_of[si - 1] = n_arms;
            file_of[si - 1] = files[i];
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
    /* Shard s of N holds the arms with index % N == s: with T arms in all,
     * (T - s + N - 1) / N of them. Arm names are unique in the merged run. */
    size_t total = 0;
    for (int s = 0; code == KK_OK && s < count; s++)
        total += arms_of[s];
    for (int s = 0; code == KK_OK && s < count; s++) {
        size_t want = (total - (size_t)s + (size_t)count - 1) / (size_t)count;
        if (arms_of[s] != want) {
            char allowed[96];
            snprintf(allowed, sizeof allowed, "%zu arms (shard %d/%d of %zu arms in all), found "
                     "%zu", want, s + 1, count, total, arms_of[s]);
            code = bad_field(err, file_of[s], "arms", allowed);
        }
    }
    for (size_t k = 0; code == KK_OK && k < total; k++) {
        const cJSON *a = cJSON_GetArrayItem(get(shard_of[k % (size_t)count], "arms"),
                                            (int)(k / (size_t)count));
        const char *nm = cJSON_GetStringValue(get(a, "name"));
        for (size_t j = 0; code == KK_OK && j < k; j++) {
            const cJSON *b = cJSON_GetArrayItem(get(shard_of[j % (size_t)count], "arms"),
                                                (int)(j / (size_t)count));
            if (!strcmp(nm, cJSON_GetStringValue(get(b, "name")))) {
                kk_err_set(err, KK_E_DUPLICATE, "arm \"%s\" is also in %s; allowed: each arm "
                           "name once in the merged run", nm, file_of[j % (size_t)count]);
                kk_err_file(err, file_of[k % (size_t)count]);
                code = kk_err_where(err, "arms[].name");
            }
        }
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
    /* What made any shard's tree dirty, likewise: the union of the listed
     * paths in shard order (at most EV_DIRTY_PATHS_MAX), the largest total,
     * the first shard's git_error. */
    cJSON *paths = cJSON_CreateArray();
    double paths_total = 0;
    int has_paths = 0;
    const cJSON *git_error = NULL;
    for (int s = 0; s < count && paths; s++) {
        const cJSON *v = get(shard_of[s], "provenance");
        const cJSON *f;
        cJSON_ArrayForEach(f, get(v, "git_dirty_paths")) {
            has_paths = 1;
            int seen = !cJSON_IsString(f);
            const cJSON *g;
            cJSON_ArrayForEach(g, paths) seen |= !strcmp(g->valuestring, f->valuestring);
            if (!seen && cJSON_GetArraySize(paths) < EV_DIRTY_PATHS_MAX)
                ev_put_str(&eb, paths, "git_dirty_paths[]", f->valuestring);
        }
        const double t = cJSON_GetNumberValue(get(v, "git_dirty_paths_total"));
        paths_total = t > paths_total ? t : paths_total;
        if (!git_error && cJSON_IsString(get(v, "git_error")))
            git_error = get(v, "git_error");
    }
    if (has_paths) {
        if ((double)cJSON_GetArraySize(paths) > paths_total)
            paths_total = (double)cJSON_GetArraySize(paths);
        set_member(&eb, pv, "git_dirty_paths", paths);
        set_member(&eb, pv, "git_dirty_paths_total", cJSON_CreateNumber(paths_total));
    } else {
        cJSON_Delete(paths);
    }
    if (git_error)
        set_member(&eb, pv, "git_error", cJSON_CreateString(git_error->valuestring));
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

/* ---- the gate's check of the merged file ------------------------------------------------ */

kk_code run_merge_gate_path(char *buf, size_t cap, kk_err *err)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return kk_err_set(err, KK_E_IO, "cannot find this program's path (/proc/self/exe): %s",
                          strerror(errno));
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    if ((size_t)snprintf(buf, cap, "%s/kakeya-gate", self) >= cap)
        return kk_err_set(err, KK_E_RANGE, "path of kakeya-gate too long");
    return KK_OK;
}

kk_code run_merge_validate(const cJSON *doc, kk_err *err)
{
    char gate[PATH_MAX + 16], root[PATH_MAX], schema[PATH_MAX + 64];
    KK_TRY(run_merge_gate_path(gate, sizeof gate, err));
    if (access(gate, X_OK) != 0) {
        kk_err_set(err, KK_E_MISSING, "no kakeya-gate beside this kakeya (expected %s: %s); "
                   "merge checks the merged file with it; allowed: build both (make)", gate,
                   strerror(errno));
        return kk_err_file(err, gate);
    }
    KK_TRY(kk_repo_root(root, sizeof root, err));
    snprintf(schema, sizeof schema, "%s/gate/schemas/evidence.schema.json", root);
    char *text = cJSON_Print(doc);
    if (!text)
        return kk_err_set(err, KK_E_NOMEM, "out of memory printing the merged evidence");
    const char *dir = getenv("TMPDIR");
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/kakeya-merge-XXXXXX", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemp(tmp);
    size_t len = strlen(text), done = 0;
    while (fd >= 0 && done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    cJSON_free(text);
    if (fd < 0 || done < len) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        kk_err_set(err, KK_E_IO, "cannot write the merged evidence for its check: %s",
                   strerror(e));
        return kk_err_file(err, tmp);
    }
    close(fd);
    /* The gate's report (stdout) goes to our stderr: stdout is the path. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(2, 1);
        execl(gate, gate, "validate", "--schema", schema, tmp, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    unlink(tmp);
    if (pid < 0)
        return kk_err_set(err, KK_E_IO, "cannot start %s: %s", gate, strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        kk_err_set(err, KK_E_FORMAT, "the merged evidence fails `kakeya-gate validate --schema "
                   "%s` (its report above; exit %d); nothing written", schema,
                   WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        return kk_err_where(err, "merged evidence");
    }
    return KK_OK;
fail:
    return err->code;
}
