/*
 * uni: the little of Unicode that the byte-level BPE pre-tokenizers need,
 * with llama.cpp's semantics (src/unicode.cpp), so that the words they cut
 * are the words llama.cpp cuts.
 *
 *   - UTF-8 decoding as unicode_cpt_from_utf8 does it: the lead byte's high
 *     bits give the length, continuation bytes are checked, nothing else
 *     (overlong forms and surrogates decode); an invalid sequence is one
 *     U+FFFD and skips one byte. One difference: a 4-byte form above
 *     U+10FFFF (leads F4..F7) is U+FFFD here, where llama.cpp throws from
 *     unicode_cpt_to_utf8 and llama_tokenize fails.
 *   - The class of a code point: letter (General_Category L), number (N),
 *     other; and whether it is White_Space. Unicode 15.1, the version of
 *     llama.cpp's table (unicode_data.c is generated: `make unicode-data`;
 *     bench/unicode_check.sh compares every code point with llama.cpp's).
 *
 * No allocation, no state: every function is pure.
 */
#ifndef KK_UNICODE_H
#define KK_UNICODE_H

#include <stddef.h>
#include <stdint.h>

enum {
    UNI_OTHER = 0,  /* any code point neither letter nor number */
    UNI_LETTER = 1, /* \p{L} */
    UNI_NUMBER = 2, /* \p{N} */
    UNI_CLASS = 3,  /* mask of the two bits above */
    UNI_SPACE = 4   /* \s: White_Space (may be set with UNI_OTHER only) */
};

#define UNI_REPLACEMENT 0xFFFDu

/* The code point at s[0..n) (n >= 1) and, in *adv, the bytes it took. */
uint32_t uni_decode(const char *s, size_t n, size_t *adv);

/* The UTF-8 bytes of cp (<= 0x10FFFF) into out; @return their count. */
size_t uni_encode(uint32_t cp, char out[4]);

/* UNI_LETTER / UNI_NUMBER / UNI_OTHER, or-ed with UNI_SPACE. Code points
 * past U+10FFFF are UNI_OTHER. */
uint8_t uni_flags(uint32_t cp);

/* The generated tables (unicode_data.c). */
extern const uint32_t uni_range_start[];
extern const uint8_t uni_range_class[];
extern const size_t uni_n_ranges;
extern const uint32_t uni_white_space[];
extern const size_t uni_n_white_space;
extern const uint8_t uni_latin1[256];

#endif /* KK_UNICODE_H */
