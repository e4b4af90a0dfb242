/*
 * run_restore: the restoration side of the `restore` kind (a NIAH run whose
 * arms name a cache policy and a restore mode, harness/kind_restore.c).
 * run_niah.c runs the samples; this file owns what only restoration has:
 *
 *   - the arm fields `policy` (kv_policy.h: full, sinkwin:sink=S,window=W,
 *     s5) and `restore` (none, identity, ftheta, mix:A), checked when the
 *     preset loads (a restoring mode needs a sinkwin policy; a `codec`, the
 *     NIAH kinds' field, needs policy full or s5 and restore none);
 *   - the proposer (parameter `proposer`, a model source as `model`'s),
 *     loaded when an arm restores through f_theta, listed in models[] with
 *     role `proposer`;
 *   - f_theta: fitted in the run (parameters rank, lambda, calib,
 *     calib_ctx, heldout, calib_seed: ftheta_calibrate) or read from the
 *     file the parameter `ftheta` names (its recorded model hashes must be
 *     the run's). models[] lists it with role `ftheta`; an in-run fit's
 *     sha256 is the GGUF it would write with fit_s 0 (the clock is in
 *     timings), so the hash is a function of the models, options and seed;
 *   - the per-arm figures (rr_acc): restoration error per layer and by
 *     layer type, the last query's attention mass on restored positions,
 *     the samples whose needle some layer holds exactly, the bytes beside
 *     the verifier's cache, the time in proposer and f_theta.
 *
 * Ownership: run_restore_prepare's state is freed by run_restore_free; an
 * rr_acc by rr_acc_free. Both borrow the run context.
 */
#ifndef KK_RUN_RESTORE_H
#define KK_RUN_RESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include "evidence.h"
#include "ftheta_gguf.h"
#include "kv_policy.h"
#include "kv_restored.h"
#include "niah.h"
#include "run.h"

typedef struct rrestore {
    kv_policy *policy;          /* per arm */
    kv_restore_mode *mode;      /* per arm */
    double *alpha;              /* per arm (mix) */
    bool any_ftheta;
    /* the proposer and maps (when any_ftheta) */
    uint8_t *prop_buf;
    struct gguf_file *prop_file;
    model *prop;
    ftheta *fk, *fv;
    ftheta_meta meta;
    bool fitted;                /* fitted in this run (else read from a file) */
    double fit_s;
} rrestore;

/* Arm-field checks (kind.h's kind_field_spec.check). */
int run_restore_check_policy(const char *val, char *why, size_t cap);
int run_restore_check_mode(const char *val, char *why, size_t cap);
/* Kind check: every arm's restore mode has the policy it needs. */
kk_code run_restore_check_preset(const preset *p, kk_err *err);

/* Parse every arm's fields; load the proposer and fit or read f_theta when
 * an arm needs them; append their models[] entries. */
kk_code run_restore_prepare(run_ctx *rc, const model *verifier, const char *verifier_sha,
                            ev_build *b, cJSON *models, rrestore **out, kk_err *err);
void run_restore_free(rrestore *r);

/* The arm's policy, mode and maps into o. */
void run_restore_arm_opts(const rrestore *r, size_t arm, niah_opts *o);

/* One arm's sums over its samples: the engine's figures (niah.h) and what
 * only the kind reports (timings, bytes beside the cache). */
typedef struct rr_acc {
    niah_restore_figs f;
    const int32_t *layer_window;/* borrowed: per layer, 0 for global */
    size_t bytes_proposer, bytes_scratch, bytes_store;
    double *proposer_s, *ftheta_s; /* (cap) per sample */
    size_t n, cap;
} rr_acc;

kk_code rr_acc_init(run_ctx *rc, rr_acc *a, size_t n_samples, const int32_t *layer_window,
                    kk_err *err);
void rr_acc_add(rr_acc *a, const niah_result *r, int64_t ctx);
void rr_acc_free(rr_acc *a);

/* The arm's figures into the evidence objects (b fails on memory):
 * metrics, timings (full_prefill_s: the median prefill of the run's
 * full-cache arm, 0 when none ran; this arm's median prefill_s), counters,
 * signals.memory, and one sample's fields. */
void rr_put_metrics(const rrestore *r, size_t arm, const rr_acc *a, ev_build *b, cJSON *m);
void rr_put_timings(const rrestore *r, size_t arm, rr_acc *a, double prefill_s,
                    double full_prefill_s, ev_build *b, cJSON *tm);
void rr_put_counters(const rr_acc *a, ev_build *b, cJSON *ct);
void rr_put_memory(const rr_acc *a, ev_build *b, cJSON *mem);
void rr_put_sample(const rr_acc *a, const niah_result *r, ev_build *b, cJSON *o);

#endif /* KK_RUN_RESTORE_H */
