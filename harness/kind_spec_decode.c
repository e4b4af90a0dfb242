/* kind spec_decode: speculative decoding against plain greedy decoding,
 * output compared token for token, speed from fresh processes
 * (run_spec_decode.h; the spec-decode preset). */
#include "run_spec_decode.h"
#include "kind_niah_fields.h"
#include "threadpool.h"

static const char *const WORKLOADS[] = {"copy", "copy134m", "stories-natural",
                                        "stories-repetitive", NULL};
static const char *const WEIGHTS[] = {"f32", "q8_0", NULL};
static const char *const STOPS[] = {"natural", "forced", NULL};
static const char *const VERIFY[] = {"invariant", "default", NULL};
static const char *const KV[] = {"f32", "f16", NULL};

static const kind_param_spec PARAMS[] = {
    {.name = "workloads", .type = PRESET_T_LIST, .of = PRESET_T_ENUM, .values = WORKLOADS,
     .max_count = 4, .def = "copy,copy134m,stories-natural,stories-repetitive",
     .help = "run only the arms of these workloads"},
    {.name = "repeats", .type = PRESET_T_INT, .imin = 5, .imax = 1000, .def = "5",
     .help = "fresh-process measurements per arm (the gate's timing minimum is 5)"},
    KIND_P_SEED("1"),
};
static const kind_field_spec ARM_FIELDS[] = {
    {.key = "workload", .type = PRESET_T_ENUM, .values = WORKLOADS, .def = "copy",
     .help = "the model and prompt (docs/speculative.md)"},
    {.key = "weights", .type = PRESET_T_ENUM, .values = WEIGHTS, .def = "f32",
     .help = "weight type of the workload's model file"},
    {.key = "drafter", .type = PRESET_T_STRING, .max_len = 4200, .def = "none",
     .check = run_spec_decode_drafter_ok,
     .help = "none (the autoregressive arm), ngram[:n=N,max=M], random[:seed=S], "
             "model:SOURCE (bench:NAME[-TYPE], fixture:REL or a path), skip:K"},
    {.key = "block", .type = PRESET_T_INT, .imin = 1, .imax = 64, .def = "8",
     .help = "tokens per verify call (the last emitted one and up to block - 1 drafts)"},
    {.key = "n", .type = PRESET_T_INT, .imin = 2, .imax = RUN_SD_MAX_N, .def = "128",
     .help = "tokens to generate"},
    {.key = "stop", .type = PRESET_T_ENUM, .values = STOPS, .def = "natural",
     .help = "natural: stop at the end-of-text token; forced: generate n tokens past it"},
    {.key = "verify", .type = PRESET_T_ENUM, .values = VERIFY, .def = "invariant",
     .help = "invariant: batch-invariant verification (lossless); default: the batch "
             "kernels (mismatches measured, a speed claim refused by LOSSLESS)"},
    {.key = "kv", .type = PRESET_T_ENUM, .values = KV, .def = "f32",
     .help = "the K/V cache of the verifier and the drafter"},
    {.key = "threads", .type = PRESET_T_INT, .imin = 1, .imax = TP_MAX_THREADS, .def = "1",
     .help = "compute threads of the measured process"},
};
static const char *const ROLES[] = {NULL};

const kind_def kind_spec_decode = {
    .name = "spec_decode",
    .help = "speculative decoding: tau, acceptance, output equal to greedy decoding, speed-up",
    .available = 1,
    .params = PARAMS,
    .n_params = sizeof PARAMS / sizeof PARAMS[0],
    .arm_fields = ARM_FIELDS,
    .n_arm_fields = sizeof ARM_FIELDS / sizeof ARM_FIELDS[0],
    .roles = ROLES,
    .check = run_spec_decode_check,
    .ops = &run_spec_decode_ops,
};
