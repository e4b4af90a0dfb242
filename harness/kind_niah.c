/* kind niah: recall per context and depth on a synthetic model, with a
 * full (or codec) cache per arm; per-cell recall in the arm's metrics. */
#include "kind_niah_fields.h"

static const kind_param_spec PARAMS[] = {
    KIND_P_MODEL("synth:niah"),
    KIND_P_CTX("1024,4096,8192", 8),
    KIND_P_DEPTHS("0.1,0.5,0.9"),
    KIND_P_SAMPLES("30"),
    KIND_P_SEED("1"),
    KIND_P_DISTRACTORS,
};
static const kind_field_spec ARM_FIELDS[] = {KIND_F_CODEC, KIND_F_CODEC_K, KIND_F_CODEC_V,
                                              KIND_F_CORRUPT, KIND_F_MASK};
static const char *const ROLES[] = {"target", NULL};

const kind_def kind_niah = {
    .name = "niah",
    .help = "needle-in-a-haystack recall per context and depth",
    .available = 1,
    .params = PARAMS,
    .n_params = sizeof PARAMS / sizeof PARAMS[0],
    .arm_fields = ARM_FIELDS,
    .n_arm_fields = sizeof ARM_FIELDS / sizeof ARM_FIELDS[0],
    .roles = ROLES,
    .check = run_niah_check_preset,
    .ops = &run_niah_ops,
};
