/* SPDX-License-Identifier: MIT */
/* The paged KV pool on the device (layout of docs/design.md §3.3): storing
 * rows, folding keys into the block summaries, attention (dense and
 * block-sparse, split over the keys and merged exactly) and block selection
 * (docs/design.md §1 steps 1-4, §3.9). T is float (f32 cache) or __half. */
#ifndef RESA_GPU_KERNELS_KV_CUH
#define RESA_GPU_KERNELS_KV_CUH

#include "kernels_matmul.cuh"

#define MAX_GROUP 8    /* query heads per KV head */
#define MAX_DPAIRS 4   /* head_dim <= 64 * MAX_DPAIRS */
#define ATTN_WARPS 4
#define MAX_PARTS 1024 /* parts of at least 64 keys: 32K keys of a KV head take 512 warps */
#define SELECT_THREADS 256 /* = 8 x 32: the scans below give each lane 8 entries */

/* Geometry of the pool, by value in every launch. */
struct kv_geom {
    int n_kv, d, bs, n_pages;
};

/* One row of a pass, as the KV and attention kernels see it. */
struct gpu_row {
    int pt_off;   /* its sequence's page table in the pass's table buffer */
    int pos;      /* its position: it attends keys of positions [0, pos] */
    int nkeys;    /* keys attended per KV head */
    int n_parts;  /* warps the keys are split over (a function of nkeys alone) */
    int part_off; /* its first part in the partial-state buffers */
    int sel_off;  /* sparse: its selections (n_kv lists of M block ids) in the selection buffer; -1: dense */
    int M;        /* blocks of [0, pos] */
};

/* A sparse row's selection work. */
struct gpu_select {
    int row;      /* in the pass */
    int M, total, n_local;
};

/* A run of positions [p0, p1) of one block whose keys fold into its summary
 * in order (a position at a block start resets it). */
struct gpu_fold {
    int pt_off, block, p0, p1;
};

__device__ __forceinline__ size_t page_elem(const kv_geom &g, int layer, int h, int page)
{
    return (((size_t)layer * g.n_kv + h) * g.n_pages + page) * g.bs * g.d;
}

__device__ __forceinline__ size_t row_elem(const kv_geom &g, const int *pt, int layer, int h, int pos)
{
    return page_elem(g, layer, h, pt[pos / g.bs]) + (size_t)(pos % g.bs) * g.d;
}

__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(__half v) { return __half2float(v); }
__device__ __forceinline__ void from_f(float *p, float v) { *p = v; }
__device__ __forceinline__ void from_f(__half *p, float v) { *p = __float2half_rn(v); }

/* 8 elements at p (16-byte aligned for f16: head_dim % 8 == 0) as floats. */
__device__ __forceinline__ void load8(const __half *p, float *out)
{
    const uint4 u = *(const uint4 *)p;
    const __half2 *h = (const __half2 *)&u;
    for (int i = 0; i < 4; i++) {
        const float2 f = __half22float2(h[i]);
        out[2 * i] = f.x;
        out[2 * i + 1] = f.y;
    }
}
__device__ __forceinline__ void load8(const float *p, float *out)
{
    const float4 a = ((const float4 *)p)[0], b = ((const float4 *)p)[1];
    out[0] = a.x; out[1] = a.y; out[2] = a.z; out[3] = a.w;
    out[4] = b.x; out[5] = b.y; out[6] = b.z; out[7] = b.w;
}
/* Elements c, c+1 (c even). */
__device__ __forceinline__ float2 load2(const __half *p) { return __half22float2(*(const __half2 *)p); }
__device__ __forceinline__ float2 load2(const float *p) { return *(const float2 *)p; }

/* Rows of ACT_K / ACT_V into their pages. Grid (rows, n_kv). */
template <typename T>
__global__ void k_kv_store(T *kc, T *vc, kv_geom g, int layer, const gpu_row *rows, const int *pagetab,
                           const float *k, const float *v)
{
    const int t = blockIdx.x, h = blockIdx.y;
    const gpu_row R = rows[t];
    const size_t dst = row_elem(g, pagetab + R.pt_off, layer, h, R.pos);
    const size_t src = ((size_t)t * g.n_kv + h) * g.d;
    for (int j = threadIdx.x; j < g.d; j += blockDim.x) {
        from_f(kc + dst + j, k[src + j]);
        from_f(vc + dst + j, v[src + j]);
    }
}

