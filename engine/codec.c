/*
 * codec: spec parsing, construction, dispatch to the arms and the optional
 * rotation around them. See codec.h for the grammar and what each codec promises.
 *
 * Contents: spec tables | parser | formatter | init/free | encode/decode
 */
#include "codec_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- spec tables ------------------------------------------------------- */

typedef struct codec_name {
    const char *name;
    codec_kind kind;
} codec_name;

static const codec_name NAMES[] = {
    {"identity", CODEC_KIND_IDENTITY}, {"f16", CODEC_KIND_F16},   {"bf16", CODEC_KIND_BF16},
    {"q8_0", CODEC_KIND_Q8_0},         {"q4_0", CODEC_KIND_Q4_0}, {"affine", CODEC_KIND_AFFINE},
    {"d4", CODEC_KIND_D4},             {"e8", CODEC_KIND_E8},     {"lloyd", CODEC_KIND_LLOYD},
    {"turbo", CODEC_KIND_TURBO},       {"kl_d4", CODEC_KIND_KL_D4}, {"kl_e8", CODEC_KIND_KL_E8},
    {"e8ans", CODEC_KIND_E8ANS},
};
#define N_NAMES (sizeof NAMES / sizeof NAMES[0])
#define NAMES_ALLOWED "identity, f16, bf16, q8_0, q4_0, affine, d4, e8, lloyd, turbo, kl_d4, kl_e8, e8ans"

static const char *kind_name(codec_kind k)
{
    for (size_t i = 0; i < N_NAMES; i++)
        if (NAMES[i].kind == k)
            return NAMES[i].name;
    return "?";
}

static bool is_lattice(codec_kind k) { return k == CODEC_KIND_D4 || k == CODEC_KIND_E8; }
static bool is_lloyd(codec_kind k) { return k == CODEC_KIND_LLOYD || k == CODEC_KIND_TURBO; }
static bool is_kl(codec_kind k) { return k == CODEC_KIND_KL_D4 || k == CODEC_KIND_KL_E8; }
/* Codecs that always rotate each vector (dim = group unless given). */
static bool always_rotated(codec_kind k) { return k == CODEC_KIND_TURBO || is_kl(k); }

/* Allowed sets, each with the text the error message shows. */
static const int32_t AFFINE_BITS[] = {2, 3, 4, 8};
static const int32_t LATTICE_BITS[] = {2, 3, 4};
static const int32_t AFFINE_GROUPS[] = {32, 64, 128};
static const int32_t LATTICE_GROUPS[] = {32, 64, 128, 256};
static const int32_t LATTICE_SCALES[] = {1, 2, 4, 8, 16};
static const int32_t LLOYD_BITS[] = {1, 2, 3, 4};
static const int32_t E8ANS_BITS[] = {2, 3, 4, 5, 6, 7};

static bool in_set(int32_t v, const int32_t *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == v)
            return true;
    return false;
}

static void set_defaults(codec_spec *s, codec_kind k)
{
    memset(s, 0, sizeof *s);
    s->kind = k;
    if (k == CODEC_KIND_AFFINE) {
        s->bits = 4;
        s->group = 64;
    } else if (is_lattice(k)) {
        s->bits = 4;
        s->group = 128;
        s->scales = 8;
    } else if (is_lloyd(k)) {
        s->bits = 2;
        s->group = 128;
        if (k == CODEC_KIND_TURBO)
            s->rotate = CODEC_ROTATE_HADAMARD;
    } else if (k == CODEC_KIND_E8ANS) {
        s->bits = 4;
    } else if (is_kl(k)) {
        s->q = 10;
        s->group = 128;
        s->rotate = CODEC_ROTATE_HADAMARD;
    }
}

/* group outside 32, 64, 128, 256 (d4, e8, lloyd, turbo, kl_*) */
static kk_code bad_group_256(const char *nm, int32_t group, kk_err *err)
{
    kk_err_set(err, KK_E_RANGE, "codec '%s': group=%d is not allowed (allowed: 32, 64, 128, 256)",
               nm, (int)group);
    return kk_err_where(err, "group");
}

