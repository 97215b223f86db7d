/* SPDX-License-Identifier: MIT */
/* Tensor element types: ids as in GGUF/ggml, block layouts, and one table of
 * traits. The scalar to_float / from_float here are the specification that
 * every SIMD kernel is tested against. */
#ifndef RESA_TYPES_H
#define RESA_TYPES_H

#include <stddef.h>
#include <stdint.h>

enum resa_type {
    RESA_TYPE_F32 = 0,
    RESA_TYPE_F16 = 1,
    RESA_TYPE_Q4_0 = 2,
    RESA_TYPE_Q4_1 = 3,
    RESA_TYPE_Q5_0 = 6,
    RESA_TYPE_Q5_1 = 7,
    RESA_TYPE_Q8_0 = 8,
    RESA_TYPE_Q8_1 = 9, /* activations only (dot partner of Q4_1, Q5_1) */
    RESA_TYPE_Q2_K = 10,
    RESA_TYPE_Q3_K = 11,
    RESA_TYPE_Q4_K = 12,
    RESA_TYPE_Q5_K = 13,
    RESA_TYPE_Q6_K = 14,
    RESA_TYPE_Q8_K = 15, /* activations only (dot partner of the K-quants and IQ4_XS) */
    RESA_TYPE_IQ4_NL = 20,
    RESA_TYPE_IQ4_XS = 23,
    RESA_TYPE_BF16 = 30,
    RESA_TYPE_COUNT = 31
};

#define QK4_0 32
#define QK4_1 32
#define QK8_0 32
#define QK8_1 32
#define QK5_0 32
#define QK5_1 32
#define QK4_NL 32
#define QK_K 256 /* elements of a K-quant super-block */
#define K_SCALE_SIZE 12

typedef uint16_t resa_f16;  /* IEEE half, raw bits */
typedef uint16_t resa_bf16; /* bfloat16, raw bits */

/* value = (nibble - 8) * d; nibble j of byte i: low -> element i, high -> element i+16 */
typedef struct { resa_f16 d; uint8_t qs[QK4_0 / 2]; } block_q4_0;
/* value = nibble * d + m, same nibble order */
typedef struct { resa_f16 d; resa_f16 m; uint8_t qs[QK4_1 / 2]; } block_q4_1;
/* value = q * d */
typedef struct { resa_f16 d; int8_t qs[QK8_0]; } block_q8_0;
/* value = q * d; s = d * sum(q) (saves the Q4_1 dot a pass) */
typedef struct { resa_f16 d; resa_f16 s; int8_t qs[QK8_1]; } block_q8_1;

/* value = (q - 16) * d, q = 4 low bits (qs, as Q4_0) | bit j of qh (little-endian u32) << 4 */
typedef struct { resa_f16 d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; } block_q5_0;
/* value = q * d + m, q as Q5_0 */
typedef struct { resa_f16 d; resa_f16 m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; } block_q5_1;
/* value = kvalues_iq4nl[nibble] * d, nibbles as Q4_0 */
typedef struct { resa_f16 d; uint8_t qs[QK4_NL / 2]; } block_iq4_nl;

/* K-quants: super-blocks of 256 elements in sub-blocks of 16 or 32, each
 * with small integer scales under fp16 super-scales (ggml's layouts). */
/* value = d * sc * q - dmin * m, q 2 bits; scales[i] = sc | m << 4 per 16 */
typedef struct { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; resa_f16 d; resa_f16 dmin; } block_q2_K;
/* value = d * (sc - 32) * (q - 4 if hmask bit clear else q), q 2 low bits; 6-bit sc per 16 */
typedef struct { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; resa_f16 d; } block_q3_K;
/* value = d * sc * q - dmin * m, q 4 bits; 6-bit sc and m per 32, packed in 12 bytes */
typedef struct { resa_f16 d; resa_f16 dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; } block_q4_K;
/* as Q4_K with a fifth bit per element in qh */
typedef struct { resa_f16 d; resa_f16 dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } block_q5_K;
/* value = d * sc * (q - 32), q 6 bits (4 in ql, 2 in qh); int8 sc per 16 */
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; resa_f16 d; } block_q6_K;
/* value = d * (ls - 32) * kvalues_iq4nl[nibble]; 6-bit ls per 32 */
typedef struct { resa_f16 d; uint16_t scales_h; uint8_t scales_l[QK_K / 64]; uint8_t qs[QK_K / 2]; } block_iq4_xs;
/* activations: value = q * d; bsums = sums of q over each 16 */
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } block_q8_K;

/* The 16 non-uniform levels of IQ4_NL and IQ4_XS. */
extern const int8_t resa_kvalues_iq4nl[16];

/* A K-quant (or IQ4_XS) super-block as integers, the form every dot tier
 * computes from: value i = d * sc[i / 16] * q[i] - dmin * m[i / 16]. */
typedef struct {
    int8_t q[QK_K];
    int16_t sc[QK_K / 16];
    int16_t m[QK_K / 16];
    float d, dmin;
} resa_kblock;

/* The 32 values of a Q5_0 (q - 16) or Q5_1 (q) block, in element order. */
void resa_q5_values(enum resa_type t, const void *blk, int8_t q[32]);

/* Unpacks super-block b of a row of type t (a K-quant or IQ4_XS). */
void resa_kblock_unpack(enum resa_type t, const void *row, int64_t b, resa_kblock *k);

typedef void (*resa_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*resa_from_float_fn)(const float *src, void *dst, int64_t n);

typedef struct resa_type_traits {
    const char *name;
    int block_size;           /* elements per block */
    size_t type_size;         /* bytes per block */
    resa_to_float_fn to_float;     /* reference dequantizer; n multiple of block_size */
    resa_from_float_fn from_float; /* reference quantizer (round to nearest) */
    enum resa_type vec_dot_type;   /* activation format the dot kernel wants */
} resa_type_traits;

/* 1 for the types whose dot partner is Q8_K (super-blocks of 256). */
int resa_type_is_k(enum resa_type t);

/* NULL when resa has no kernels for the id (the activation-only Q8_1 and
 * Q8_K have traits: type_is_weight tells weights apart). */
const resa_type_traits *type_traits_get(uint32_t type);
/* 1 for the types a model's tensors may have (Q8_1 and Q8_K are activation
 * formats only: no kernel takes them as weights). */
int type_is_weight(uint32_t type);
/* Bytes of a row of n elements; 0 if n is not a multiple of the block size. */
size_t type_row_size(enum resa_type type, int64_t n);

float type_f16_to_f32(resa_f16 h);
resa_f16 type_f32_to_f16(float f);   /* round to nearest even */
float type_bf16_to_f32(resa_bf16 h);
resa_bf16 type_f32_to_bf16(float f); /* round to nearest even */

#endif
