/* kind restore: NIAH recall through bounded caches whose evicted positions
 * may be restored (run_restore.h): arms name a cache policy and a restore
 * mode; the proposer and f_theta (fitted in the run or read from a file)
 * serve the ftheta and mix arms. Per arm: recall per cell with the bytes
 * the cache held, restoration error per layer, the last query's attention
 * mass on restored positions, the layers that hold the needle exactly. */
#include "kind_niah_fields.h"
#include "run_restore.h"

static const kind_param_spec PARAMS[] = {
    KIND_P_MODEL("synth:niah"),
    {.name = "proposer", .type = PRESET_T_STRING, .max_len = 1024, .env_ok = 1,
     .def = "synth:niah?role=proposer",
     .help = "the proposer's model source (same vocabulary), as `model`"},
    {.name = "ftheta", .type = PRESET_T_STRING, .max_len = 1024, .env_ok = 1, .def = "",
     .help = "an f_theta file (kakeya restore fit) for these models; \"\": fit in the run"},
    {.name = "rank", .type = PRESET_T_INT, .imin = 1, .imax = 8192, .def = "32",
     .help = "in-run fit: the rank of f_theta"},
    {.name = "lambda", .type = PRESET_T_FLOAT, .fmin = 0, .fmax = 1e6, .def = "1e-6",
     .help = "in-run fit: relative ridge"},
    {.name = "calib", .type = PRESET_T_INT, .imin = 1, .imax = 100000, .def = "16",
     .help = "in-run fit: calibration sequences"},
    {.name = "calib_ctx", .type = PRESET_T_INT, .imin = 16, .imax = 65536, .def = "1024",
     .help = "in-run fit: tokens per calibration sequence"},
    {.name = "heldout", .type = PRESET_T_INT, .imin = 1, .imax = 100000, .def = "2",
     .help = "in-run fit: held-out sequences"},
    {.name = "calib_distractors", .type = PRESET_T_INT, .imin = 0, .imax = 63, .def = "32",
     .help = "in-run fit: key-value pairs per calibration sequence (many pairs show the map "
             "every value token)"},
    {.name = "calib_seed", .type = PRESET_T_INT, .imin = 0, .imax = KIND_SEED_MAX, .def = "1",
     .help = "in-run fit: the calibration data's seed"},
    KIND_P_CTX("1024,2048", 8),
    KIND_P_DEPTHS("0.1,0.3,0.5"),
    KIND_P_SAMPLES("20"),
    KIND_P_SEED("1"),
    KIND_P_DISTRACTORS,
};
static const kind_field_spec ARM_FIELDS[] = {
    {.key = "policy", .type = PRESET_T_STRING, .max_len = 128, .def = "full",
     .check = run_restore_check_policy,
     .help = "the cache: full, sinkwin:sink=S,window=W or s5 (kv_policy.h)"},
    {.key = "restore", .type = PRESET_T_STRING, .max_len = 64, .def = "none",
     .check = run_restore_check_mode,
     .help = "none, identity (positive control), ftheta or mix:A (needs a sinkwin policy)"},
    {.key = "codec", .type = PRESET_T_STRING, .max_len = 128, .def = "none",
     .check = run_niah_check_codec,
     .help = "none, or a codec spec for the cache's K and V: with policy full the whole "
             "cache, with s5 its global layers (quantized global K/V)"},
    KIND_F_MASK,
};
static const char *const ROLES[] = {"target", "proposer", "ftheta", NULL};

const kind_def kind_restore = {
    .name = "restore",
    .help = "bounded caches and K/V restoration: recall, restoration error, attention mass",
    .available = 1,
    .params = PARAMS,
    .n_params = sizeof PARAMS / sizeof PARAMS[0],
    .arm_fields = ARM_FIELDS,
    .n_arm_fields = sizeof ARM_FIELDS / sizeof ARM_FIELDS[0],
    .roles = ROLES,
    .check = run_restore_check_preset,
    .ops = &run_niah_ops,
};
