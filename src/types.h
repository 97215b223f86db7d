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
    RESA_TYPE_Q8_0 = 8,
    RESA_TYPE_Q8_1 = 9, /* activations only (dot partner of Q4_1) */
    RESA_TYPE_BF16 = 30,
    RESA_TYPE_COUNT = 31
};

#define QK4_0 32
#define QK4_1 32
#define QK8_0 32
#define QK8_1 32

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

/* NULL when the id is unknown or not a weight type we support. */
const resa_type_traits *type_traits_get(uint32_t type);
/* Bytes of a row of n elements; 0 if n is not a multiple of the block size. */
size_t type_row_size(enum resa_type type, int64_t n);

float type_f16_to_f32(resa_f16 h);
resa_f16 type_f32_to_f16(float f);   /* round to nearest even */
float type_bf16_to_f32(resa_bf16 h);
resa_bf16 type_f32_to_bf16(float f); /* round to nearest even */

/* The names these had before internal functions lost the public resa_
 * prefix (docs/design.md §3.9), for the weight-product kernels (simd/dot*,
 * src/matmul.c) until they are renamed with them. Only the new names are
 * symbols. */
#define resa_type_traits_get type_traits_get
#define resa_row_size type_row_size
#define resa_f16_to_f32 type_f16_to_f32
#define resa_f32_to_f16 type_f32_to_f16
#define resa_bf16_to_f32 type_bf16_to_f32

#endif
