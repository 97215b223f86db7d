/* SPDX-License-Identifier: MIT */
/* int8 gemm on AMX tiles (compile with configure's AMX_CFLAGS: the AVX-512
 * flags plus -mamx-tile -mamx-int8). Only the prefill (and rectification)
 * products use it; decode's gemv and single dots stay AVX-512 VNNI.
 *
 * One call: 16 weight rows against up to 16 activation columns (two
 * panels). For each block of 32 weights:
 *   - the 16 rows' block is laid out as one tile A (16 rows x 32 bytes):
 *     Q8_0 straight from the rows (stride ldw); Q4 nibbles and Q5 codes
 *     (u8), IQ4_NL's levels (s8) unpacked to bytes in a small buffer;
 *   - each panel is a tile B as it is (8 groups of 4 elements x 8 columns x
 *     4 bytes: the panel layout of dot.h is AMX's);
 *   - TDPBUSD (TDPBSSD for Q8_0 and IQ4_NL) gives the 16 x 16 exact int32
 *     block sums, Q4_0's -8 and Q5_0's -16 coming off as -8 or -16 times the
 *     panel's column sums;
 *   - AVX-512 runs dot.h's recipe on them, one row per vector, the columns
 *     in the lanes: acc = fmaf(d_w * d_a, (float)isum, acc).
 * The block sums are exact and the float chain is the recipe's, so every
 * result equals the scalar (and VNNI) gemm bit for bit. Fewer than 16 rows
 * take the VNNI kernel (same results).
 *
 * Linux gives a thread the tile state only after arch_prctl asks for it;
 * simd/cpu.c asks once for the process before setting RESA_CPU_AMX. */
#if defined(__x86_64__)

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dot.h"

#define AI static inline __attribute__((always_inline))

/* Tile registers (literal numbers: the intrinsics paste them into asm) */
#define T_A 0
#define T_B0 1
#define T_B1 2
#define T_C0 3
#define T_C1 4

typedef struct tile_config {
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* In static memory: GCC 12 drops stores to a stack copy that only
 * ldtilecfg reads (seen: palette set, shapes left out, #GP). */
static const tile_config tiles = {
    .palette = 1,
    /* A: 16 weight rows x one block of bytes; B: a panel block (8 groups of 4
     * x 8 columns); C: 16 rows x 8 columns of int32 */
    .colsb = {[T_A] = 32, [T_B0] = 32, [T_B1] = 32, [T_C0] = 32, [T_C1] = 32},
    .rows = {[T_A] = 16, [T_B0] = 8, [T_B1] = 8, [T_C0] = 16, [T_C1] = 16},
};

/* One block (at offset off) of 16 rows of a type other than Q8_0 -> a[r][j]
 * = element j of row r (low nibbles are elements 0..15, high nibbles
 * 16..31): Q4 nibbles and Q5 codes as u8, IQ4_NL's levels as s8. A Q5
 * block's 32 fifth bits are a byte mask of 0x10s as they stand. */
AI void unpack_rows(enum resa_wtype t, const uint8_t *w, size_t ldw, size_t off, uint8_t a[16][32])
{
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i kv = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)resa_kvalues_iq4nl));
    for (int r = 0; r < 16; r++) {
        const uint8_t *blk = w + (size_t)r * ldw + off;
        const __m128i q = _mm_loadu_si128((const __m128i *)(blk + resa_wblock_nibbles(t)));
        __m256i v = _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1), m4);
        if (t == RESA_W_IQ4_NL)
            v = _mm256_shuffle_epi8(kv, v);
        if (t == RESA_W_Q5_0 || t == RESA_W_Q5_1) {
            uint32_t qh;
            memcpy(&qh, blk + resa_wblock_qh(t), sizeof qh);
            v = _mm256_or_si256(v, _mm256_maskz_set1_epi8((__mmask32)qh, 0x10));
        }
        _mm256_store_si256((__m256i *)a[r], v);
    }
}

/* The first two fp16 of the 16 rows' block b (d, and m for Q4_1 and Q5_1) */
AI void block_header(const uint8_t *w, size_t ldw, size_t off, __m512 *d, __m512 *m)
{
    const __m512i rows = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32((int)ldw));
    const __m512i h = _mm512_i32gather_epi32(rows, (const void *)(w + off), 1);
    *d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(h));
    *m = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(h, 16)));
}

/* Two panels' 8 fp16 each -> 16 floats (columns in lanes) */
AI __m512 panel_f16(const resa_f16 *lo, const resa_f16 *hi)
{
    const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)lo)),
                                              _mm_loadu_si128((const __m128i *)hi), 1);
    return _mm512_cvtph_ps(v);
}

AI __m512i panel_i32(const int32_t *lo, const int32_t *hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)lo)),
                              _mm256_loadu_si256((const __m256i *)hi), 1);
}

/* 16 rows (nr == 16) x nc <= 16 columns; p1: the second panel, or the first
 * again when nc <= 8 (its lanes are then not stored). */
