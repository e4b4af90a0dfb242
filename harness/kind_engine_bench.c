/* kind engine_bench: kakeya against llama.cpp on the same generated GGUF
 * files, in one run, repeats interleaved (run_engine_bench.h; the
 * engine-bench preset). Parameters select a subset of the preset's arms so
 * a quick run is possible (`--set types=q8_0 --set threads=1`). */
#include "run_engine_bench.h"
#include "threadpool.h"

static const char *const TYPE_VALUES[] = {"f32", "f16", "q8_0", NULL};
static const char *const ENGINE_VALUES[] = {"kakeya", "llama.cpp", NULL};
static const char *const ISA_VALUES[] = {"best", "scalar", NULL};
static const char *const KV_VALUES[] = {"f16", "f32", NULL};

static const kind_param_spec PARAMS[] = {
    {.name = "model", .type = PRESET_T_STRING, .max_len = 64, .def = "bench:llama134m",
     .help = "bench model: bench:llama134m (134M parameters) or bench:tiny (tests), "
             "generated into ${KAKEYA_CACHE:-~/.cache/kakeya}/bench-models when absent"},
    {.name = "types", .type = PRESET_T_LIST, .of = PRESET_T_ENUM, .values = TYPE_VALUES,
     .max_count = 3, .def = "f32,f16,q8_0",
     .help = "run only the arms of these weight types"},
    {.name = "threads", .type = PRESET_T_LIST, .of = PRESET_T_INT, .imin = 1, .imax = TP_MAX_THREADS,
     .max_count = 8, .def = "1,2", .help = "run only the arms of these thread counts"},
    {.name = "engines", .type = PRESET_T_LIST, .of = PRESET_T_ENUM, .values = ENGINE_VALUES,
     .max_count = 2, .def = "kakeya,llama.cpp", .help = "run only the arms of these engines"},
    {.name = "repeats", .type = PRESET_T_INT, .imin = 5, .imax = 1000, .def = "5",
     .help = "fresh-process measurements per arm (the gate's timing minimum is 5)"},
};
static const kind_field_spec ARM_FIELDS[] = {
    {.key = "engine", .type = PRESET_T_ENUM, .required = 1, .values = ENGINE_VALUES,
     .help = "which engine runs the measurement"},
    {.key = "type", .type = PRESET_T_ENUM, .values = TYPE_VALUES, .def = "q8_0",
     .help = "weight type of the bench model file"},
    {.key = "threads", .type = PRESET_T_INT, .imin = 1, .imax = TP_MAX_THREADS, .def = "1",
     .help = "compute threads of the measured process"},
    {.key = "isa", .type = PRESET_T_ENUM, .values = ISA_VALUES, .def = "best",
     .help = "kakeya's matmul kernels: best (what the CPU has) or scalar (the portable C "
             "loops: a negative control)"},
    {.key = "kv", .type = PRESET_T_ENUM, .values = KV_VALUES, .def = "f16",
     .help = "kakeya's K/V cache: f16 (kv_full_f16, llama.cpp's default cache type, the "
             "like-for-like comparison) or f32 (kv_full, exact)"},
};
static const char *const ROLES[] = {"target", NULL};

const kind_def kind_engine_bench = {
    .name = "engine_bench",
    .help = "speed and peak memory against llama.cpp on the same GGUF files",
    .available = 1,
    .params = PARAMS,
    .n_params = sizeof PARAMS / sizeof PARAMS[0],
    .arm_fields = ARM_FIELDS,
    .n_arm_fields = sizeof ARM_FIELDS / sizeof ARM_FIELDS[0],
    .roles = ROLES,
    .check = run_engine_bench_check,
    .ops = &run_engine_bench_ops,
};
