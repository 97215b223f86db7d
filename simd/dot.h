/* SPDX-License-Identifier: MIT */
/* Kernel family "dot": weight rows against activation rows: one dot
 * (vec_dot), a matrix-vector product (gemv, decode) and register-blocked
 * tiles of a matrix-matrix product (gemm, prefill).
 *
 * Pure, single-threaded, no allocation. The engine threads over rows.
 *
 * Numerics of the int8 dots (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL weights;
 * a Q5 or IQ4_NL block is 32 signed values and scales like the others), the same in every
 * tier and in both vec_dot and gemm, so that the scalar, AVX2, AVX-512 VNNI,
 * NEON and dotprod results, and prefill and decode, agree bit for bit:
 *
 *     acc = 0; accm = 0
 *     for each block b, in order:
 *         isum = sum over the block of q_w * q_a          (exact, int32)
 *         acc  = fmaf(d_w * d_a, (float)isum, acc)         (d_w * d_a rounded)
 *         accm = fmaf(m_w, s_a, accm)                      (Q4_1, Q5_1)
 *     result = acc + accm                                  (Q4_1, Q5_1), acc (others)
 *
 * with the fp16 scales converted exactly to float. One serial chain per dot
 * costs a single vec_dot some latency, but it is what makes gemm and gemv
 * cheap (one float lane per dot, the chains of many dots side by side, no
 * horizontal sums) and every tier exact.
 *
 * The super-block types (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS) dot with
 * Q8_K activations (256 values q_a, a float d_a, the sums of each 16 of
 * q_a). A weight super-block unpacks (resa_kblock_unpack) to 256 int8 q_w,
 * 16 integer scales sc and mins m (one per 16 values) and floats d_w, dmin:
 *
 *     acc = 0; accm = 0
 *     for each super-block b, in order:
 *         isum = sum over g < 16 of sc[g] * (sum over the 16 of q_w * q_a)  (exact, int32)
 *         msum = sum over g < 16 of m[g] * bsums_a[g]                       (exact, int32)
 *         acc  = fmaf(d_w * d_a, (float)isum, acc)
 *         accm = fmaf(dmin_w * d_a, (float)msum, accm)   (0 for types without mins)
 *     result = acc - accm
 *
 * |isum| < 2^28 for every type (Q6_K: 256 * 32 * 127 * 128), so the integer
 * part is exact however a tier groups it. The Q8_K quantizer rounds as Q8_0
 * does (id = 127 / amax over the 256, a plain product, ties to even).
 *
 * The float dots (F32/F16/BF16) sum in tier-specific orders. */
#ifndef RESA_SIMD_DOT_H
#define RESA_SIMD_DOT_H

#include <stddef.h>
#include <stdint.h>

#include "prefetch.h"
#include "types.h"

/* *s = sum_i w[i] * a[i] over n elements (n a multiple of the weight type's
 * block size). w is a weight row in its own type; a is the activation row in
 * the weight type's vec_dot_type (F32 for F32/F16/BF16 weights, Q8_0 for
 * Q4_0/Q8_0, Q8_1 for Q4_1). */
#define decl_vec_dot_fn(name) void(name)(int64_t n, float *s, const void *w, const void *a)
typedef decl_vec_dot_fn(*resa_vec_dot_fn);

/* Activation panel: RESA_PANEL_COLS quantized activation rows (columns of
 * the product) interleaved four bytes at a time, so that one 32-bit weight
 * group broadcast to every lane meets the same four elements of each column
 * (vpdpbusd, vpmaddubsw, SDOT by lane). One block of 32 elements: */
#define RESA_PANEL_COLS 8
typedef struct resa_dot_panel {
    int8_t qs[8][RESA_PANEL_COLS][4]; /* [k][c][j]: element 4k+j of column c */
    resa_f16 d[RESA_PANEL_COLS];      /* the column blocks' d */
    resa_f16 s[RESA_PANEL_COLS];      /* Q8_1: their s; Q8_0: 0 */
    int32_t sum[RESA_PANEL_COLS];     /* Q8_0: sum of the 32 qs (for u8 x s8 offsets); Q8_1: 0 */
} resa_dot_panel;

/* Packs nc <= RESA_PANEL_COLS activation rows a (act_type Q8_0 or Q8_1,
 * lda bytes apart, n elements each) into n/32 panel blocks p; columns past
 * nc are zero. A byte shuffle (and exact sums): a gemm over the panel sees
 * exactly what vec_dot sees in the rows. */
void dot_pack(enum resa_type act_type, const void *a, size_t lda, int nc, int64_t n,
                   resa_dot_panel *p);

/* The int8 weight types of the hand-written gemm kernels (every ISA file;
 * the gemv kernels take the first three), and the bytes of one block of
 * each. Every block starts with its fp16 d; Q4_1 and Q5_1 follow it with
 * their fp16 m (RESA_WBLOCK_M). */
