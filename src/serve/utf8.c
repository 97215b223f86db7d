/* SPDX-License-Identifier: MIT */
/* resa serve: UTF-8 helpers (utf8.h). */
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

/* The length of the valid sequence at s[0..n), 0 if none (overlongs,
 * surrogates and code points above U+10FFFF are invalid). */
static size_t seq_len(const unsigned char *s, size_t n)
{
    const unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* the range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

size_t utf8_complete_prefix(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    /* the last lead byte within 3 bytes of the end */
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        const unsigned c = s[n - back];
        if ((c & 0xC0) == 0x80)
            continue;
        const size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return want > back ? n - back : n;
    }
    return n;
}

char *utf8_sanitize(const char *str, size_t n, size_t *out_len)
{
    const unsigned char *s = (const unsigned char *)str;
    char *out = malloc(n * 3 + 1); /* each bad byte becomes 3 */
    if (!out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        const size_t len = seq_len(s + i, n - i);
        if (len) {
            memcpy(out + k, s + i, len);
            k += len;
            i += len;
        } else {
            memcpy(out + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i++;
        }
    }
    out[k] = '\0';
    *out_len = k;
    return out;
}
