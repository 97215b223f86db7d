/* SPDX-License-Identifier: MIT */
/* Weight products of the CUDA backend, y (rows, out) = x (rows, cols) . W^T,
 * W in its GGUF type, dequantized in registers (docs/design.md §3.9):
 *
 * - k_gemv, for passes of at most GEMV_ROWS rows (decode): one warp per
 *   output feature reads its weight row once for every row of the pass;
 *   each lane takes 32-element blocks lane, lane+32, ... and the warp sums
 *   the lanes. A row's result does not depend on the other rows.
 * - more rows (prompt, rectification, big batches) go to cuBLAS on tensor
 *   cores in split f16 (backend_cuda.cu's gemm_tc): with hi = f16(w) and
 *   lo = f16(w - hi), k_split_weight writes each weight row as [hi|hi|lo]
 *   and k_split_rows each activation row as [hi|lo|hi] (after scaling it by
 *   a power of two: no f16 overflow, no lost small parts), so one f16
 *   product over 3 x cols with f32 accumulation sums hi.hi + hi.lo + lo.hi:
 *   about 22 bits of each input, f32-like results at tensor-core speed.
 *   k_scale_rows undoes the rows' scales.
 * - k_gemm, the former CUDA-core path for more rows (64x64 output tiles,
 *   k-steps of one 32-element block dequantized into shared memory, 4x4
 *   outputs per thread, f32 accumulation), kept for RESA_CUDA_GEMM=tiled. */
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

/* W (n_out, cols) in its GGUF type -> (n_out, 3 cols) f16, rows [hi|hi|lo];
 * one thread per 8 elements. */
__global__ void k_split_weight(const uint8_t *w, size_t row_bytes, int type, int n_out, int cols, __half *out)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x, per_row = cols / 8;
    if (i >= (size_t)n_out * per_row)
        return;
    const int o = (int)(i / per_row), k0 = (int)(i % per_row) * 8;
    float v[8];
    dequant8(w + (size_t)o * row_bytes, type, k0, v);
    __half *h = out + (size_t)o * 3 * cols + k0;
    for (int j = 0; j < 8; j++) {
        const __half a = __float2half_rn(v[j]);
        h[j] = a;
        h[cols + j] = a;
        h[2 * cols + j] = __float2half_rn(v[j] - __half2float(a));
    }
}

/* Row r of x (n, cols) times 2^e[r], e[r] putting its largest |value| in
 * [2^13, 2^14), as the f16 row [hi|lo|hi] of out (n, 3 cols). One block of
 * 256 per row. */
__global__ void __launch_bounds__(256)
    k_split_rows(const float *x, int cols, __half *out, int *e)
{
    __shared__ float part[8];
    const int r = blockIdx.x;
    const float *xr = x + (size_t)r * cols;
    float m = 0.0f;
    for (int i = threadIdx.x; i < cols; i += blockDim.x)
        m = fmaxf(m, fabsf(xr[i]));
    for (int o = 16; o > 0; o >>= 1)
        m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    if ((threadIdx.x & 31) == 0)
        part[threadIdx.x >> 5] = m;
    __syncthreads();
    m = 0.0f;
    for (int i = 0; i < 8; i++)
        m = fmaxf(m, part[i]);
    int E = 0;
    if (m > 0.0f && isfinite(m))
        frexpf(m, &E);
    const int s = m > 0.0f && isfinite(m) ? 14 - E : 0;
    if (threadIdx.x == 0)
        e[r] = s;
    __half *h = out + (size_t)r * 3 * cols;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) {
        const float v = ldexpf(xr[i], s);
        const __half a = __float2half_rn(v);
        h[i] = a;
        h[cols + i] = __float2half_rn(v - __half2float(a));
        h[2 * cols + i] = a;
    }
}

/* y (n, n_out): row r times 2^-e[r]. */
__global__ void k_scale_rows(float *y, int n_out, size_t n, const int *e)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = ldexpf(y[i], -e[i / n_out]);
}

#endif