enum resa_wtype { RESA_W_Q4_0, RESA_W_Q4_1, RESA_W_Q8_0, RESA_W_Q5_0, RESA_W_Q5_1, RESA_W_IQ4_NL };

static inline size_t resa_wblock_bytes(enum resa_wtype t)
{
    switch (t) {
    case RESA_W_Q4_0: return sizeof(block_q4_0);
    case RESA_W_Q4_1: return sizeof(block_q4_1);
    case RESA_W_Q5_0: return sizeof(block_q5_0);
    case RESA_W_Q5_1: return sizeof(block_q5_1);
    case RESA_W_IQ4_NL: return sizeof(block_iq4_nl);
    default: return sizeof(block_q8_0);
    }
}

/* Types whose blocks add m * s_a (activations Q8_1): the m sits right after d */
static inline int resa_wtype_has_min(enum resa_wtype t)
{
    return t == RESA_W_Q4_1 || t == RESA_W_Q5_1;
}
#define RESA_WBLOCK_M sizeof(resa_f16)

/* The byte offset of a block's 16 bytes of low nibbles (all but Q8_0) */
static inline size_t resa_wblock_nibbles(enum resa_wtype t)
{
    switch (t) {
    case RESA_W_Q4_0: return offsetof(block_q4_0, qs);
    case RESA_W_Q4_1: return offsetof(block_q4_1, qs);
    case RESA_W_Q5_0: return offsetof(block_q5_0, qs);
    case RESA_W_Q5_1: return offsetof(block_q5_1, qs);
    default: return offsetof(block_iq4_nl, qs);
    }
}

/* The byte offset of a Q5 block's 32 fifth bits (a little-endian u32) */
static inline size_t resa_wblock_qh(enum resa_wtype t)
{
    return t == RESA_W_Q5_0 ? offsetof(block_q5_0, qh) : offsetof(block_q5_1, qh);
}

/* Tile limits of every gemm kernel. */
#define RESA_GEMM_MR 16                    /* weight rows per call (AMX's tile rows) */
#define RESA_GEMM_NC (2 * RESA_PANEL_COLS) /* activation columns per call */

/* s[c * lds + r] = dot(weight row r, activation column c) for r < nr,
 * c < nc (nr <= RESA_GEMM_MR, nc <= RESA_GEMM_NC), each bit-identical to
 * the same tier's vec_dot. w: nr weight rows, ldw bytes apart. a: int8
 * types: ceil(nc/8) consecutive panels of n/32 blocks (lda unused); float
 * types: f32 rows lda bytes apart. n as for vec_dot. */
#define decl_gemm_fn(name)                                                                   \
    void(name)(int64_t n, int nr, int nc, const void *w, size_t ldw, const void *a, size_t lda, \
               float *s, size_t lds)
typedef decl_gemm_fn(*resa_gemm_fn);

/* s[c * lds + r] = dot(weight row r, activation row c) for r < nr (any nr),
 * c < nc (1 <= nc <= RESA_GEMV_MAX_COLS), weight rows ldw bytes apart,
 * activation rows (each in the weight type's vec_dot_type) lda bytes apart,
 * each bit-identical to vec_dot: the matrix-vector product of decode, for
 * one sequence or a few decoded together (each weight row read once for
 * all of them). The x86 int8 versions put eight rows in the lanes of a
 * vector, so that the recipe's per-row chains run side by side; the x86
 * super-block ones unpack each weight super-block once for all activation
 * rows (simd/x86/kquant_rows_avx2.h); others loop over vec_dot. */
#define RESA_GEMV_MAX_COLS 8
#define decl_gemv_fn(name)                                                                    \
    void(name)(int64_t n, int nr, int nc, const void *w, size_t ldw, const void *a, size_t lda, \
               float *s, size_t lds)
typedef decl_gemv_fn(*resa_gemv_fn);

/* Activation quantizer: n floats -> vec_dot_type blocks (Q8_0, Q8_1, Q8_K),
 * bit-identical in every tier to the type's reference from_float. */
#define decl_quantize_fn(name) void(name)(const float *x, void *y, int64_t n)
typedef decl_quantize_fn(*resa_quantize_fn);

/* Row dequantizer: n elements of a type -> floats (bit-exact with the
 * type's reference to_float). */
typedef resa_to_float_fn resa_to_float_kernel;

typedef struct resa_dot_ctx {
    resa_vec_dot_fn vec_dot[RESA_TYPE_COUNT];      /* indexed by weight type */
    resa_gemv_fn gemv[RESA_TYPE_COUNT];            /* indexed by weight type */
    resa_gemm_fn gemm[RESA_TYPE_COUNT];            /* indexed by weight type */
    resa_quantize_fn quantize[RESA_TYPE_COUNT];    /* indexed by activation type (Q8_0, Q8_1, Q8_K) */
    resa_to_float_kernel to_float[RESA_TYPE_COUNT]; /* indexed by type; KV cache rows, BLAS path */
} resa_dot_ctx;

