/* kind kv_quant: codec arms on the KV cache. Per arm: recall with the
 * codec in the cache (lossy injection), rel_mse on the model's captured K
 * and V and on Gaussian data, bits/value from the bytes written, resident
 * KV bytes, the codec's own counters, and with kld_model the KL divergence
 * of a real model's output with the arm's codec cache (run_kld.h). */
#include "kind_niah_fields.h"

static const kind_param_spec PARAMS[] = {
    KIND_P_MODEL("synth:niah?hard=1&n_outliers=4"),
    KIND_P_CTX("1024,2048", 8),
    KIND_P_DEPTHS("0.1,0.5,0.9"),
    KIND_P_SAMPLES("20"),
    KIND_P_SEED("1"),
    KIND_P_DISTRACTORS,
    {.name = "kld_model", .type = PRESET_T_STRING, .max_len = 1024, .env_ok = 1, .def = "",
     .help = "\"\" (no KLD figures), a GGUF path or fixture:REL (under KAKEYA_FIXTURES): "
             "the model whose output each codec arm's cache perturbs"},
    {.name = "kld_text", .type = PRESET_T_STRING, .max_len = 8192, .def = "",
     .help = "the text run through kld_model (its tokenizer, BOS as it asks)"},
    {.name = "kld_ids", .type = PRESET_T_STRING, .max_len = 65536, .def = "",
     .help = "or the ids, comma-separated (a model without a tokenizer)"},
};
static const kind_field_spec ARM_FIELDS[] = {KIND_F_CODEC, KIND_F_CODEC_K, KIND_F_CODEC_V,
                                              KIND_F_CORRUPT, KIND_F_MASK};
static const char *const ROLES[] = {"target", NULL};

const kind_def kind_kv_quant = {
    .name = "kv_quant",
    .help = "K/V codec arms: recall, rel_mse (K, V, Gaussian), bits/value, resident bytes",
    .available = 1,
    .params = PARAMS,
    .n_params = sizeof PARAMS / sizeof PARAMS[0],
    .arm_fields = ARM_FIELDS,
    .n_arm_fields = sizeof ARM_FIELDS / sizeof ARM_FIELDS[0],
    .roles = ROLES,
    .check = run_niah_check_preset,
    .ops = &run_niah_ops,
};
