/*
 * ev (evidence): the evidence document of docs/evidence.md, built with
 * cJSON, and its atomic write to evidence/<preset>/<UTC stamp>-<short
 * commit>.json.
 *
 * Numbers: integers that may pass 2^53 (seeds, counters, bytes) are written
 * as exact decimal text (cJSON raw); doubles as cJSON prints them (%1.15g,
 * then %1.17g when that does not read back: round trip). Non-finite doubles
 * are never written (callers skip them).
 *
 * Complete or an error: every member the builders here add is checked. The
 * first that cannot be added (cJSON out of memory, or the evidence-alloc
 * fault of kk_fault.h) fails the whole build with KK_E_NOMEM naming the
 * member (message and where); the builder frees what it made and returns
 * NULL, and ev_write refuses a NULL document. No document ever lacks a
 * member silently.
 *
 * Ownership: ev_document(_build) takes ownership of models, arms and
 * summary (also when it fails, and when one of them is NULL); every cJSON
 * returned is the caller's (cJSON_Delete).
 */
#ifndef KK_EVIDENCE_H
#define KK_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "kk_err.h"
#include "preset.h"

#define EV_SCHEMA_VERSION 1
#define EV_TOOL_VERSION "0.1.0"

/* provenance.git_dirty_paths holds the first EV_DIRTY_PATHS_MAX paths (a
 * reviewer reads a few; a tree with hundreds is dirty whichever they are)
 * and git_dirty_paths_total counts them all. A path longer than
 * EV_DIRTY_PATH_MAX - 1 bytes is cut, ending in "...". */
#define EV_DIRTY_PATHS_MAX 50
#define EV_DIRTY_PATH_MAX 256

/* The GPU a run used (provenance.gpu; a CUDA build's GPU kinds fill it,
 * docs/gpu.md). name "" : no GPU ran and provenance has no gpu. */
typedef struct ev_gpu {
    char name[256];        /* cudaDeviceProp.name: "NVIDIA H100 80GB HBM3" */
    char driver[64];       /* the kernel driver, "580.159.04" (/proc/driver/nvidia/
                              version), else "CUDA " cuda_driver */
    char cuda_driver[16];  /* the CUDA version the driver supports: "13.0" */
    char runtime[16];      /* the CUDA runtime linked in: "13.0" */
    char nvcc[64];         /* the nvcc that compiled the kernels: "13.0.88" */
    char cc[16];           /* compute capability: "9.0" */
    int sms;               /* multiprocessors */
    uint64_t memory_bytes;
} ev_gpu;

typedef struct ev_provenance {
    char git_commit[65];      /* 40 hex; 40 zeros when git could not be used */
    int git_dirty;
    /* What made the tree dirty: `git status` paths (modified, staged,
     * deleted, renamed, and untracked files that are not ignored) outside
     * the repository's evidence/ folder, relative to the repository's top,
     * in git's order. An untracked folder is one entry ending in '/'. */
    char dirty_paths[EV_DIRTY_PATHS_MAX][EV_DIRTY_PATH_MAX];
    size_t n_dirty_paths;     /* all of them; dirty_paths keeps the first */
    /* Why git could not be used ("" when it could): no checkout, no git on
     * PATH, a repository git refuses. Then git_dirty is 1 and git_commit 40
     * zeros (unless HEAD was read before the failure). Written as
     * provenance.git_error; `kakeya run` prints it as a warning. */
    char git_error[512];
    char cpu[256];
    int cores;
    char compiler[256];       /* compiler, version and flags */
    char build[16];           /* release | asan | fuzz */
    char blas[256];
    uint64_t seed;
    int threads, jobs;
    int shard_i, shard_n;     /* shard_n 0: not sharded */
    char started[40], finished[40];
    double wall_s;
    /* The known faults KAKEYA_FAULT switched on (kk_fault.h), comma-
     * separated; "" when none. Written as provenance.faults_injected. */
    char faults[256];
    /* 1 when the running binary is older than a source of the program
     * (ev_binary_stale): then git_dirty is 1 too, since HEAD is not the
     * code that ran. */
    int binary_stale;
    /* The kernel variants that ran (kern_format of kern_current) and where
     * they came from (cli_kernels_source): provenance.kernels,
     * provenance.kernels_source. */
    char kernels[160];
    char kernels_source[16];
    ev_gpu gpu;               /* provenance.gpu when gpu.name is not "" */
} ev_provenance;

/* Fill git, host, compiler, BLAS and fault-injection facts. git runs by
 * argv in `root` (never a shell). The tree is dirty when `git status`
 * lists anything outside evidence/, untracked files included (the Makefile
 * compiles every source it finds, tracked or not), or when the binary is
 * older than its sources (binary_stale). When git cannot be used the tree
 * counts as dirty, git_commit stays 40 zeros and git_error says why. */
void ev_provenance_collect(ev_provenance *pv, const char *root);