void dot_init_c(resa_dot_ctx *c);
void dot_init_x86(resa_dot_ctx *c, unsigned flags);
void dot_init_arm(resa_dot_ctx *c, unsigned flags);

/* A panel gemm's entry point: hands the weight kind to the tier's panel
 * gemm `impl` (activations are panels: lda unused). */
#define RESA_GEMM_PANEL(name, impl, kind)                       \
    decl_gemm_fn(name)                                          \
    {                                                           \
        (void)lda;                                              \
        impl(kind, n, nr, nc, w, ldw, a, s, lds);               \
    }

/* A gemm for the float types: the tier's vec_dot for every (r, c). */
#define RESA_GEMM_LOOP(name, vec_dot)                                                 \
    decl_gemm_fn(name)                                                                \
    {                                                                                 \
        for (int c = 0; c < nc; c++)                                                  \
            for (int r = 0; r < nr; r++)                                              \
                vec_dot(n, &s[(size_t)c * lds + r], (const char *)w + (size_t)r * ldw, \
                        (const char *)a + (size_t)c * lda);                           \
    }

/* A gemv as a loop over the tier's vec_dot. */
/* The eight-rows-in-lanes gemv kernels read eight rows side by side: eight
 * short streams that the hardware prefetchers follow poorly (measured on
 * Sapphire Rapids: half the speed from L3 or DRAM). So while a kernel works
 * on block b of one group of eight rows, it asks for the b-th of nb equal
 * shares (8 blocks' bytes) of the group RESA_GEMV_PREFETCH_GROUPS ahead:
 * with contiguous rows, the whole group by the end of the loop. Requests
 * past the last row are harmless (see prefetch.h). */
#define RESA_GEMV_PREFETCH_GROUPS 2

#define RESA_GEMV_LOOP(name, vec_dot)                                                     \
    decl_gemv_fn(name)                                                                    \
    {                                                                                     \
        for (int r = 0; r < nr; r++)                                                      \
            for (int c = 0; c < nc; c++)                                                  \
                vec_dot(n, &s[(size_t)c * lds + r], (const char *)w + (size_t)r * ldw,    \
                        (const char *)a + (size_t)c * lda);                               \
    }

/* The kernels of each ISA file, declared once here so that the definitions
 * (simd/x86/dot_<isa>.c, simd/arm/dot_neon.c) and the arch init functions
 * cannot drift. Only the files built for the host arch define them; the
 * init functions reference them under the same arch guards. */
