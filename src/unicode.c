/* SPDX-License-Identifier: MIT */
#include "unicode.h"

/* ASCII is most of the text; answer it without the table. */
static unsigned ascii_class(uint32_t c)
{
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return UNI_LETTER;
    if (c >= '0' && c <= '9')
        return UNI_NUMBER;
    if (c == ' ' || (c >= 0x09 && c <= 0x0D))
        return UNI_SPACE;
    return 0;
}

unsigned unicode_class(uint32_t cp)
{
    if (cp < 0x80)
        return ascii_class(cp);
    if (cp > UNI_MAX)
        return 0;
    /* last range whose first code point is <= cp; entry 0 starts at 0 */
    size_t lo = 0, hi = unicode_class_n_ranges;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if ((unicode_class_ranges[mid] >> 8) <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return unicode_class_ranges[lo] & 0xFF;
}

static int is_cont(unsigned char b) { return (b & 0xC0) == 0x80; }

/* Bytes a lead byte announces (1..4), or 0 when it cannot start a sequence. */
static size_t lead_length(unsigned char b)
{
    if (b < 0x80)
        return 1;
    if (b < 0xC0)
        return 0;
    if (b < 0xE0)
        return 2;
    if (b < 0xF0)
        return 3;
    if (b < 0xF8)
        return 4;
    return 0;
}

uint32_t utf8_decode(const unsigned char *s, size_t len, size_t *used)
{
    static const unsigned char lead_mask[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    size_t n = lead_length(s[0]);
    *used = 1;
    if (n == 0 || n > len)
        return UNI_REPLACEMENT;
    uint32_t cp = s[0] & lead_mask[n];
    for (size_t i = 1; i < n; i++) {
        if (!is_cont(s[i]))
            return UNI_REPLACEMENT;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    /* overlong forms (C0 80 for NUL), UTF-16 surrogates and code points past
     * U+10FFFF are not UTF-8: U+FFFD, one byte at a time */
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp > UNI_MAX || cp < min_cp[n] || (cp >= 0xD800 && cp <= 0xDFFF))
        return UNI_REPLACEMENT;
    *used = n;
    return cp;
}

int utf8_encode(uint32_t cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | ((cp >> 18) & 0x07));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* GPT-2 keeps the printable bytes 0x21..0x7E, 0xA1..0xAC and 0xAE..0xFF as
 * the characters of the same number and spells the other 68 bytes, in byte
 * order, as U+0100, U+0101, ...: 0x00..0x20 (33 bytes), 0x7F..0xA0 (34),
 * then 0xAD. */
uint32_t bytelevel_char(unsigned char b)
{
    if (b <= 0x20)
        return 0x100u + b;
    if (b >= 0x7F && b <= 0xA0)
        return 0x100u + 33 + (b - 0x7Fu);
    if (b == 0xAD)
        return 0x100u + 33 + 34;
    return b;
}

int bytelevel_byte(uint32_t cp)
{
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
        return (int)cp;
    if (cp >= 0x100 && cp < 0x100 + 33)
        return (int)(cp - 0x100);
    if (cp >= 0x100 + 33 && cp < 0x100 + 67)
        return (int)(cp - 0x100 - 33 + 0x7F);
    if (cp == 0x100 + 67)
        return 0xAD;
    return -1;
}