/* The checks the parser makes, also run by codec_init on hand-made specs. */
static kk_code check_spec(const codec_spec *s, kk_err *err)
{
    const char *nm = kind_name(s->kind);
    if (s->kind == CODEC_KIND_AFFINE) {
        if (!in_set(s->bits, AFFINE_BITS, 4))
            goto bad_bits_affine;
        if (!in_set(s->group, AFFINE_GROUPS, 3))
            goto bad_group_affine;
    } else if (is_lattice(s->kind)) {
        if (!in_set(s->bits, LATTICE_BITS, 3)) {
            kk_err_set(err, KK_E_RANGE, "codec '%s': bits=%d is not allowed (allowed: 2, 3, 4)",
                       nm, (int)s->bits);
            return kk_err_where(err, "bits");
        }
        if (!in_set(s->group, LATTICE_GROUPS, 4))
            return bad_group_256(nm, s->group, err);
        if (!in_set(s->scales, LATTICE_SCALES, 5)) {
            kk_err_set(err, KK_E_RANGE,
                       "codec '%s': scales=%d is not allowed (allowed: 1, 2, 4, 8, 16)", nm,
                       (int)s->scales);
            return kk_err_where(err, "scales");
        }
    } else if (is_lloyd(s->kind)) {
        if (!in_set(s->bits, LLOYD_BITS, 4)) {
            kk_err_set(err, KK_E_RANGE, "codec '%s': bits=%d is not allowed (allowed: 1, 2, 3, 4)",
                       nm, (int)s->bits);
            return kk_err_where(err, "bits");
        }
        if (!in_set(s->group, LATTICE_GROUPS, 4))
            return bad_group_256(nm, s->group, err);
        if (s->kind == CODEC_KIND_TURBO && s->rotate != CODEC_ROTATE_HADAMARD) {
            kk_err_set(err, KK_E_RANGE, "codec 'turbo': rotate is not allowed (allowed: hadamard, "
                       "the default: TurboQuant rotates; lloyd is the codec without rotation)");
            return kk_err_where(err, "rotate");
        }
    } else if (is_kl(s->kind)) {
        if (s->q < 1 || s->q > 152) {
            kk_err_set(err, KK_E_RANGE, "codec '%s': q=%d is not allowed (allowed: 1..152; the "
                       "source project's points are 4, 10, 38, 152)", nm, (int)s->q);
            return kk_err_where(err, "q");
        }
        if (!in_set(s->group, LATTICE_GROUPS, 4))
            return bad_group_256(nm, s->group, err);
        if (s->rotate != CODEC_ROTATE_HADAMARD) {
            kk_err_set(err, KK_E_RANGE, "codec '%s': rotate is not allowed (allowed: hadamard, "
                       "the default: KakeyaLattice rotates; d4/e8 are the lattices without)", nm);
            return kk_err_where(err, "rotate");
        }
    } else if (s->kind == CODEC_KIND_E8ANS) {
        if (!in_set(s->bits, E8ANS_BITS, 6)) {
            kk_err_set(err, KK_E_RANGE, "codec 'e8ans': bits=%d is not allowed (allowed: 2..7, "
                       "the target rate)", (int)s->bits);
            return kk_err_where(err, "bits");
        }
    } else if ((int)s->kind < 0 || s->kind > CODEC_KIND_E8ANS) {
        return kk_err_set(err, KK_E_RANGE, "codec: unknown kind %d", (int)s->kind);
    }
    if (s->axis != CODEC_AXIS_ROW && !(s->axis == CODEC_AXIS_TOKEN && s->kind == CODEC_KIND_AFFINE)) {
        kk_err_set(err, KK_E_RANGE, "codec '%s': axis is not allowed (allowed: %s)", nm,
                   s->kind == CODEC_KIND_AFFINE ? "row, token" : "row");
        return kk_err_where(err, "axis");
    }
    if (s->channels != 0 && (s->axis != CODEC_AXIS_TOKEN || s->channels < 8 ||
                             s->channels > CODEC_MAX_CHANNELS || s->channels % 8 != 0)) {
        if (s->axis != CODEC_AXIS_TOKEN)
            kk_err_set(err, KK_E_RANGE, "codec '%s': channels is only allowed with axis=token",
                       nm);
        else
            kk_err_set(err, KK_E_RANGE,
                       "codec '%s': channels=%d is not allowed (allowed: a multiple of 8, 8..%d)",
                       nm, (int)s->channels, CODEC_MAX_CHANNELS);
        return kk_err_where(err, "channels");
    }
    if (s->axis == CODEC_AXIS_TOKEN && s->rotate != CODEC_ROTATE_NONE) {
        /* A rotation mixes the channels that axis=token keeps apart. */
        kk_err_set(err, KK_E_RANGE, "codec '%s': rotate is not allowed with axis=token "
                   "(allowed: none)", nm);
        return kk_err_where(err, "rotate");
    }
    if (s->rotate != CODEC_ROTATE_NONE && s->rotate != CODEC_ROTATE_HADAMARD) {
        kk_err_set(err, KK_E_RANGE, "codec '%s': rotate is not allowed (allowed: none, hadamard)",
                   nm);
        return kk_err_where(err, "rotate");
    }
    if (s->dim != 0 && (s->dim < 8 || s->dim > CODEC_MAX_DIM || (s->dim & (s->dim - 1)))) {
        kk_err_set(err, KK_E_RANGE,
                   "codec '%s': dim=%d is not allowed (allowed: a power of two, 8..%d)", nm,
                   (int)s->dim, CODEC_MAX_DIM);
        return kk_err_where(err, "dim");
    }
    return KK_OK;
bad_bits_affine:
    kk_err_set(err, KK_E_RANGE, "codec '%s': bits=%d is not allowed (allowed: 2, 3, 4, 8)", nm,
               (int)s->bits);
    return kk_err_where(err, "bits");
bad_group_affine:
    kk_err_set(err, KK_E_RANGE, "codec '%s': group=%d is not allowed (allowed: 32, 64, 128)", nm,
               (int)s->group);
    return kk_err_where(err, "group");
}