/* Folds the stored keys of each chain's runs into their summaries, runs in
 * order (a sequence's rectified block, then its next append). Grid
 * (chains, n_kv, layers from layer0); one thread per element. */
template <typename T>
__global__ void k_kv_fold(const T *kc, T *kmin, T *kmax, kv_geom g, int layer0, const gpu_fold *folds,
                          const int *chain_start, const int *pagetab)
{
    const int c = blockIdx.x, h = blockIdx.y, layer = layer0 + blockIdx.z;
    for (int f = chain_start[c]; f < chain_start[c + 1]; f++) {
        const gpu_fold F = folds[f];
        const int *pt = pagetab + F.pt_off;
        const size_t s = (((size_t)layer * g.n_kv + h) * g.n_pages + pt[F.block]) * g.d;
        for (int j = threadIdx.x; j < g.d; j += blockDim.x)
            for (int p = F.p0; p < F.p1; p++) {
                const T key = kc[row_elem(g, pt, layer, h, p) + j];
                const float x = to_f(key);
                if (p % g.bs == 0) {
                    kmin[s + j] = key;
                    kmax[s + j] = key;
                    continue;
                }
                if (x < to_f(kmin[s + j]))
                    kmin[s + j] = key;
                if (x > to_f(kmax[s + j]))
                    kmax[s + j] = key;
            }
    }
}

/* Positions [n_past, n_total) become copies of [0, n_past). Grid
 * (n_total - n_past, n_kv, n_layer). */
