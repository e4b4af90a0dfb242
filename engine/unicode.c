/*
 * uni: UTF-8 decoding and code point classes (see unicode.h).
 */
#include "unicode.h"

#include <stdbool.h>

uint32_t uni_decode(const char *s, size_t n, size_t *adv)
{
    const uint8_t *u = (const uint8_t *)s;
    const uint8_t c = u[0];
    *adv = 1;
    if (c < 0x80)
        return c;
    /* llama.cpp: 10xxxxxx as a lead is invalid; then 110, 1110, 11110 */
    size_t len;
    uint32_t cp;
    if (!(c & 0x40))
        return UNI_REPLACEMENT;
    if (!(c & 0x20)) {
        len = 2;
        cp = c & 0x1F;
    } else if (!(c & 0x10)) {
        len = 3;
        cp = c & 0x0F;
    } else if (!(c & 0x08)) {
        len = 4;
        cp = c & 0x07;
    } else {
        return UNI_REPLACEMENT;
    }
    if (len > n)
        return UNI_REPLACEMENT;
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return UNI_REPLACEMENT;
        cp = (cp << 6) | (u[i] & 0x3F);
    }
    if (cp > 0x10FFFF)
        return UNI_REPLACEMENT; /* llama.cpp throws later (unicode.h) */
    *adv = len;
    return cp;
}

size_t uni_encode(uint32_t cp, char out[4])
{
    if (cp <= 0x7F) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp <= 0x7FF) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp <= 0xFFFF) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | ((cp >> 18) & 0x07));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Past Latin-1 (uni_latin1 covers it): binary search over the class
 * ranges (1546 of them: 11 probes). */
static uint8_t class_by_search(uint32_t cp)
{
    size_t lo = 0, hi = uni_n_ranges; /* uni_range_start[0] == 0 <= cp */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (uni_range_start[mid] <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return uni_range_class[lo];
}

uint8_t uni_flags(uint32_t cp)
{
    if (cp < 256)
        return uni_latin1[cp];
    if (cp > 0x10FFFF)
        return UNI_OTHER;
    uint8_t f = class_by_search(cp);
    /* White space past Latin-1 lies in U+1680..U+3000 */
    if (cp >= 0x1680 && cp <= 0x3000)
        for (size_t i = 0; i < uni_n_white_space; i++)
            if (uni_white_space[i] == cp)
                f |= UNI_SPACE;
    return f;
}
