/* SPDX-License-Identifier: MIT */
/* Weight products of the CUDA backend, y (rows, out) = x (rows, cols) . W^T,
 * W in its GGUF type, dequantized in registers (docs/design.md §3.9):
 *
 * - k_gemv, for passes of at most GEMV_ROWS rows (decode): one warp per
 *   output feature reads its weight row once for every row of the pass;
 *   each lane takes 32-element blocks lane, lane+32, ... and the warp sums
 *   the lanes. A row's result does not depend on the other rows.
 * - k_gemm, for more rows (prompt, rectification, big batches): 64x64 output
 *   tiles, k-steps of one 32-element block dequantized into shared memory,
 *   4x4 outputs per thread, f32 accumulation. CUDA cores only (tensor cores
 *   are a later step). */
#ifndef RESA_GPU_KERNELS_MATMUL_CUH
#define RESA_GPU_KERNELS_MATMUL_CUH

#include "kernels_elem.cuh"

#define GEMV_ROWS 8
#define GEMV_WARPS 4

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__global__ void __launch_bounds__(32 * GEMV_WARPS)
    k_gemv(const uint8_t *w, size_t row_bytes, int type, int n_out, int cols, const float *x, int n_rows,
           float *y)
{
    const int lane = threadIdx.x & 31, o = blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5);
    if (o >= n_out)
        return;
    const uint8_t *row = w + (size_t)o * row_bytes;
    float acc[GEMV_ROWS];
    for (int r = 0; r < GEMV_ROWS; r++)
        acc[r] = 0.0f;
    for (int kb = lane; kb * 32 < cols; kb += 32) {
        float wv[32];
        for (int i = 0; i < 4; i++)
            dequant8(row, type, kb * 32 + 8 * i, wv + 8 * i);
        for (int r = 0; r < GEMV_ROWS; r++) {
            if (r >= n_rows)
                break;
            const float4 *xr = (const float4 *)(x + (size_t)r * cols + kb * 32);
            float s = 0.0f;
            for (int i = 0; i < 8; i++) {
                const float4 v = xr[i];
                s += wv[4 * i] * v.x + wv[4 * i + 1] * v.y + wv[4 * i + 2] * v.z + wv[4 * i + 3] * v.w;
            }
            acc[r] += s;
        }
    }
    for (int r = 0; r < GEMV_ROWS; r++) {
        if (r >= n_rows)
            break;
        const float s = warp_sum(acc[r]);
        if (lane == 0)
            y[(size_t)r * n_out + o] = s;
    }
}

#define GEMM_T 64 /* outputs and rows per tile */
#define GEMM_K 32 /* one quant block per k-step */

__global__ void __launch_bounds__(256)
    k_gemm(const uint8_t *w, size_t row_bytes, int type, int n_out, int cols, const float *x, int n_rows,
           float *y)
{
    __shared__ float ws[GEMM_T][GEMM_K + 1], xs[GEMM_T][GEMM_K + 1];
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const int o0 = blockIdx.x * GEMM_T, r0 = blockIdx.y * GEMM_T;
    float acc[4][4] = {};
    /* loader: row tid/4 of the tile, elements (tid%4)*8 .. +8 of the k-step */
    const int lr = tid >> 2, lk = (tid & 3) * 8;
    for (int k = 0; k < cols; k += GEMM_K) {
        float v[8];
        if (o0 + lr < n_out)
            dequant8(w + (size_t)(o0 + lr) * row_bytes, type, k + lk, v);
        else
            for (int i = 0; i < 8; i++)
                v[i] = 0.0f;
        for (int i = 0; i < 8; i++)
            ws[lr][lk + i] = v[i];
        if (r0 + lr < n_rows) {
            const float4 *xp = (const float4 *)(x + (size_t)(r0 + lr) * cols + k + lk);
            const float4 a = xp[0], b = xp[1];
            xs[lr][lk] = a.x; xs[lr][lk + 1] = a.y; xs[lr][lk + 2] = a.z; xs[lr][lk + 3] = a.w;
            xs[lr][lk + 4] = b.x; xs[lr][lk + 5] = b.y; xs[lr][lk + 6] = b.z; xs[lr][lk + 7] = b.w;
        } else {
            for (int i = 0; i < 8; i++)
                xs[lr][lk + i] = 0.0f;
        }
        __syncthreads();
        for (int kk = 0; kk < GEMM_K; kk++) {
            float a[4], b[4];
            for (int i = 0; i < 4; i++) {
                a[i] = ws[tx + 16 * i][kk];
                b[i] = xs[ty + 16 * i][kk];
            }
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                    acc[i][j] += a[i] * b[j];
        }
        __syncthreads();
    }
    for (int j = 0; j < 4; j++) {
        const int r = r0 + ty + 16 * j;
        if (r >= n_rows)
            continue;
        for (int i = 0; i < 4; i++) {
            const int o = o0 + tx + 16 * i;
            if (o < n_out)
                y[(size_t)r * n_out + o] = acc[i][j];
        }
    }
}

#endif