#define RESA_DOT_DECLARE_ISA(isa)                 \
    decl_vec_dot_fn(dot_f32_##isa);               \
    decl_vec_dot_fn(dot_f16_##isa);               \
    decl_vec_dot_fn(dot_bf16_##isa);              \
    decl_vec_dot_fn(dot_q4_0_##isa);              \
    decl_vec_dot_fn(dot_q4_1_##isa);              \
    decl_vec_dot_fn(dot_q8_0_##isa);              \
    decl_gemv_fn(dot_gemv_f32_##isa);             \
    decl_gemv_fn(dot_gemv_f16_##isa);             \
    decl_gemv_fn(dot_gemv_bf16_##isa);            \
    decl_gemv_fn(dot_gemv_q4_0_##isa);            \
    decl_gemv_fn(dot_gemv_q4_1_##isa);            \
    decl_gemv_fn(dot_gemv_q8_0_##isa);            \
    decl_gemm_fn(dot_gemm_f32_##isa);             \
    decl_gemm_fn(dot_gemm_f16_##isa);             \
    decl_gemm_fn(dot_gemm_bf16_##isa);            \
    decl_gemm_fn(dot_gemm_q4_0_##isa);            \
    decl_gemm_fn(dot_gemm_q4_1_##isa);            \
    decl_gemm_fn(dot_gemm_q8_0_##isa);            \
    decl_quantize_fn(dot_quantize_q8_0_##isa);    \
    decl_quantize_fn(dot_quantize_q8_1_##isa);    \
    decl_quantize_fn(dot_quantize_q8_k_##isa);    \
    void dot_to_float_f16_##isa(const void *src, float *dst, int64_t n)
RESA_DOT_DECLARE_ISA(avx2);
RESA_DOT_DECLARE_ISA(neon);
/* AVX-512 (F/BW/DQ/VL): float dots and quantizers; its int8 kernels are AVX2's */
decl_vec_dot_fn(dot_f32_avx512);
decl_vec_dot_fn(dot_f16_avx512);
decl_vec_dot_fn(dot_bf16_avx512);
decl_gemv_fn(dot_gemv_f32_avx512);
decl_gemv_fn(dot_gemv_f16_avx512);
decl_gemv_fn(dot_gemv_bf16_avx512);
decl_gemm_fn(dot_gemm_f32_avx512);
decl_gemm_fn(dot_gemm_f16_avx512);
decl_gemm_fn(dot_gemm_bf16_avx512);
decl_quantize_fn(dot_quantize_q8_0_avx512);
decl_quantize_fn(dot_quantize_q8_1_avx512);
decl_quantize_fn(dot_quantize_q8_k_avx512);
/* The kernels of the types added after the first tiers (Q5_0, Q5_1,
 * IQ4_NL and the super-block types) on AVX2 (which the AVX-512 tier
 * without VNNI uses too), AVX-512 VNNI, NEON and NEON + dotprod. The gemms
 * of Q5_0, Q5_1 and IQ4_NL are the panel kernels of Q4_0/Q4_1/Q8_0 with
 * their own unpacking; the super-block gemms loop over the tier's vec_dot. */
#define RESA_DOT_DECLARE_K(isa)          \
    decl_gemm_fn(dot_gemm_q5_0_##isa);   \
    decl_gemm_fn(dot_gemm_q5_1_##isa);   \
    decl_gemm_fn(dot_gemm_iq4_nl_##isa); \
    decl_vec_dot_fn(dot_q5_0_##isa);     \
    decl_vec_dot_fn(dot_q5_1_##isa);     \
    decl_vec_dot_fn(dot_iq4_nl_##isa);   \
    decl_vec_dot_fn(dot_q2_k_##isa);     \
    decl_vec_dot_fn(dot_q3_k_##isa);     \
    decl_vec_dot_fn(dot_q4_k_##isa);     \
    decl_vec_dot_fn(dot_q5_k_##isa);     \
    decl_vec_dot_fn(dot_q6_k_##isa);     \
    decl_vec_dot_fn(dot_iq4_xs_##isa);   \
    decl_gemv_fn(dot_gemv_q5_0_##isa);   \
    decl_gemv_fn(dot_gemv_q5_1_##isa);   \
    decl_gemv_fn(dot_gemv_iq4_nl_##isa); \
    decl_gemv_fn(dot_gemv_q2_k_##isa);   \
    decl_gemv_fn(dot_gemv_q3_k_##isa);   \
    decl_gemv_fn(dot_gemv_q4_k_##isa);   \
    decl_gemv_fn(dot_gemv_q5_k_##isa);   \
    decl_gemv_fn(dot_gemv_q6_k_##isa);   \
    decl_gemv_fn(dot_gemv_iq4_xs_##isa); \
    decl_gemm_fn(dot_gemm_q2_k_##isa);   \
    decl_gemm_fn(dot_gemm_q3_k_##isa);   \
    decl_gemm_fn(dot_gemm_q4_k_##isa);   \
    decl_gemm_fn(dot_gemm_q5_k_##isa);   \
    decl_gemm_fn(dot_gemm_q6_k_##isa);   \
    decl_gemm_fn(dot_gemm_iq4_xs_##isa)
RESA_DOT_DECLARE_K(avx2);
RESA_DOT_DECLARE_K(neon);
RESA_DOT_DECLARE_K(dotprod);
RESA_DOT_DECLARE_K(avx512vnni); /* all but IQ4_XS's, which stays AVX2's */
/* int8 kernels only, on top of a full tier */
#define RESA_DOT_DECLARE_INT8(isa)      \
    decl_vec_dot_fn(dot_q4_0_##isa);    \
    decl_vec_dot_fn(dot_q4_1_##isa);    \
    decl_vec_dot_fn(dot_q8_0_##isa);    \
    decl_gemv_fn(dot_gemv_q4_0_##isa);  \
    decl_gemv_fn(dot_gemv_q4_1_##isa);  \
    decl_gemv_fn(dot_gemv_q8_0_##isa);  \
    decl_gemm_fn(dot_gemm_q4_0_##isa);  \
    decl_gemm_fn(dot_gemm_q4_1_##isa);  \
    decl_gemm_fn(dot_gemm_q8_0_##isa)
RESA_DOT_DECLARE_INT8(avx512vnni);
RESA_DOT_DECLARE_INT8(dotprod);
/* AMX tiles: the int8 gemms only (simd/x86/dot_amx.c) */
decl_gemm_fn(dot_gemm_q4_0_amx);
decl_gemm_fn(dot_gemm_q4_1_amx);
decl_gemm_fn(dot_gemm_q8_0_amx);
decl_gemm_fn(dot_gemm_q5_0_amx);
decl_gemm_fn(dot_gemm_q5_1_amx);
decl_gemm_fn(dot_gemm_iq4_nl_amx);

#endif