template <typename T>
__global__ void k_kv_repeat(T *kc, T *vc, kv_geom g, const int *pt, int n_past)
{
    const int p = n_past + blockIdx.x, h = blockIdx.y, layer = blockIdx.z;
    const size_t dst = row_elem(g, pt, layer, h, p), src = row_elem(g, pt, layer, h, p % n_past);
    for (int j = threadIdx.x; j < g.d; j += blockDim.x) {
        kc[dst + j] = kc[src + j];
        vc[dst + j] = vc[src + j];
    }
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Position of the i-th attended key of a row's KV head h: dense, i; sparse,
 * within the i/bs-th selected block. */
__device__ __forceinline__ int key_pos(const int *sel, int bs, int i)
{
    return sel ? sel[i / bs] * bs + i % bs : i;
}

/* Attention partials: grid (rows * n_kv, ceil(max parts / ATTN_WARPS)),
 * ATTN_WARPS warps; each warp is one part, a contiguous range of the row's
 * attended keys, for all query heads of the group (each K/V row read once
 * for the group). Lane i scores key base+i; the warp then accumulates
 * p * V with lanes over the columns (two each). The block merges its warps'
 * (m, l, o) in shared memory, in warp order, and leaves one state per query
 * head: a block part; k_attn_merge combines a row's block parts exactly
 * (flash-decoding). */
template <typename T>
__global__ void __launch_bounds__(32 * ATTN_WARPS)
    k_attn_part(const T *kc, const T *vc, kv_geom g, int layer, int group, const gpu_row *rows,
                const int *pagetab, const int *selbuf, const float *q, float scale, float *pm, float *pl,
                float *po)
{
    extern __shared__ float sq[]; /* (group, d), then the warps' states: m, l (warps, group), o (warps, group, d) */
    const int row = blockIdx.x / g.n_kv, h = blockIdx.x % g.n_kv, d = g.d;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const gpu_row R = rows[row];
    if (blockIdx.y * ATTN_WARPS >= R.n_parts) /* the whole block: no part of this row */
        return;
    const float *qr = q + ((size_t)row * g.n_kv * group + (size_t)h * group) * d;
    for (int i = threadIdx.x; i < group * d; i += blockDim.x)
        sq[i] = qr[i];
    __syncthreads();
    const int part = blockIdx.y * ATTN_WARPS + warp, active = part < R.n_parts;
    const int a = active ? (int)((long long)R.nkeys * part / R.n_parts) : 0;
    const int b = active ? (int)((long long)R.nkeys * (part + 1) / R.n_parts) : 0;
    const int *pt = pagetab + R.pt_off;
    const int *sel = R.sel_off >= 0 ? selbuf + R.sel_off + (size_t)h * R.M : nullptr;
    float m[MAX_GROUP], l[MAX_GROUP], o[MAX_GROUP][MAX_DPAIRS][2];
#pragma unroll
    for (int gi = 0; gi < MAX_GROUP; gi++) {
        m[gi] = -INFINITY;
        l[gi] = 0.0f;
#pragma unroll
        for (int t = 0; t < MAX_DPAIRS; t++)
            o[gi][t][0] = o[gi][t][1] = 0.0f;
    }
    for (int base = a; base < b; base += 32) {
        const int i = base + lane, valid = i < b, n = b - base < 32 ? b - base : 32;
        const int pos = valid ? key_pos(sel, g.bs, i) : 0;
        const size_t off = valid ? row_elem(g, pt, layer, h, pos) : 0;
        float s[MAX_GROUP];
#pragma unroll
        for (int gi = 0; gi < MAX_GROUP; gi++)
            s[gi] = 0.0f;
        if (valid)
            for (int c = 0; c < d; c += 8) {
                float kv[8];
                load8(kc + off + c, kv);
#pragma unroll
                for (int gi = 0; gi < MAX_GROUP; gi++)
                    if (gi < group)
#pragma unroll
                        for (int e = 0; e < 8; e++)
                            s[gi] += sq[gi * d + c + e] * kv[e];
            }
        float p[MAX_GROUP];
#pragma unroll
        for (int gi = 0; gi < MAX_GROUP; gi++) {
            if (gi >= group)
                break;
            const float sc = valid ? s[gi] * scale : -INFINITY;
            const float mn = fmaxf(m[gi], warp_max(sc));
            const float alpha = expf(m[gi] - mn); /* 0 on the first tile: m = -inf, mn finite */
            p[gi] = valid ? expf(sc - mn) : 0.0f;
            l[gi] = l[gi] * alpha + warp_sum(p[gi]);
            m[gi] = mn;
#pragma unroll
            for (int t = 0; t < MAX_DPAIRS; t++) {
                o[gi][t][0] *= alpha;
                o[gi][t][1] *= alpha;
            }
        }
        for (int j = 0; j < n; j++) {
            const size_t vo = __shfl_sync(0xffffffffu, off, j);
#pragma unroll
            for (int t = 0; t < MAX_DPAIRS; t++) {
                const int c = 2 * lane + 64 * t;
                const float2 vv = c < d ? load2(vc + vo + c) : make_float2(0.0f, 0.0f);
                const float v0 = vv.x, v1 = vv.y;
#pragma unroll
                for (int gi = 0; gi < MAX_GROUP; gi++) {
                    if (gi >= group)
                        break;
                    const float pj = __shfl_sync(0xffffffffu, p[gi], j);
                    o[gi][t][0] += pj * v0;
                    o[gi][t][1] += pj * v1;
                }
            }
        }
    }
    float *wm = sq + group * d, *wl = wm + ATTN_WARPS * group, *wo = wl + ATTN_WARPS * group;
#pragma unroll
    for (int gi = 0; gi < MAX_GROUP; gi++) {
        if (gi >= group)
            break;
        if (lane == 0) {
            wm[warp * group + gi] = m[gi];
            wl[warp * group + gi] = l[gi];
        }
#pragma unroll
        for (int t = 0; t < MAX_DPAIRS; t++) {
            const int c = 2 * lane + 64 * t;
            if (c < d) {
                wo[(warp * group + gi) * d + c] = o[gi][t][0];
                wo[(warp * group + gi) * d + c + 1] = o[gi][t][1];
            }
        }
    }
    __syncthreads();
    const size_t gp = ((size_t)(R.part_off + blockIdx.y) * g.n_kv + h) * group;
    for (int i = threadIdx.x; i < group * d; i += blockDim.x) {
        const int gi = i / d, c = i % d;
        float M = -INFINITY, L = 0.0f, O = 0.0f;
        for (int w = 0; w < ATTN_WARPS; w++)
            M = fmaxf(M, wm[w * group + gi]);
        for (int w = 0; w < ATTN_WARPS; w++) {
            const float mw = wm[w * group + gi];
            if (mw == -INFINITY) /* an inactive warp */
                continue;
            const float e = expf(mw - M);
            L += e * wl[w * group + gi];
            O += e * wo[(w * group + gi) * d + c];
        }
        po[(gp + gi) * d + c] = O;
        if (c == 0) {
            pm[gp + gi] = M;
            pl[gp + gi] = L;
        }
    }
}

static_assert(MAX_PARTS / ATTN_WARPS <= 256, "k_attn_merge takes a row's block parts one per thread");

/* out = sum_s e^(m_s - M) o_s / sum_s e^(m_s - M) l_s over a row's block
 * parts: grid (rows, n_head), 256 threads; the max and the sum of the
 * weights by tree reductions over the parts (a fixed order), then one
 * thread per column sums the parts' o. */
__global__ void __launch_bounds__(256)
    k_attn_merge(const gpu_row *rows, int n_kv, int group, int d, const float *pm, const float *pl,
                 const float *po, float *out)
{
    __shared__ float sw[256], red[256];
    const int row = blockIdx.x, qh = blockIdx.y, h = qh / group, gi = qh % group, tid = threadIdx.x;
    const gpu_row R = rows[row];
    const int nb = (R.n_parts + ATTN_WARPS - 1) / ATTN_WARPS;
    const size_t base = ((size_t)R.part_off * n_kv + h) * group + gi, stride = (size_t)n_kv * group;
    const float ms = tid < nb ? pm[base + tid * stride] : -INFINITY;
    red[tid] = ms;
    __syncthreads();
    for (int o = 128; o > 0; o >>= 1) {
        if (tid < o)
            red[tid] = fmaxf(red[tid], red[tid + o]);
        __syncthreads();
    }
    const float M = red[0];
    __syncthreads();
    const float w = tid < nb && ms != -INFINITY ? expf(ms - M) : 0.0f;
    sw[tid] = w;
    red[tid] = tid < nb ? w * pl[base + tid * stride] : 0.0f;
    __syncthreads();
    for (int o = 128; o > 0; o >>= 1) {
        if (tid < o)
            red[tid] += red[tid + o];
        __syncthreads();
    }
    const float L = red[0];
    for (int c = tid; c < d; c += blockDim.x) {
        float acc = 0.0f;
#pragma unroll 4
        for (int s = 0; s < nb; s++)
            acc += sw[s] * po[(base + s * stride) * d + c];
        out[((size_t)row * n_kv * group + qh) * d + c] = M == -INFINITY ? 0.0f : acc / L;
    }
}

/* The selection's total order as one integer, as blocks.c's rank_key: a
 * larger key is a better block (higher score, then lower index; NaN lowest,
 * -0 equal to +0). */
__device__ __forceinline__ unsigned long long rank_key(float s, int i)
{
    if (isnan(s))
        s = -INFINITY;
    if (s == 0.0f)
        s = 0.0f;
    unsigned b = __float_as_uint(s);
    b = b & 0x80000000u ? ~b : b | 0x80000000u;
    return (unsigned long long)b << 32 | (unsigned)~(unsigned)i;
}

#define SCORE_WARPS 8

/* Block scores of the sparse rows (docs/design.md §1 steps 1-2): grid
 * (selections * n_kv, blocks / SCORE_WARPS), a warp per candidate block,
 * lanes over the head dimension (the pooled query formed per lane, the
 * summaries read coalesced); lane 0 writes the block's selection key. */
template <typename T>
__global__ void __launch_bounds__(32 * SCORE_WARPS)
    k_score(const T *kmin, const T *kmax, kv_geom g, int layer, int group, const gpu_select *sels,
            const gpu_row *rows, const int *pagetab, const float *q, unsigned long long *keys, int key_stride)
{
    const int si = blockIdx.x / g.n_kv, h = blockIdx.x % g.n_kv, d = g.d, lane = threadIdx.x & 31;
    const gpu_select S = sels[si];
    const int cand = S.M - (S.n_local < S.M ? S.n_local : S.M);
    const int i = blockIdx.y * SCORE_WARPS + (threadIdx.x >> 5);
    if (i >= cand)
        return;
    const gpu_row R = rows[S.row];
    const float *qr = q + ((size_t)S.row * g.n_kv * group + (size_t)h * group) * d;
    const size_t off = (((size_t)layer * g.n_kv + h) * g.n_pages + pagetab[R.pt_off + i]) * d;
    const float inv = 1.0f / (float)group;
    float s = 0.0f;
    for (int j = lane; j < d; j += 32) {
        float qs = 0.0f;
        for (int gi = 0; gi < group; gi++)
            qs += qr[(size_t)gi * d + j];
        const float qb = qs * inv, a = qb * to_f(kmax[off + j]), b = qb * to_f(kmin[off + j]);
        s += a > b ? a : b;
    }
    s = warp_sum(s);
    if (lane == 0)
        keys[((size_t)si * g.n_kv + h) * key_stride + i] = rank_key(s, i);
}

/* Selection for one sparse row and KV head (one block), from k_score's
 * keys: the r-th largest key of the candidates by an 8-bit radix select,
 * then the chosen ids in ascending order (the last n_local blocks always). */
__global__ void __launch_bounds__(SELECT_THREADS)
    k_select(int n_kv, const gpu_select *sels, const gpu_row *rows, const unsigned long long *keys, int key_stride,
             int *selbuf)
{
    __shared__ unsigned hist[256];
    __shared__ unsigned long long prefix, mask;
    __shared__ int rank, scan[SELECT_THREADS];
    const int si = blockIdx.x, h = blockIdx.y, tid = threadIdx.x;
    const gpu_select S = sels[si];
    const gpu_row R = rows[S.row];
    const int M = S.M, forced = S.n_local < M ? S.n_local : M, cand = M - forced, r = S.total - forced;
    const unsigned long long *key = keys + ((size_t)si * n_kv + h) * key_stride;
    if (tid == 0) {
        prefix = 0;
        mask = 0;
        rank = r - 1; /* 0: the largest */
    }
    __syncthreads();
    if (r > 0)
        for (int shift = 56; shift >= 0; shift -= 8) {
            hist[tid] = 0; /* SELECT_THREADS == 256 bins */
            __syncthreads();
            for (int i = tid; i < cand; i += blockDim.x)
                if ((key[i] & mask) == prefix)
                    atomicAdd(&hist[(key[i] >> shift) & 255], 1u);
            __syncthreads();
            if (tid < 32) { /* lane l holds bins 255-8l down to 248-8l */
                unsigned cnt[8], tot = 0;
                for (int i = 0; i < 8; i++)
                    tot += cnt[i] = hist[255 - 8 * tid - i];
                unsigned incl = tot;
                for (int o = 1; o < 32; o <<= 1) {
                    const unsigned v = __shfl_up_sync(0xffffffffu, incl, o);
                    incl += tid >= o ? v : 0;
                }
                const unsigned excl = incl - tot, want = (unsigned)rank;
                if (excl <= want && want < incl) { /* exactly one lane */
                    unsigned above = excl;
                    int bin = 255 - 8 * tid - 7;
                    for (int i = 0; i < 8; i++) {
                        if (above + cnt[i] > want) {
                            bin = 255 - 8 * tid - i;
                            break;
                        }
                        above += cnt[i];
                    }
                    rank = (int)(want - above);
                    prefix |= (unsigned long long)bin << shift;
                    mask |= 255ull << shift;
                }
            }
            __syncthreads();
        }
    const unsigned long long threshold = prefix;
    /* ascending compaction: thread tid owns blocks [tid*chunk, (tid+1)*chunk) */
    const int chunk = (M + SELECT_THREADS - 1) / SELECT_THREADS, i0 = tid * chunk;
    const int i1 = i0 + chunk < M ? i0 + chunk : M;
    int cnt = 0;
    for (int i = i0; i < i1; i++)
        cnt += i >= cand || (r > 0 && key[i] >= threshold);
    scan[tid] = cnt;
    __syncthreads();
    if (tid < 32) { /* exclusive scan of the 256 counts: lane l sums threads 8l..8l+7 */
        int c8[8], tot = 0;
        for (int i = 0; i < 8; i++)
            tot += c8[i] = scan[8 * tid + i];
        int incl = tot;
        for (int o = 1; o < 32; o <<= 1) {
            const int v = __shfl_up_sync(0xffffffffu, incl, o);
            incl += tid >= o ? v : 0;
        }
        int run = incl - tot;
        for (int i = 0; i < 8; i++) {
            scan[8 * tid + i] = run;
            run += c8[i];
        }
    }
    __syncthreads();
    int *out = selbuf + R.sel_off + (size_t)h * M, n = scan[tid];
    for (int i = i0; i < i1; i++)
        if (i >= cand || (r > 0 && key[i] >= threshold))
            out[n++] = i;
}

#endif
