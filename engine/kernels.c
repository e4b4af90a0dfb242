/* kernels: see kernels.h. */
#include "kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kern_choice g_choice = {KERN_F16_ROW4, 12288, 8192, 16384, KERN_HINT_NTA, 1};

void kern_defaults(kern_choice *c)
{
    *c = (kern_choice){KERN_F16_ROW4, 12288, 8192, 16384, KERN_HINT_NTA, 1};
}
const kern_choice *kern_current(void) { return &g_choice; }
void kern_set(const kern_choice *c) { g_choice = *c; }

int kern_rounding_differs(const kern_choice *a, const kern_choice *b)
{
    return a->f16_gemv != b->f16_gemv;
}

int kern_format(const kern_choice *c, char *buf, size_t cap)
{
    return snprintf(buf, cap, "f16_gemv=%s,pf_f32=%d,pf_f16=%d,pf_q8=%d,hint=%s,q8_rows=%d",
                    c->f16_gemv == KERN_F16_TILE1 ? "tile1" : "row4", (int)c->pf_f32,
                    (int)c->pf_f16, (int)c->pf_q8, c->hint == KERN_HINT_T0 ? "t0" : "nta",
                    (int)c->q8_rows);
}

static kk_code bad(kk_err *err, kk_code code, const char *fmt, const char *a, const char *b)
{
    kk_err_set(err, code, fmt, a, b);
    return kk_err_where(err, "kernels");
}

kk_code kern_parse(const char *spec, kern_choice *out, kk_err *err)
{
    kern_choice c;
    kern_defaults(&c);
    char buf[256];
    if (strlen(spec) >= sizeof buf)
        return bad(err, KK_E_FORMAT, "kernels spec '%.40s%s...' is too long (at most 255 "
                   "characters)", spec, "");
    snprintf(buf, sizeof buf, "%s", spec);
    if (strcmp(buf, "default") != 0) {
        if (!buf[0])
            return bad(err, KK_E_FORMAT, "kernels spec is empty%s%s (allowed: default or "
                       "key=value,...)", "", "");
        for (char *save = NULL, *f = strtok_r(buf, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(f, '=');
            if (!eq)
                return bad(err, KK_E_FORMAT, "kernels: field '%s' is not key=value%s (keys: "
                           "f16_gemv, pf_f32, pf_f16, pf_q8, hint, q8_rows)", f, "");
            *eq = '\0';
            const char *v = eq + 1;
            if (!strcmp(f, "f16_gemv")) {
                if (!strcmp(v, "row4"))
                    c.f16_gemv = KERN_F16_ROW4;
                else if (!strcmp(v, "tile1"))
                    c.f16_gemv = KERN_F16_TILE1;
                else
                    return bad(err, KK_E_RANGE, "kernels: f16_gemv='%s' is not allowed%s "
                               "(allowed: row4, tile1)", v, "");
            } else if (!strcmp(f, "hint")) {
                if (!strcmp(v, "nta"))
                    c.hint = KERN_HINT_NTA;
                else if (!strcmp(v, "t0"))
                    c.hint = KERN_HINT_T0;
                else
                    return bad(err, KK_E_RANGE, "kernels: hint='%s' is not allowed%s (allowed: "
                               "nta, t0)", v, "");
            } else if (!strcmp(f, "q8_rows")) {
                if (!strcmp(v, "1") || !strcmp(v, "4"))
                    c.q8_rows = v[0] - '0';
                else
                    return bad(err, KK_E_RANGE, "kernels: q8_rows='%s' is not allowed%s "
                               "(allowed: 1, 4)", v, "");
            } else if (!strcmp(f, "pf_f32") || !strcmp(f, "pf_f16") || !strcmp(f, "pf_q8")) {
                char *end = NULL;
                const long x = strtol(v, &end, 10);
                if (!*v || *end || !(x == 0 || (x >= 1024 && x <= 65536 && x % 64 == 0)))
                    return bad(err, KK_E_RANGE, "kernels: %s='%s' is not allowed (allowed: 0, or "
                               "1024..65536 in multiples of 64)", f, v);
                int32_t *dst = !strcmp(f, "pf_f32") ? &c.pf_f32
                               : !strcmp(f, "pf_f16") ? &c.pf_f16
                                                      : &c.pf_q8;
                *dst = (int32_t)x;
            } else {
                return bad(err, KK_E_FORMAT, "kernels: unknown key '%s'%s (allowed: f16_gemv, "
                           "pf_f32, pf_f16, pf_q8, hint, q8_rows)", f, "");
            }
        }
    }
    *out = c;
    return KK_OK;
}
