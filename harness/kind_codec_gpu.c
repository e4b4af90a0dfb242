/* kind codec_gpu: codecs on the GPU against the CPU codec of the same
 * spec: byte and float equality, bits/value, rel_mse on N(0,1), device
 * counters, and throughput at two shapes against the copy bandwidth of the
 * same run (run_codec_gpu.h; the codec-gpu preset; docs/gpu.md). Runs only
 * in a `make cuda` build: elsewhere it is listed, its presets validate,
 * and `run` refuses it (exit 2) before writing anything. */
#include "cli_cuda.h"
#include "kind_niah_fields.h"
#include "run_codec_gpu.h"

static const char *const INPUT_VALUES[] = {"bf16", "f32", NULL};
static const char *const DEVICE_VALUES[] = {"cuda", NULL};

static const kind_param_spec PARAMS[] = {
    KIND_P_SEED("1"),
    {.name = "n_check", .type = PRESET_T_INT, .imin = 65536, .imax = (int64_t)1 << 26,
     .def = "1048576",
     .help = "N(0,1) values of the equality check and rel_mse_gaussian (65536 adversarial "
             "values follow them in the check)"},
    {.name = "n_small", .type = PRESET_T_INT, .imin = 16384, .imax = (int64_t)1 << 26,
     .def = "2097152",
     .help = "values of the small timing shape (2048 x 8 x 128: the source project's K/V)"},
    {.name = "n_large", .type = PRESET_T_INT, .imin = 16384, .imax = (int64_t)1 << 28,
     .def = "67108864", .help = "values of the large timing shape (64 Mi)"},
    {.name = "repeats", .type = PRESET_T_INT, .imin = 5, .imax = 200, .def = "20",
     .help = "timed rounds per arm (the gate's timing minimum is 5)"},
    {.name = "input", .type = PRESET_T_ENUM, .values = INPUT_VALUES, .def = "bf16",
     .help = "element type the timing calls read and write (bf16: the source project's K/V)"},
};
static const kind_field_spec ARM_FIELDS[] = {
    {.key = "codec", .type = PRESET_T_STRING, .required = 1, .max_len = 128,
     .check = run_codec_gpu_check_codec,
     .help = "a codec spec with a GPU path: q8_0, q4_0, affine, d4, e8, kl_d4, kl_e8"},
    KIND_F_CORRUPT,
    {.key = "device", .type = PRESET_T_ENUM, .values = DEVICE_VALUES, .def = "cuda",
     .help = "where the codec runs (cuda: device 0)"},
};
static const char *const ROLES[] = {NULL};

const kind_def kind_codec_gpu = {
    .name = "codec_gpu",
    .help = "codecs on the GPU: bytes and floats equal to the CPU's, bits/value, rel_mse, "
            "throughput against the copy bandwidth",
#ifdef KK_CUDA
    .available = 1,
    .ops = &run_codec_gpu_ops,
#else
    .available = 0,
    .unavailable_why = CLI_CUDA_NONE,
    .ops = NULL,
#endif
    .params = PARAMS,
    .n_params = sizeof PARAMS / sizeof PARAMS[0],
    .arm_fields = ARM_FIELDS,
    .n_arm_fields = sizeof ARM_FIELDS / sizeof ARM_FIELDS[0],
    .roles = ROLES,
    .check = NULL,
};
