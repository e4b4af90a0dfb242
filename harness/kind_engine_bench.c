/* kind engine_bench: decode speed against llama.cpp. Its runner comes with
 * the performance issue; until then the kind is known (its presets
 * validate) but `kakeya run` refuses it with the reason below. */
#include "kind.h"

static const kind_param_spec PARAMS[] = {
    {.name = "model", .type = PRESET_T_STRING, .max_len = 1024, .env_ok = 1,
     .def = "synth:niah", .help = "model source"},
    {.name = "seed", .type = PRESET_T_INT, .imin = 0, .imax = 9007199254740992LL, .def = "1",
     .help = "run seed"},
};
static const kind_field_spec ARM_FIELDS[] = {
    {.key = "engine", .type = PRESET_T_ENUM, .required = 1,
     .values = (const char *const[]){"kakeya", "llama.cpp", NULL}, .def = "kakeya",
     .help = "which engine decodes"},
};
static const char *const ROLES[] = {"target", NULL};

const kind_def kind_engine_bench = {
    .name = "engine_bench",
    .help = "decode speed against llama.cpp (not available yet)",
    .available = 0,
    .unavailable_why = "engine_bench is built by the performance issue (engine_bench runner, "
                       "llama.cpp driver); this build has no runner for it",
    .params = PARAMS,
    .n_params = sizeof PARAMS / sizeof PARAMS[0],
    .arm_fields = ARM_FIELDS,
    .n_arm_fields = sizeof ARM_FIELDS / sizeof ARM_FIELDS[0],
    .roles = ROLES,
};
