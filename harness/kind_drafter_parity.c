/* kind drafter_parity: a drafter against its own F32 self in reduced
 * precision, an F16 cache and perturbed weights (teacher-forced agreement,
 * near-tie vs hard mismatches, the first free-running divergence), and
 * cached incremental drafting against drafting from scratch
 * (run_drafter_parity.h; the drafter-parity preset). */
#include "kind_niah_fields.h"
#include "run_drafter_parity.h"

static const char *const VARIANTS[] = {"f32", "f16", "bf16", "q8_0", "kv_f16", "perturbed", NULL};
static const char *const CHECKS[] = {"teacher", "incremental", NULL};
static const char *const BOUNDS[] = {"self", "f16", "bf16", "q8_0", "kv_f16", NULL};

static const kind_param_spec PARAMS[] = {
    {.name = "model", .type = PRESET_T_STRING, .max_len = 4096,
     .def = "fixture:models/stories260K.gguf", .env_ok = 1,
     .help = "the drafter, an F32 GGUF with a tokenizer: fixture:REL, bench:NAME or a path"},
    {.name = "prompts", .type = PRESET_T_INT, .imin = 1, .imax = 8, .def = "8",
     .help = "story openings compared (the first N of eight)"},
    {.name = "n", .type = PRESET_T_INT, .imin = 2, .imax = RUN_DP_MAX_N, .def = "96",
     .help = "tokens generated and compared per prompt"},
    {.name = "perturb", .type = PRESET_T_FLOAT, .fmin = 0.0, .fmax = 10.0, .def = "0.5",
     .help = "the perturbed variant's noise, x each weight row's RMS"},
    KIND_P_SEED("1"),
};
static const kind_field_spec ARM_FIELDS[] = {
    {.key = "variant", .type = PRESET_T_ENUM, .values = VARIANTS, .def = "f32",
     .help = "f32, f16, bf16, q8_0 weights; kv_f16 (F32 weights, F16 cache); perturbed "
             "(F32 plus noise: the negative control)"},
    {.key = "check", .type = PRESET_T_ENUM, .values = CHECKS, .def = "teacher",
     .help = "teacher: agreement with F32 under teacher forcing; incremental: cached "
             "drafting with rollbacks against drafting from scratch"},
    {.key = "bound_from", .type = PRESET_T_ENUM, .values = BOUNDS, .def = "self",
     .help = "whose measured logit error sets the near-tie bound: the variant's own (self) "
             "or a precision's (the perturbed control: mismatches beyond what that "
             "precision's rounding explains are hard)"},
};
static const char *const ROLES[] = {NULL};

const kind_def kind_drafter_parity = {
    .name = "drafter_parity",
    .help = "a drafter against its F32 self: agreement, near-ties, hard mismatches",
    .available = 1,
    .params = PARAMS,
    .n_params = sizeof PARAMS / sizeof PARAMS[0],
    .arm_fields = ARM_FIELDS,
    .n_arm_fields = sizeof ARM_FIELDS / sizeof ARM_FIELDS[0],
    .roles = ROLES,
    .ops = &run_drafter_parity_ops,
};
