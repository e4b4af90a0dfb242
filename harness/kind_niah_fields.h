/*
 * kind_niah_fields: the parameter and arm schema entries the NIAH-based
 * kinds share (smoke, niah, kv_quant), as macros so each kind's file keeps
 * its own table with its own defaults (kind.h: one file per kind).
 */
#ifndef KK_KIND_NIAH_FIELDS_H
#define KK_KIND_NIAH_FIELDS_H

#include "kind.h"
#include "run_niah.h"

/* 2^53: seeds above it would not survive a JSON reader that uses doubles. */
#define KIND_SEED_MAX 9007199254740992LL

#define KIND_P_MODEL(DEF_)                                                           \
    {.name = "model", .type = PRESET_T_STRING, .max_len = 1024, .env_ok = 1,        \
     .def = (DEF_), .help = "model source: synth:niah?KEY=VAL&... or a GGUF path"}
#define KIND_P_CTX(DEF_, maxc)                                                       \
    {.name = "ctx", .type = PRESET_T_LIST, .of = PRESET_T_INT, .imin = 16,          \
     .imax = 65536, .max_count = (maxc), .def = (DEF_),                              \
     .help = "context lengths in tokens"}
#define KIND_P_DEPTHS(DEF_)                                                          \
    {.name = "depths", .type = PRESET_T_LIST, .of = PRESET_T_FLOAT, .fmin = 0,      \
     .fmax = 1, .max_count = 16, .def = (DEF_),                                      \
     .help = "needle depths (fraction of the body), cycled over a context's samples"}
#define KIND_P_SAMPLES(DEF_)                                                         \
    {.name = "samples", .type = PRESET_T_INT, .imin = 1, .imax = 100000,            \
     .def = (DEF_), .help = "samples per arm and context"}
#define KIND_P_SEED(DEF_)                                                            \
    {.name = "seed", .type = PRESET_T_INT, .imin = 0, .imax = KIND_SEED_MAX,        \
     .def = (DEF_), .help = "run seed (--seed overrides)"}
#define KIND_P_DISTRACTORS                                                          \
    {.name = "distractors", .type = PRESET_T_INT, .imin = -1, .imax = 63,           \
     .def = "-1", .help = "distractor pairs per sample; -1: the model's default"}

#define KIND_F_CODEC                                                                \
    {.key = "codec", .type = PRESET_T_STRING, .max_len = 128, .def = "none",        \
     .check = run_niah_check_codec,                                                 \
     .help = "none (full F32 cache) or a codec spec for K and V"}
/* K's and V's own codecs; "" (the default) means as `codec`; "none" leaves
 * that side in F32 (the identity codec, counted). */
#define KIND_F_CODEC_K                                                              \
    {.key = "codec_k", .type = PRESET_T_STRING, .max_len = 128, .def = "",          \
     .check = run_niah_check_codec_side,                                            \
     .help = "\"\" (as codec), none, or a codec spec for K alone"}
#define KIND_F_CODEC_V                                                              \
    {.key = "codec_v", .type = PRESET_T_STRING, .max_len = 128, .def = "",          \
     .check = run_niah_check_codec_side,                                            \
     .help = "\"\" (as codec), none, or a codec spec for V alone"}
#define KIND_F_CORRUPT                                                              \
    {.key = "corrupt", .type = PRESET_T_BOOL, .def = "false",                       \
     .help = "perturb the codec's codes after encoding (a declared negative control: "\
             "the arm must lose)"}
#define KIND_F_MASK                                                                 \
    {.key = "mask_needle", .type = PRESET_T_BOOL, .def = "false",                   \
     .help = "hide the needle from every layer (negative control)"}

#endif /* KK_KIND_NIAH_FIELDS_H */