/* 1 when a C source or header directly under root/common, engine, compare,
 * bench/lib or harness (what bin/kakeya links; in a `make cuda` build also
 * engine/cuda's .cu, .cuh and .h) was modified after the executable `exe` (its mtime): a binary that
 * `make` has not rebuilt since an edit, whose evidence would otherwise
 * name a commit it does not contain. 0 otherwise, or when exe cannot be
 * read. */
int ev_binary_stale(const char *root, const char *exe);

/* UTC "YYYY-MM-DDTHH:MM:SS.mmmZ" of a wall-clock time. */
void ev_utc_text(const struct timespec *ts, char *buf, size_t cap);

/* The resolved parameters as a JSON object (kind order); NULL when out of
 * memory. */
cJSON *ev_params(const preset *p);

/* One document (or summary, or params object) under construction. Every
 * member goes through ev_put(): the first failure is kept (KK_E_NOMEM naming
 * the member, in err->where too), later puts are skipped, and the builder's
 * owner deletes what it built and returns NULL, so evidence is complete or
 * an error, never a document with a member missing. The evidence-alloc
 * fault (kk_fault.h) fails the Nth put of one build as cJSON fails when
 * memory runs out; each build counts its own puts. */
typedef struct ev_build {
    kk_err *err;  /* may be NULL */
    kk_code code; /* KK_OK until a put fails */
    long n_puts;
    long fail_at; /* kk_fault_nth(evidence-alloc): 0 never */
} ev_build;

/* A build of one document or part of one (an arm's metrics, say). */
void ev_build_init(ev_build *b, kk_err *err);
/* Attach item to parent: as member `key` of an object, or appended to an
 * array (`key` then only names it in the error). Takes ownership of item
 * (NULL: its creation failed), deleting it when it cannot be attached.
 * @return item, or NULL once the build has failed. */
cJSON *ev_put(ev_build *b, cJSON *parent, const char *key, cJSON *item);
/* Integers as exact decimal text (see Numbers above). */
cJSON *ev_put_u64(ev_build *b, cJSON *o, const char *key, uint64_t v);
cJSON *ev_put_i64(ev_build *b, cJSON *o, const char *key, int64_t v);
/* Finite numbers only (a non-finite one is skipped, not an error). */
void ev_put_num(ev_build *b, cJSON *o, const char *key, double v);
cJSON *ev_put_str(ev_build *b, cJSON *o, const char *key, const char *v);
cJSON *ev_put_bool(ev_build *b, cJSON *o, const char *key, int v);
/* A new empty object / array as member key; NULL once the build failed. */
cJSON *ev_put_obj(ev_build *b, cJSON *o, const char *key);
cJSON *ev_put_arr(ev_build *b, cJSON *o, const char *key);
/* The first failure of b (KK_OK when none); deletes *doc and sets it
 * NULL then. */
kk_code ev_build_end(ev_build *b, cJSON **doc);

/* The whole document into *out; takes ownership of models, arms, summary
 * (a NULL one, from a failed build, fails this one naming it). @return
 * KK_OK, or KK_E_NOMEM naming the member that could not be added, with
 * *out NULL. */
kk_code ev_document_build(const preset *p, const ev_provenance *pv, cJSON *models,
                          cJSON *arms, cJSON *summary, cJSON **out, kk_err *err);
/* The same without the error's text: NULL when the build failed. */
cJSON *ev_document(const preset *p, const ev_provenance *pv, cJSON *models,
                   cJSON *arms, cJSON *summary);

/* The scorecard from the arms' metrics alone (so merge recomputes the same
 * one): the reference arm (full cache or identity codec, not masked), per
 * arm KV saved % and recall minus the reference's. @return KK_OK or
 * KK_E_NOMEM as ev_document_build; ev_summary: NULL when it failed. */
kk_code ev_summary_build(const cJSON *arms, cJSON **out, kk_err *err);
cJSON *ev_summary(const cJSON *arms);

/* sha256 of v's canonical JSON form (json_canonical_sha256; docs/evidence.md
 * "Canonical JSON"): an arm's config_sha256, as the gate recomputes it. */
kk_code ev_json_sha256(const cJSON *v, char out[65], kk_err *err);


/* Write doc under dir/<preset>/ as <stamp>-<short commit>.json (a -2, -3
 * ... suffix when that name is taken), by kk_file_write_new: temp file,
 * fsync, an exclusive rename (concurrent runs never share a file), folder
 * fsync.
 * path receives the file's path. A NULL doc (a failed build) is
 * KK_E_NOMEM and writes nothing. */
kk_code ev_write(const char *dir, const char *preset_name, const ev_provenance *pv,
                 const cJSON *doc, char *path, size_t cap, kk_err *err);

/* kk_file_clean_stale(dir, KK_FILE_STALE_AGE_S): this host's temporaries
 * of processes that no longer run (what a killed writer leaves), and any
 * older than a day. @return how many were removed. */
int ev_clean_stale(const char *dir);

#endif /* KK_EVIDENCE_H */
