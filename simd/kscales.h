/* SPDX-License-Identifier: MIT */
/* The packed integer scales of the super-block types, decoded in plain C
 * for every ISA file (the same values as types.c's resa_kblock_unpack, which
 * is their specification; a SIMD kernel differs from the reference only in
 * how it groups the exact integer products, design.md §4). */
#ifndef RESA_SIMD_KSCALES_H
#define RESA_SIMD_KSCALES_H

#include <stdint.h>
#include <string.h>

/* Q4_K and Q5_K: the six-bit scales and mins of the 8 sub-blocks of 32
 * (types.c's scale_min_k4 for all j at once). */
static inline void kscales_q4_k(const uint8_t *s, int16_t sc[8], int16_t m[8])
{
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        m[j] = s[j + 4] & 63;
        sc[j + 4] = (int16_t)((s[j + 8] & 0x0f) | ((s[j] >> 6) << 4));
        m[j + 4] = (int16_t)((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
    }
}

/* The same as bytes, four words at a time (no per-value stores for a
 * vector load to trip over): u[0..1] the 8 scales, u[2..3] the 8 mins. */
static inline void kscales_q4_k_bytes(const uint8_t *s, uint32_t u[4])
{
    uint32_t w[3];
    memcpy(w, s, sizeof w); /* little-endian, as every target is */
    const uint32_t lo6 = 0x3f3f3f3f, lo4 = 0x0f0f0f0f, lo2 = 0x03030303;
    u[0] = w[0] & lo6;
    u[1] = (w[2] & lo4) | (w[0] >> 6 & lo2) << 4;
    u[2] = w[1] & lo6;
    u[3] = (w[2] >> 4 & lo4) | (w[1] >> 6 & lo2) << 4;
}

/* Q3_K: the 16 six-bit scales (before their -32), one per 16 values, as
 * the bytes of four words: scale i takes its low nibble from byte i (i < 8)
 * or the high nibble of byte i - 8, and its top two bits from bits
 * 2 * (i / 4) of byte 8 + i % 4, which is byte i % 4 of word 2 shifted by
 * 2 * (i / 4). */
static inline void kscales_q3_k_words(const uint8_t *s, uint32_t o[4])
{
    uint32_t w[3];
    memcpy(w, s, sizeof w); /* little-endian, as every target is */
    const uint32_t lo4 = 0x0f0f0f0f, lo2 = 0x03030303;
    o[0] = (w[0] & lo4) | (w[2] & lo2) << 4;
    o[1] = (w[1] & lo4) | (w[2] >> 2 & lo2) << 4;
    o[2] = (w[0] >> 4 & lo4) | (w[2] >> 4 & lo2) << 4;
    o[3] = (w[1] >> 4 & lo4) | (w[2] >> 6 & lo2) << 4;
}

/* The same as int8, minus 32. */
static inline void kscales_q3_k(const uint8_t *s, int8_t sc[16])
{
    uint32_t o[4];
    kscales_q3_k_words(s, o);
    for (int i = 0; i < 16; i++)
        sc[i] = (int8_t)((int)(o[i / 4] >> (8 * (i % 4)) & 0xff) - 32);
}

/* IQ4_XS: the 8 six-bit scales (before their -32), byte ib of the result:
 * the low nibble from scales_l (nibble ib of it as a little-endian word),
 * the top two bits from bits 2ib of scales_h. */
static inline uint64_t kscales_iq4_xs_bytes(uint16_t scales_h, const uint8_t scales_l[4])
{
    uint32_t l;
    memcpy(&l, scales_l, sizeof l);
    uint64_t u = 0;
    for (int ib = 0; ib < 8; ib++)
        u |= (uint64_t)((l >> (4 * ib) & 0x0f) | (scales_h >> (2 * ib) & 3) << 4) << (8 * ib);
    return u;
}

/* The same as int16, minus 32: one per 32 values. */
static inline void kscales_iq4_xs(uint16_t scales_h, const uint8_t scales_l[4], int16_t sc[8])
{
    const uint64_t u = kscales_iq4_xs_bytes(scales_h, scales_l);
    for (int ib = 0; ib < 8; ib++)
        sc[ib] = (int16_t)((int)(u >> (8 * ib) & 0xff) - 32);
}

#endif
