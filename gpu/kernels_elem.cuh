/* SPDX-License-Identifier: MIT */
/* Element-wise kernels of the CUDA backend and the weight dequantizer they
 * share with the matmul kernels (docs/design.md §3.9). The formulas are the
 * scalar recipes of simd/elem_c.c; sums may be ordered differently, so the
 * results agree with the CPU within float rounding, not bit for bit. */
#ifndef RESA_GPU_KERNELS_ELEM_CUH
#define RESA_GPU_KERNELS_ELEM_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "types.h"

/* A 2-byte-aligned f16 at p (quant blocks are only 2-byte aligned). */
__device__ __forceinline__ float ld_f16(const uint8_t *p)
{
    return __half2float(__ushort_as_half(*(const unsigned short *)p));
}

/* Elements [k0, k0 + 8) of a weight row (k0 a multiple of 8) as floats,
 * in the GGUF block layouts of src/types.h. */
__device__ __forceinline__ void dequant8(const uint8_t *row, int type, int k0, float *out)
{
    switch (type) {
    case RESA_TYPE_F32: {
        const float4 *p = (const float4 *)(row + (size_t)k0 * 4);
        const float4 a = p[0], b = p[1];
        out[0] = a.x; out[1] = a.y; out[2] = a.z; out[3] = a.w;
        out[4] = b.x; out[5] = b.y; out[6] = b.z; out[7] = b.w;
        return;
    }
    case RESA_TYPE_F16: {
        const uint4 u = *(const uint4 *)(row + (size_t)k0 * 2);
        const __half2 *h = (const __half2 *)&u;
        for (int i = 0; i < 4; i++) {
            const float2 f = __half22float2(h[i]);
            out[2 * i] = f.x;
            out[2 * i + 1] = f.y;
        }
        return;
    }
    case RESA_TYPE_BF16: {
        const uint4 u = *(const uint4 *)(row + (size_t)k0 * 2);
        const uint32_t w[4] = { u.x, u.y, u.z, u.w };
        for (int i = 0; i < 4; i++) {
            out[2 * i] = __uint_as_float(w[i] << 16);
            out[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
        }
        return;
    }
    case RESA_TYPE_Q8_0: {
        const uint8_t *b = row + (size_t)(k0 / 32) * sizeof(block_q8_0);
        const float d = ld_f16(b);
        const int8_t *q = (const int8_t *)(b + 2) + k0 % 32;
        for (int i = 0; i < 8; i++)
            out[i] = (float)q[i] * d;
        return;
    }
    case RESA_TYPE_Q4_0: {
        const uint8_t *b = row + (size_t)(k0 / 32) * sizeof(block_q4_0);
        const float d = ld_f16(b);
        const int e = k0 % 32, hi = e >= 16;
        const uint8_t *q = b + 2 + (e & 15);
        for (int i = 0; i < 8; i++)
            out[i] = (float)((hi ? q[i] >> 4 : q[i] & 15) - 8) * d;
        return;
    }
    case RESA_TYPE_Q4_1: {
        const uint8_t *b = row + (size_t)(k0 / 32) * sizeof(block_q4_1);
        const float d = ld_f16(b), m = ld_f16(b + 2);
        const int e = k0 % 32, hi = e >= 16;
        const uint8_t *q = b + 4 + (e & 15);
        for (int i = 0; i < 8; i++)
            out[i] = (float)(hi ? q[i] >> 4 : q[i] & 15) * d + m;
        return;
    }
    default:
        for (int i = 0; i < 8; i++)
            out[i] = 0.0f;
    }
}

/* x[t] = embedding row tokens[t]; one block per row. */
__global__ void k_embed(const uint8_t *emb, size_t row_bytes, int type, const int32_t *tokens, int dim,
                        float *x)
{
    const int t = blockIdx.x;
    const uint8_t *row = emb + (size_t)tokens[t] * row_bytes;
    for (int k0 = threadIdx.x * 8; k0 < dim; k0 += blockDim.x * 8)
        dequant8(row, type, k0, x + (size_t)t * dim + k0);
}

__device__ __forceinline__ double warp_sum_d(double v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* y = x / rms(x) * w per row (the sum of squares in double, as the CPU's);
 * rows[] picks source rows (NULL: row t). One block of 256 per row. */
__global__ void k_rmsnorm(float *y, const float *x, const int *rows, const float *w, int dim, float eps)
{
    __shared__ double part[8];
    __shared__ float scale;
    const int t = blockIdx.x, src = rows ? rows[t] : t;
    const float *xr = x + (size_t)src * dim;
    double s = 0.0;
    for (int i = threadIdx.x; i < dim; i += blockDim.x)
        s += (double)(xr[i] * xr[i]);
    s = warp_sum_d(s);
    if ((threadIdx.x & 31) == 0)
        part[threadIdx.x >> 5] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double ss = 0.0;
        for (int i = 0; i < (int)(blockDim.x >> 5); i++)
            ss += part[i];
        scale = 1.0f / sqrtf((float)(ss / dim) + eps);
    }
    __syncthreads();
    float *yr = y + (size_t)t * dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x)
        yr[i] = (xr[i] * scale) * w[i];
}

__global__ void k_add_bias(float *x, const float *b, int dim, size_t n)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] += b[i % dim];
}

__global__ void k_add(float *x, const float *y, size_t n)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] += y[i];
}

/* g = silu(g) * u, silu(x) = x / (1 + e^-x) */
__global__ void k_swiglu(float *g, const float *u, size_t n)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        const float x = g[i];
        g[i] = x / (1.0f + expf(-x)) * u[i];
    }
}

/* RoPE of every head of every row at the row's angles cs (n_rot floats per
 * row: cos, sin of each rotated pair); neox: pairs (i, i + n_rot/2), else
 * (2i, 2i+1). One thread per (row, head, pair). */
__global__ void k_rope(float *x, const float *cs, int n_rows, int n_heads, int head_dim, int n_rot, int neox)
{
    const int half = n_rot / 2;
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)n_rows * n_heads * half)
        return;
    const int i = (int)(idx % half), h = (int)(idx / half % n_heads), t = (int)(idx / half / n_heads);
    float *p = x + ((size_t)t * n_heads + h) * head_dim;
    const float c = cs[(size_t)t * n_rot + 2 * i], s = cs[(size_t)t * n_rot + 2 * i + 1];
    const int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
    const float x0 = p[a], x1 = p[b];
    p[a] = x0 * c - x1 * s;
    p[b] = x0 * s + x1 * c;
}

#endif