AI void gemm16(enum resa_wtype t, int64_t nb, const uint8_t *w, size_t ldw, const resa_dot_panel *p0,
               const resa_dot_panel *p1, int nc, float *s, size_t lds)
{
    const size_t bsz = resa_wblock_bytes(t);
    const int sgn = t == RESA_W_Q8_0 || t == RESA_W_IQ4_NL;                  /* s8 x s8 */
    const int off_shift = t == RESA_W_Q4_0 ? 3 : t == RESA_W_Q5_0 ? 4 : 0; /* -8 or -16 times sum(q_a) */
    _Alignas(64) uint8_t a[16][32];
    _Alignas(64) int32_t isum[16][16]; /* [row][column] */
    _Alignas(64) float lane[16], out[16][16]; /* lane: a per-row scale, broadcast row by row */
    __m512 acc[16];
    for (int r = 0; r < 16; r++)
        acc[r] = _mm512_setzero_ps();
    _tile_loadconfig(&tiles);
    for (int64_t b = 0; b < nb; b++) {
        const size_t off = (size_t)b * bsz;
        if (t == RESA_W_Q8_0) {
            _tile_loadd(T_A, w + off + offsetof(block_q8_0, qs), ldw);
        } else {
            unpack_rows(t, w, ldw, off, a);
            _tile_loadd(T_A, a, 32);
        }
        _tile_loadd(T_B0, p0[b].qs, 32);
        _tile_loadd(T_B1, p1[b].qs, 32);
        _tile_zero(T_C0);
        _tile_zero(T_C1);
        if (sgn) {
            _tile_dpbssd(T_C0, T_A, T_B0);
            _tile_dpbssd(T_C1, T_A, T_B1);
        } else {
            _tile_dpbusd(T_C0, T_A, T_B0);
            _tile_dpbusd(T_C1, T_A, T_B1);
        }
        _tile_stored(T_C0, &isum[0][0], 64);
        _tile_stored(T_C1, &isum[0][8], 64);
        __m512 d, m;
        block_header(w, ldw, off, &d, &m);
        _mm512_store_ps(lane, d);
        const __m512 da = panel_f16(p0[b].d, p1[b].d);
        /* Q4_0's weights are q - 8, Q5_0's q - 16: take 8 or 16 times the activations' sums off */
        const __m512i bias = off_shift ? _mm512_slli_epi32(panel_i32(p0[b].sum, p1[b].sum), off_shift)
                                       : _mm512_setzero_si512();
#pragma GCC unroll 16
        for (int r = 0; r < 16; r++) {
            const __m512i v = _mm512_sub_epi32(_mm512_load_si512(isum[r]), bias);
            acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(lane[r]), da), _mm512_cvtepi32_ps(v), acc[r]);
        }
    }
    _tile_release();
    for (int r = 0; r < 16; r++)
        _mm512_store_ps(out[r], acc[r]);
    if (resa_wtype_has_min(t)) { /* the m * s chains, then acc + accm */
        for (int r = 0; r < 16; r++)
            acc[r] = _mm512_setzero_ps();
        for (int64_t b = 0; b < nb; b++) {
            __m512 d, m;
            block_header(w, ldw, (size_t)b * bsz, &d, &m);
            _mm512_store_ps(lane, m);
            const __m512 sa = panel_f16(p0[b].s, p1[b].s);
#pragma GCC unroll 16
            for (int r = 0; r < 16; r++)
                acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(lane[r]), sa, acc[r]);
        }
        for (int r = 0; r < 16; r++)
            _mm512_store_ps(out[r], _mm512_add_ps(_mm512_load_ps(out[r]), acc[r]));
    }
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < 16; r++)
            s[(size_t)c * lds + r] = out[r][c];
}

AI void gemm_amx(enum resa_wtype t, int64_t n, int nr, int nc, const uint8_t *w, size_t ldw,
                 const resa_dot_panel *pan, float *s, size_t lds, resa_gemm_fn vnni)
{
    const int64_t nb = n / 32;
    int r = 0;
    for (; r + 16 <= nr; r += 16)
        gemm16(t, nb, w + (size_t)r * ldw, ldw, pan, nc > 8 ? pan + nb : pan, nc, s + r, lds);
    if (r < nr)
        vnni(n, nr - r, nc, w + (size_t)r * ldw, ldw, pan, 0, s + r, lds);
}

/* The AMX entry points: tiles where the shape fills them, the VNNI panel
 * gemm of the same type for the rest. */
#define GEMM_AMX(type, kind) \
    decl_gemm_fn(dot_gemm_##type##_amx) \
    { \
        (void)lda; \
        gemm_amx(kind, n, nr, nc, w, ldw, a, s, lds, dot_gemm_##type##_avx512vnni); \
    }

GEMM_AMX(q4_0, RESA_W_Q4_0)
GEMM_AMX(q4_1, RESA_W_Q4_1)
GEMM_AMX(q8_0, RESA_W_Q8_0)
GEMM_AMX(q5_0, RESA_W_Q5_0)
GEMM_AMX(q5_1, RESA_W_Q5_1)
GEMM_AMX(iq4_nl, RESA_W_IQ4_NL)

#endif
