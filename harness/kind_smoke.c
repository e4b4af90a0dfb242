/* kind smoke: the first thing a user runs. A small NIAH on a synthetic
 * model through a full cache, one codec arm and a needle-masked negative
 * control; seconds on one core. */
#include "kind_niah_fields.h"

static const kind_param_spec PARAMS[] = {
    KIND_P_MODEL("synth:niah"),
    KIND_P_CTX("256", 4),
    KIND_P_DEPTHS("0.1,0.5,0.9"),
    KIND_P_SAMPLES("21"),
    KIND_P_SEED("1"),
    KIND_P_DISTRACTORS,
};
static const kind_field_spec ARM_FIELDS[] = {KIND_F_CODEC, KIND_F_MASK};
static const char *const ROLES[] = {"target", NULL};

const kind_def kind_smoke = {
    .name = "smoke",
    .help = "NIAH on a synthetic model: full cache, a codec arm, a needle-masked control",
    .available = 1,
    .params = PARAMS,
    .n_params = sizeof PARAMS / sizeof PARAMS[0],
    .arm_fields = ARM_FIELDS,
    .n_arm_fields = sizeof ARM_FIELDS / sizeof ARM_FIELDS[0],
    .roles = ROLES,
    .check = run_niah_check_preset,
    .ops = &run_niah_ops,
};
