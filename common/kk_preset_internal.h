/*
 * kk_preset_internal: what kk_preset.c (the file and its top level) and
 * kk_preset_gate.c (the `gate:` block) share. Not a public interface.
 */
#ifndef KK_PRESET_INTERNAL_H
#define KK_PRESET_INTERNAL_H

#include "kk_err.h"
#include "kk_preset.h"
#include "kk_yaml.h"

/* Read the gate block g (any node; a non-map is a located KK_E_TYPE) into
 * p's gate fields, which must be zero except the min_samples and
 * restore_min_mass defaults.
 * On error the fields read so far stay in p for kk_preset_gate_free. */
kk_code kk_preset_gate_parse(const char *file, const kk_yaml_node *g, kk_preset *p,
                             kk_err *err);

/* Free p's gate fields (not p). */
void kk_preset_gate_free(kk_preset *p);

#endif /* KK_PRESET_INTERNAL_H */
