/*
 * preset_internal: what preset.c (the file's structure) and preset_value.c
 * (typed values, --set) share. Not a public interface.
 */
#ifndef KK_PRESET_INTERNAL_H
#define KK_PRESET_INTERNAL_H

#include <stddef.h>

#include "kk_yaml.h"
#include "kind.h"
#include "preset.h"

/* Parse one element of base type t (not LIST) under bounds b from text s
 * (class cls) into v at index idx. @return KK_OK, or KK_E_TYPE/KK_E_RANGE
 * with `why` = "found X; allowed: Y". */
kk_code preset_elem_parse(const preset_bounds *b, preset_type t, const char *s,
                          size_t len, kk_yaml_sclass cls, preset_value *v,
                          size_t idx, char *why, size_t cap);
/* Grow v to n elements of base type t (zeroed). @return 0, -1 on ENOMEM. */
int preset_value_alloc(preset_value *v, preset_type t, size_t n);
void preset_value_free(preset_value *v);

/* Check the ${...} in s: only ${ENV:VAR} with VAR in env[0..n_env).
 * @return 0 ok, else nonzero with why filled. */
int preset_check_placeholders(const char *s, size_t len, char *const *env,
                              size_t n_env, char *why, size_t cap);

/* Bounds of a kind parameter (the hard limits). */
void preset_bounds_from_spec(const kind_param_spec *s, preset_bounds *b);
/* Bounds of an arm field (a scalar). */
void preset_bounds_from_field(const kind_field_spec *f, preset_bounds *b);

#endif /* KK_PRESET_INTERNAL_H */
