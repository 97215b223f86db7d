/* SPDX-License-Identifier: MIT */
/* One escaper for every string from a file (docs/design.md §5.6). */
#include "printable.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "unicode.h"

/* Code points that pass as themselves: the printable ones that cannot
 * reorder or split what a terminal shows. */
static int passes(uint32_t cp)
{
    if (cp >= 0x20 && cp < 0x7F)
        return cp != '\\';
    if (cp < 0xA0)
        return 0; /* C0, DEL, C1 */
    if (cp == 0x061C || cp == 0x200E || cp == 0x200F || cp == 0x2028 || cp == 0x2029 ||
        (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069))
        return 0;
    return 1;
}

char *resa_printable(char *buf, size_t cap, const char *s, size_t n)
{
    if (!cap)
        return buf;
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n;) {
        char piece[4 * 4 + 1];
        size_t used, len;
        const uint32_t cp = utf8_decode((const unsigned char *)s + i, n - i, &used);
        const int invalid = cp == UNI_REPLACEMENT && used == 1; /* U+FFFD itself takes 3 bytes */
        if (!invalid && passes(cp)) {
            memcpy(piece, s + i, used);
            len = used;
        } else if (cp == '\\') {
            memcpy(piece, "\\\\", 2);
            len = 2;
        } else {
            used = 1; /* escape one byte, then look at the next */
            len = (size_t)snprintf(piece, sizeof piece, "\\x%02x", (unsigned char)s[i]);
        }
        /* keep room for "..." unless this piece ends the string */
        const size_t room = cap - 1 - o, reserve = i + used < n ? 3 : 0;
        if (len + reserve > room) {
            if (room >= 3) {
                memcpy(buf + o, "...", 3);
                o += 3;
            }
            break;
        }
        memcpy(buf + o, piece, len);
        o += len;
        i += used;
    }
    buf[o] = '\0';
    return buf;
}