/* ---- parser ------------------------------------------------------------ */

/* Longest spec we read: far past any real one, bounds the copies below. */
#define CODEC_SPEC_MAX 256

/* A whole decimal integer in [lo, hi] (no sign, no spaces). */
static bool parse_u64(const char *v, uint64_t hi, uint64_t *out)
{
    if (!*v)
        return false;
    uint64_t x = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        const uint64_t d = (uint64_t)(*p - '0');
        if (x > (hi - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *out = x;
    return true;
}

static kk_code field_int(const char *nm, const char *key, const char *val, const char *allowed,
                         int32_t *out, kk_err *err)
{
    uint64_t x;
    if (!parse_u64(val, 1u << 20, &x)) {
        kk_err_set(err, KK_E_RANGE, "codec '%s': %s='%s' is not allowed (allowed: %s)", nm, key,
                   val, allowed);
        return kk_err_where(err, key);
    }
    *out = (int32_t)x;
    return KK_OK;
}

kk_code codec_spec_parse(const char *spec, codec_spec *out, kk_err *err)
{
    char buf[CODEC_SPEC_MAX + 1];
    const size_t len = strlen(spec);
    if (len > CODEC_SPEC_MAX) {
        kk_err_set(err, KK_E_FORMAT, "codec spec is %zu characters long (at most %d)", len,
                   CODEC_SPEC_MAX);
        return kk_err_where(err, "codec");
    }
    memcpy(buf, spec, len + 1);
    char *colon = strchr(buf, ':');
    if (colon)
        *colon = '\0';
    size_t k = 0;
    while (k < N_NAMES && strcmp(NAMES[k].name, buf) != 0)
        k++;
    if (k == N_NAMES) {
        kk_err_set(err, KK_E_FORMAT, "unknown codec '%s' (allowed: %s)", buf, NAMES_ALLOWED);
        return kk_err_where(err, "codec");
    }
    codec_spec s;
    set_defaults(&s, NAMES[k].kind);
    const char *nm = NAMES[k].name;
    const bool aff = s.kind == CODEC_KIND_AFFINE, lat = is_lattice(s.kind),
               llo = is_lloyd(s.kind), kl = is_kl(s.kind), ans = s.kind == CODEC_KIND_E8ANS;
    char *p = colon ? colon + 1 : NULL;
    if (colon && !*p) {
        kk_err_set(err, KK_E_FORMAT, "codec '%s': empty field list after ':'", nm);
        return kk_err_where(err, "codec");
    }
    unsigned seen = 0;
    while (p) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        char *eq = strchr(p, '=');
        if (!eq || eq == p) {
            kk_err_set(err, KK_E_FORMAT, "codec '%s': field '%s' is not key=value", nm, p);
            return kk_err_where(err, p);
        }
        *eq = '\0';
        const char *key = p, *val = eq + 1;
        unsigned bit;
        kk_code rc = KK_OK;
        if (!strcmp(key, "bits") && (aff || lat || llo || ans)) {
            bit = 1;
            rc = field_int(nm, key, val,
                           aff   ? "2, 3, 4, 8"
                           : llo ? "1, 2, 3, 4"
                           : ans ? "2..7"
                                 : "2, 3, 4",
                           &s.bits, err);
        } else if (!strcmp(key, "q") && kl) {
            bit = 256;
            rc = field_int(nm, key, val, "1..152", &s.q, err);
        } else if (!strcmp(key, "group") && (aff || lat || llo || kl)) {
            bit = 2;
            rc = field_int(nm, key, val, aff ? "32, 64, 128" : "32, 64, 128, 256", &s.group, err);
        } else if (!strcmp(key, "scales") && lat) {
            bit = 4;
            rc = field_int(nm, key, val, "1, 2, 4, 8, 16", &s.scales, err);
        } else if (!strcmp(key, "rotate")) {
            bit = 8;
            if (!strcmp(val, "none")) {
                s.rotate = CODEC_ROTATE_NONE;
            } else if (!strcmp(val, "hadamard")) {
                s.rotate = CODEC_ROTATE_HADAMARD;
            } else {
                kk_err_set(err, KK_E_RANGE,
                           "codec '%s': rotate='%s' is not allowed (allowed: none, hadamard)", nm,
                           val);
                return kk_err_where(err, "rotate");
            }
        } else if (!strcmp(key, "dim")) {
            bit = 16;
            rc = field_int(nm, key, val, "a power of two, 8..1024", &s.dim, err);
            if (rc == KK_OK && s.dim == 0) { /* 0 would read as "not given" */
                kk_err_set(err, KK_E_RANGE,
                           "codec '%s': dim=0 is not allowed (allowed: a power of two, 8..%d)",
                           nm, CODEC_MAX_DIM);
                return kk_err_where(err, "dim");
            }
        } else if (!strcmp(key, "axis") && aff) {
            bit = 64;
            if (!strcmp(val, "row")) {
                s.axis = CODEC_AXIS_ROW;
            } else if (!strcmp(val, "token")) {
                s.axis = CODEC_AXIS_TOKEN;
            } else {
                kk_err_set(err, KK_E_RANGE,
                           "codec '%s': axis='%s' is not allowed (allowed: row, token)", nm, val);
                return kk_err_where(err, "axis");
            }
        } else if (!strcmp(key, "channels") && aff) {
            bit = 128;
            rc = field_int(nm, key, val, "a multiple of 8, 8..16384", &s.channels, err);
            if (rc == KK_OK && s.channels == 0) { /* 0 would read as "not given" */
                kk_err_set(err, KK_E_RANGE,
                           "codec '%s': channels=0 is not allowed (allowed: a multiple of 8, "
                           "8..%d)", nm, CODEC_MAX_CHANNELS);
                return kk_err_where(err, "channels");
            }
        } else if (!strcmp(key, "seed")) {
            bit = 32;
            if (!parse_u64(val, UINT64_MAX, &s.seed)) {
                kk_err_set(err, KK_E_RANGE,
                           "codec '%s': seed='%s' is not allowed (allowed: 0..2^64-1)", nm, val);
                return kk_err_where(err, "seed");
            }
        } else {
            kk_err_set(err, KK_E_FORMAT, "codec '%s': unknown field '%s' (allowed: %s)", nm, key,
                       aff   ? "bits, group, axis, channels, rotate, dim, seed"
                       : lat ? "bits, group, scales, rotate, dim, seed"
                       : llo ? "bits, group, rotate, dim, seed"
                       : kl  ? "q, group, rotate, dim, seed"
                       : ans ? "bits, rotate, dim, seed"
                             : "rotate, dim, seed");
            return kk_err_where(err, key);
        }
        if (rc != KK_OK)
            return rc;
        if (seen & bit) {
            kk_err_set(err, KK_E_FORMAT, "codec '%s': field '%s' given twice", nm, key);
            return kk_err_where(err, key);
        }
        seen |= bit;
        p = comma ? comma + 1 : NULL;
    }
    /* turbo and KakeyaLattice rotate each vector as a whole: dim = group
     * unless given */
    if (always_rotated(s.kind) && s.dim == 0)
        s.dim = s.group;
    kk_code rc = check_spec(&s, err);
    if (rc != KK_OK)
        return rc;
    *out = s;
    return KK_OK;
}

int codec_spec_format(const codec_spec *s, char *buf, size_t cap)
{
    char rot[96] = "";
    if (s->rotate == CODEC_ROTATE_HADAMARD) {
        if (s->dim > 0)
            snprintf(rot, sizeof rot, "rotate=hadamard,dim=%d,seed=%" PRIu64, (int)s->dim,
                     s->seed);
        else
            snprintf(rot, sizeof rot, "rotate=hadamard,seed=%" PRIu64, s->seed);
    }
    const char *nm = kind_name(s->kind);
    if (s->kind == CODEC_KIND_AFFINE && s->axis == CODEC_AXIS_TOKEN) {
        if (s->channels > 0)
            return snprintf(buf, cap, "%s:bits=%d,group=%d,axis=token,channels=%d", nm,
                            (int)s->bits, (int)s->group, (int)s->channels);
        return snprintf(buf, cap, "%s:bits=%d,group=%d,axis=token", nm, (int)s->bits,
                        (int)s->group);
    }
    if (s->kind == CODEC_KIND_AFFINE)
        return snprintf(buf, cap, "%s:bits=%d,group=%d%s%s", nm, (int)s->bits, (int)s->group,
                        rot[0] ? "," : "", rot);
    if (is_lattice(s->kind))
        return snprintf(buf, cap, "%s:bits=%d,group=%d,scales=%d%s%s", nm, (int)s->bits,
                        (int)s->group, (int)s->scales, rot[0] ? "," : "", rot);
    if (s->kind == CODEC_KIND_TURBO) /* always rotated: the rotation's fields alone */
        return snprintf(buf, cap, "%s:bits=%d,group=%d,dim=%d,seed=%" PRIu64, nm, (int)s->bits,
                        (int)s->group, (int)(s->dim > 0 ? s->dim : s->group), s->seed);
    if (is_lloyd(s->kind))
        return snprintf(buf, cap, "%s:bits=%d,group=%d%s%s", nm, (int)s->bits, (int)s->group,
                        rot[0] ? "," : "", rot);
    if (s->kind == CODEC_KIND_E8ANS)
        return snprintf(buf, cap, "%s:bits=%d%s%s", nm, (int)s->bits, rot[0] ? "," : "", rot);
    if (is_kl(s->kind))
        return snprintf(buf, cap, "%s:q=%d,group=%d,dim=%d,seed=%" PRIu64, nm, (int)s->q,
                        (int)s->group, (int)(s->dim > 0 ? s->dim : s->group), s->seed);
    return snprintf(buf, cap, "%s%s%s", nm, rot[0] ? ":" : "", rot);
}

/* ---- init / free --------------------------------------------------------- */

kk_code codec_init(codec **out, const codec_spec *spec, kk_err *err)
{
    *out = NULL;
    kk_code rc = check_spec(spec, err);
    if (rc != KK_OK)
        return rc;
    codec *c = calloc(1, sizeof *c);
    if (!c)
        return kk_err_set(err, KK_E_NOMEM, "codec: out of memory");
    c->spec = *spec;
    if (c->spec.axis == CODEC_AXIS_TOKEN && c->spec.channels == 0)
        c->spec.channels = 128;
    switch (spec->kind) {
    case CODEC_KIND_AFFINE:
        codec_affine_setup(c);
        break;
    case CODEC_KIND_D4:
    case CODEC_KIND_E8:
        codec_lattice_setup(c);
        break;
    case CODEC_KIND_LLOYD:
    case CODEC_KIND_TURBO:
        codec_lloyd_setup(c);
        break;
    case CODEC_KIND_KL_D4:
    case CODEC_KIND_KL_E8:
        codec_kakeya_setup(c);
        break;
    case CODEC_KIND_E8ANS:
        if (codec_e8ans_setup(c) != KK_OK) {
            free(c);
            return kk_err_set(err, KK_E_NOMEM, "codec: out of memory");
        }
        break;
    default:
        codec_ggml_setup(c);
        break;
    }
    if (c->fast_name) { /* the AVX2 level, then AVX-512 decoders over it */
        c->enc_avx2 = c->enc;
        c->dec_avx2 = c->dec;
        codec_avx512_setup(c);
    }
    c->unit_values = c->arm_values;
    if (spec->rotate == CODEC_ROTATE_HADAMARD) {
        const int dim = spec->dim > 0                    ? spec->dim
                        : always_rotated(spec->kind)     ? spec->group
                                                         : 128;
        c->spec.dim = dim;
        c->signs = malloc((size_t)dim * sizeof(float));
        if (!c->signs) {
            free(c->ans);
            free(c);
            return kk_err_set(err, KK_E_NOMEM, "codec: out of memory");
        }
        codec_hadamard_signs(spec->seed, dim, c->signs);
        if ((size_t)dim > c->unit_values)
            c->unit_values = (size_t)dim; /* both powers of two: the larger is the lcm */
    }
    c->unit_bytes = c->unit_values / c->arm_values * c->arm_bytes;
    if (!c->fast_name)
        c->fast_name = "ref";
    *out = c;
    return KK_OK;
}

void codec_free(codec *c)
{
    if (!c)
        return;
    free(c->signs);
    free(c->ans);
    free(c);
}

const codec_spec *codec_get_spec(const codec *c) { return &c->spec; }
size_t codec_block_values(const codec *c) { return c->unit_values; }
size_t codec_block_bytes(const codec *c) { return c->unit_bytes; }
size_t codec_header_bytes(const codec *c) { return c->signs ? sizeof(uint64_t) : 0; }

double codec_bits_per_value(const codec *c)
{
    if (c->variable)
        return c->stats.values_encoded
                   ? 8.0 * (double)c->stats.bytes_encoded / (double)c->stats.values_encoded
                   : 0.0;
    return 8.0 * (double)c->unit_bytes / (double)c->unit_values;
}

bool codec_is_variable(const codec *c) { return c->variable; }

size_t codec_encoded_bytes(const codec *c, size_t n)
{
    if (n % c->unit_values != 0)
        return 0;
    if (c->variable)
        return codec_e8ans_capacity(c, n);
    return n / c->unit_values * c->unit_bytes;
}

void codec_set_ref(codec *c, bool use_ref) { c->use_ref = use_ref; }

bool codec_set_impl(codec *c, const char *name)
{
    if (!strcmp(name, "ref")) {
        c->use_ref = true;
        return true;
    }
    if (!strcmp(name, "avx2") && c->enc_avx2) {
        c->enc = c->enc_avx2;
        c->dec = c->dec_avx2;
        c->fast_name = "avx2";
        c->use_ref = false;
        return true;
    }
    if (!strcmp(name, "avx512") && c->dec_avx512) {
        c->enc = c->enc_avx2; /* no AVX-512 encoders: AVX2 encodes */
        c->dec = c->dec_avx512;
        c->fast_name = "avx512";
        c->use_ref = false;
        return true;
    }
    return false;
}

const char *codec_impl_name(const codec *c) { return c->use_ref ? "ref" : c->fast_name; }

const codec_stats *codec_get_stats(const codec *c) { return &c->stats; }

void codec_reset_stats(codec *c) { memset(&c->stats, 0, sizeof c->stats); }

/* ---- encode / decode ------------------------------------------------------ */

/* The rotation of one `dim` run: AVX2 butterflies on the fast path (the
 * same floats: codec_lloyd_avx2.c), the scalar loop on the _ref path. */
void codec_rotate_forward(const codec *c, float *x)
{
    if (!c->use_ref && codec_cpu_has_avx2())
        codec_hadamard_forward_avx2(x, c->signs, c->spec.dim);
    else
        codec_hadamard_forward(x, c->signs, c->spec.dim);
}

void codec_rotate_inverse(const codec *c, float *x)
{
    if (!c->use_ref && codec_cpu_has_avx2())
        codec_hadamard_inverse_avx2(x, c->signs, c->spec.dim);
    else
        codec_hadamard_inverse(x, c->signs, c->spec.dim);
}

size_t codec_encode(codec *c, const float *x, size_t n, uint8_t *out)
{
    const codec_enc_fn enc = c->use_ref ? c->enc_ref : c->enc;
    const size_t units = n / c->unit_values;
    if (c->variable) {
        const size_t w = codec_e8ans_encode(c, x, units * c->unit_values, out);
        c->stats.values_encoded += units * c->unit_values;
        c->stats.bytes_encoded += w;
        return w;
    }
    if (!c->signs) {
        enc(c, x, units * (c->unit_values / c->arm_values), out);
    } else {
        /* Rotate a unit at a time into scratch: the caller's floats stay
         * untouched and nothing is allocated. */
        float tmp[CODEC_MAX_DIM];
        const int dim = c->spec.dim;
        for (size_t u = 0; u < units; u++) {
            memcpy(tmp, x + u * c->unit_values, c->unit_values * sizeof(float));
            for (size_t o = 0; o < c->unit_values; o += (size_t)dim)
                codec_rotate_forward(c, tmp + o);
            enc(c, tmp, c->unit_values / c->arm_values, out + u * c->unit_bytes);
        }
    }
    c->stats.values_encoded += units * c->unit_values;
    c->stats.bytes_encoded += units * c->unit_bytes;
    return units * c->unit_bytes;
}

void codec_decode(codec *c, const uint8_t *in, size_t n, float *y)
{
    const codec_dec_fn dec = c->use_ref ? c->dec_ref : c->dec;
    const size_t units = n / c->unit_values;
    if (c->variable) {
        codec_e8ans_decode(c, in, codec_encoded_bytes(c, units * c->unit_values),
                           units * c->unit_values, y);
        c->stats.values_decoded += units * c->unit_values;
        return;
    }
    dec(c, in, units * (c->unit_values / c->arm_values), y);
    if (c->signs) {
        const int dim = c->spec.dim;
        for (size_t o = 0; o < units * c->unit_values; o += (size_t)dim)
            codec_rotate_inverse(c, y + o);
    }
    c->stats.values_decoded += units * c->unit_values;
}
