// GEMM kernels per ISA (see kernels/gemm/gemm.h for the contract).
//
// Layout of packed B (private to each ISA's table, described by its `nr`): ceil(N / NR) column
// panels of NR columns, zero-padded; panel p holds B[k, p*NR + j] at p*K*NR + k*NR + j.
//
// gemm loops (Goto/BLIS with the roles of A and B swapped, so that only a small A buffer is
// needed and it lives on the stack):
//   for each block of panels (KC x NC of packed B, sized to stay in L2)
//     for each KC slice of K (whole K up to kKcMax)
//       for each MR-row strip of A (read in place when row-major or transposed, else packed
//       into a stack buffer; either way it stays in L1 across the panels)
//         for each NR panel of the block: micro-kernel MR x NR, accumulators in registers
// The micro-kernel loads C (accumulate, or a later KC slice) or starts from zero, runs the rank-1
// updates in k order, and on the last KC slice adds the bias and applies the activation before
// storing. Every C element therefore sees the same operations in the same order whatever the
// tile it falls in, so any split of M and N over threads gives bitwise-identical results.
//
// gemm_rowb runs the same loops on a row-major B read in place (only a partial last panel comes
// packed); gemv is the N == 1 case as vector dot products.
//
// Tiles (rows x columns): avx512 12x32 f32 / 12x16 f64 (24 zmm accumulators; 14x32 measured
// slightly slower on Zen 5); avx2 6x16 / 6x8; base (SSE2/NEON) 6x8 / 6x4; scalar: plain
// reference loops over 8-wide panels. All written once over simd/vec.h: GCC keeps the unrolled
// accumulator arrays in registers and emits broadcast + FMA (checked in the avx512 disassembly).
#include <cmath>

#include "kernels/gemm/gemm.h"
#include "simd/vec.h"
#include "simd/vmath.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace cnnext {
namespace CNNEXT_ISA_NS {
namespace {

#if CNNEXT_VEC_BYTES == 64
constexpr int kMR = 12;
#else
constexpr int kMR = 6;
#endif
constexpr int kNV = 2;                       // vectors per micro-tile row
constexpr int64_t kKcMax = 384;              // K slice per pass (C reloaded between slices)
constexpr int64_t kL2Bytes = 384 * 1024;     // budget for the KC x NC block of packed B

template <class T>
constexpr int nr_of() {
  return CNNEXT_VEC_BYTES == 0 ? 8 : kNV * kWidth<T>;
}

template <class T>
int64_t packed_b_size(int64_t K, int64_t N) {
  constexpr int NR = nr_of<T>();
  return (N + NR - 1) / NR * NR * K;
}

template <class T>
void pack_b(int64_t K, int64_t N, const T* B, int64_t rs_b, int64_t cs_b, T* packed) {
  constexpr int NR = nr_of<T>();
  for (int64_t n0 = 0; n0 < N; n0 += NR) {
    const int64_t nc = N - n0 < NR ? N - n0 : NR;
    for (int64_t k = 0; k < K; ++k) {
      const T* b = B + k * rs_b + n0 * cs_b;
      T* p = packed + k * NR;
      int64_t j = 0;
      if (cs_b == 1)
        for (; j < nc; ++j) p[j] = b[j];
      else
        for (; j < nc; ++j) p[j] = b[j * cs_b];
      for (; j < NR; ++j) p[j] = T(0);
    }
    packed += K * NR;
  }
}

// s in every lane. Not splat(): its V{} + s costs an add per broadcast (0 + s is not foldable
// because of -0.0), while s - 0 is exactly s and folds away, leaving a plain (embedded) broadcast.
template <class V>
CNNEXT_INLINE V bcast(lane_t<V> s) {
  return s - V{};
}

// First n (< width) lanes of an edge tile: AVX-512 masked loads/stores, else vec.h's copies.
template <class V>
CNNEXT_INLINE V load_edge(const lane_t<V>* p, int n) {
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && sizeof(lane_t<V>) == 4)
    return (V)_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p);
  if constexpr (sizeof(V) == 64 && sizeof(lane_t<V>) == 8)
    return (V)_mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << n) - 1), p);
#endif
  return load_partial<V>(p, n);
}
template <class V>
CNNEXT_INLINE void store_edge(lane_t<V>* p, V v, int n) {
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && sizeof(lane_t<V>) == 4)
    return _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), (__m512)v);
  if constexpr (sizeof(V) == 64 && sizeof(lane_t<V>) == 8)
    return _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << n) - 1), (__m512d)v);
#endif
  store_partial(p, v, n);
}

// What a micro-kernel call does around its rank-1 updates.
template <class T>
struct TileOps {
  bool load_c;      // start from C (accumulate or a later K slice) instead of zero
  const T* bias;    // last K slice only: NR bias values of this panel, or null
  Act act;          // last K slice only, else linear
};

#if CNNEXT_VEC_BYTES > 0
// One micro-kernel call: C[0:MR, 0:nc] (op)= A . B over kc.
// A element (i, k) is at a[i * lda + k] when row_a (row-major A read in place), else at
// a[k * lda + i] (packed strip, or transposed A). B element (k, j) is at b[k * ldb + j]: a packed
// panel (ldb = NR, zero-padded past nc) or row-major B read in place (full panels only).
template <class T>
struct Tile {
  int64_t kc;
  const T* a;
  int64_t lda;
  bool row_a;
  const T* b;
  int64_t ldb;
  T* c;
  int64_t ldc;
  int nc;  // valid columns (<= NR); columns past nc are computed but not stored
  TileOps<T> op;
};

template <class T, int MR, int NV, bool RowA>
void micro_kernel(const Tile<T>& t) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  const int64_t kc = t.kc, lda = t.lda, ldb = t.ldb, ldc = t.ldc;
  const T* __restrict a = t.a;
  const T* __restrict bp = t.b;
  T* __restrict c = t.c;
  const int nc = t.nc;
  const bool full = nc == NV * W;
  V acc[MR][NV];
  if (t.op.load_c) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        const int left = nc - v * W;
        acc[i][v] = full || left >= W ? load<V>(c + i * ldc + v * W)
                                       : load_edge<V>(c + i * ldc + v * W, left);
      }
  } else {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = splat<V>(T(0));
  }
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    V b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = load<V>(bp + k * ldb + v * W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V ai = bcast<V>(RowA ? a[i * lda + k] : a[k * lda + i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] += ai * b[v];
    }
  }
  if (t.op.bias) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const V bv = load<V>(t.op.bias + v * W);  // panel-padded bias (see gemm_impl below)
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) acc[i][v] += bv;
    }
  }
  if (t.op.act != Act::linear) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = vactivate(acc[i][v], t.op.act);
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const int left = nc - v * W;
      if (full || left >= W) store(c + i * ldc + v * W, acc[i][v]);
      else if (left > 0) store_edge(c + i * ldc + v * W, acc[i][v], left);
    }
}

template <class T, int MR>
void run_tile(const Tile<T>& t) {
  const bool wide = t.nc > kWidth<T> * (kNV - 1);
  if (t.row_a) {
    if (wide) micro_kernel<T, MR, kNV, true>(t);
    else micro_kernel<T, MR, 1, true>(t);
  } else {
    if (wide) micro_kernel<T, MR, kNV, false>(t);
    else micro_kernel<T, MR, 1, false>(t);
  }
}

// Picks the MR = mr instantiation (the last strip of M may be shorter than kMR).
template <class T, int MR = kMR>
void run_rows(int mr, const Tile<T>& t) {
  if constexpr (MR >= 1) {
    if (mr == MR) return run_tile<T, MR>(t);
    run_rows<T, MR - 1>(mr, t);
  }
}

// Rows [m0, m0+mr) x K slice [k0, k0+kc) of A into ap, k-major (ap[k*mr + i]).
template <class T>
void pack_a(int mr, int64_t kc, const T* A, int64_t rs_a, int64_t cs_a, T* ap) {
  for (int64_t k = 0; k < kc; ++k) {
    const T* a = A + k * cs_a;
    for (int i = 0; i < mr; ++i) ap[k * mr + i] = a[i * rs_a];
  }
}

// Shared driver. B comes either packed (ldb == 0: panel p at packed + p*K*NR) or row-major in
// place (ldb > 0: panel p at B + p*NR, row stride ldb) with its partial last panel, if any, packed
// in `tail` (K x NR).
template <class T>
void gemm_impl(int64_t M, int64_t N, int64_t K, const T* A, int64_t rs_a, int64_t cs_a,
               const T* B, int64_t ldb, const T* tail, T* C, int64_t ldc,
               const GemmEpilogue<T>& ep) {
  constexpr int NR = nr_of<T>();
  if (M <= 0 || N <= 0) return;
  const int64_t panels = (N + NR - 1) / NR;
  const int64_t nslices = K <= kKcMax ? 1 : (K + kKcMax - 1) / kKcMax;
  const int64_t KC = nslices == 1 ? K : (K + nslices - 1) / nslices;
  int64_t block = kL2Bytes / ((KC > 0 ? KC : 1) * NR * int64_t(sizeof(T)));
  if (block < 1) block = 1;
  // Row-major (cs_a == 1) and transposed (rs_a == 1) A are read in place: measured on Zen 5,
  // packing the strip costs more than it saves (up to 30% at N = 64, and still ~25% slower at
  // 2048^3 with its 8 KB row stride). Other strides are packed into ap.
  const bool row_a = cs_a == 1, col_a = rs_a == 1 && !row_a;
  alignas(64) T ap[kMR * kKcMax];  // only touched for general strides
  alignas(64) T bias_tail[NR];  // the last panel's bias, zero-padded to NR
  for (int64_t p0 = 0; p0 < panels; p0 += block) {
    const int64_t p1 = p0 + block < panels ? p0 + block : panels;
    for (int64_t k0 = 0; k0 == 0 || k0 < K; k0 += KC > 0 ? KC : 1) {  // once when K == 0
      const int64_t kc = K - k0 < KC ? K - k0 : KC;
      const bool last = k0 + kc >= K;
      for (int64_t m0 = 0; m0 < M; m0 += kMR) {
        const int mr = static_cast<int>(M - m0 < kMR ? M - m0 : kMR);
        Tile<T> t;
        t.kc = kc;
        t.a = A + m0 * rs_a + k0 * cs_a;
        t.row_a = row_a;
        t.lda = row_a ? rs_a : col_a ? cs_a : mr;
        if (!row_a && !col_a) {
          pack_a(mr, kc, t.a, rs_a, cs_a, ap);
          t.a = ap;
        }
        t.ldc = ldc;
        for (int64_t p = p0; p < p1; ++p) {
          const int64_t n0 = p * NR;
          t.nc = static_cast<int>(N - n0 < NR ? N - n0 : NR);
          if (ldb == 0) {
            t.b = B + p * K * NR + k0 * NR;
            t.ldb = NR;
          } else if (t.nc == NR) {
            t.b = B + k0 * ldb + n0;
            t.ldb = ldb;
          } else {
            t.b = tail + k0 * NR;
            t.ldb = NR;
          }
          t.c = C + m0 * ldc + n0;
          t.op = TileOps<T>{k0 > 0 || ep.accumulate, nullptr, last ? ep.act : Act::linear};
          if (last && ep.bias) {
            if (t.nc == NR) {
              t.op.bias = ep.bias + n0;
            } else {
              for (int j = 0; j < NR; ++j) bias_tail[j] = j < t.nc ? ep.bias[n0 + j] : T(0);
              t.op.bias = bias_tail;
            }
          }
          run_rows<T>(mr, t);
        }
      }
    }
  }
}

template <class T>
void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t rs_a, int64_t cs_a,
          const T* packed_b, T* C, int64_t ldc, const GemmEpilogue<T>& ep) {
  gemm_impl(M, N, K, A, rs_a, cs_a, packed_b, 0, static_cast<const T*>(nullptr), C, ldc, ep);
}

template <class T>
void gemm_rowb(int64_t M, int64_t N, int64_t K, const T* A, int64_t rs_a, int64_t cs_a,
               const T* B, int64_t ldb, const T* packed_tail, T* C, int64_t ldc,
               const GemmEpilogue<T>& ep) {
  gemm_impl(M, N, K, A, rs_a, cs_a, B, ldb > 0 ? ldb : 1, packed_tail, C, ldc, ep);
}

// One output column (N == 1) of row-major A: C[m * ldc] (op)= dot(A[m, :], x). R rows at a time,
// two vector partial sums per row over k, then the k tail; every row sees the same operations
// whatever R, so any split of the rows gives the same bits.
template <class T, int R>
CNNEXT_INLINE void gemv_rows(int64_t K, const T* A, int64_t rs_a, const T* x, T* C, int64_t ldc,
                             const GemmEpilogue<T>& ep) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  V acc[R][2];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = splat<V>(T(0));
  int64_t k = 0;
  for (; k + 2 * W <= K; k += 2 * W) {
    const V x0 = load<V>(x + k), x1 = load<V>(x + k + W);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      acc[r][0] += load<V>(A + r * rs_a + k) * x0;
      acc[r][1] += load<V>(A + r * rs_a + k + W) * x1;
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    T s = hsum(acc[r][0] + acc[r][1]);
    for (int64_t j = k; j < K; ++j) s += A[r * rs_a + j] * x[j];
    T* c = C + r * ldc;
    s = ep.accumulate ? *c + s : s;
    *c = vactivate(ep.bias ? s + ep.bias[0] : s, ep.act);
  }
}

template <class T>
void gemv(int64_t M, int64_t K, const T* A, int64_t rs_a, const T* x, T* C, int64_t ldc,
          const GemmEpilogue<T>& ep) {
  int64_t m = 0;
  for (; m + 4 <= M; m += 4) gemv_rows<T, 4>(K, A + m * rs_a, rs_a, x, C + m * ldc, ldc, ep);
  for (; m < M; ++m) gemv_rows<T, 1>(K, A + m * rs_a, rs_a, x, C + m * ldc, ldc, ep);
}

#else  // scalar: the reference, plain loops (over the panel layout for packed B).

template <class T>
void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t rs_a, int64_t cs_a,
          const T* packed_b, T* C, int64_t ldc, const GemmEpilogue<T>& ep) {
  constexpr int NR = nr_of<T>();
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n0 = 0; n0 < N; n0 += NR) {
      const int nc = static_cast<int>(N - n0 < NR ? N - n0 : NR);
      const T* bp = packed_b + n0 * K;
      T* c = C + m * ldc + n0;
      T acc[NR];
      for (int j = 0; j < NR; ++j) acc[j] = ep.accumulate && j < nc ? c[j] : T(0);
      for (int64_t k = 0; k < K; ++k) {
        const T a = A[m * rs_a + k * cs_a];
        for (int j = 0; j < NR; ++j) acc[j] += a * bp[k * NR + j];
      }
      for (int j = 0; j < nc; ++j)
        c[j] = vactivate(ep.bias ? acc[j] + ep.bias[n0 + j] : acc[j], ep.act);
    }
  }
}

template <class T>
void gemm_rowb(int64_t M, int64_t N, int64_t K, const T* A, int64_t rs_a, int64_t cs_a,
               const T* B, int64_t ldb, const T* packed_tail, T* C, int64_t ldc,
               const GemmEpilogue<T>& ep) {
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      T acc = ep.accumulate ? C[m * ldc + n] : T(0);
      for (int64_t k = 0; k < K; ++k) acc += A[m * rs_a + k * cs_a] * B[k * ldb + n];
      C[m * ldc + n] = vactivate(ep.bias ? acc + ep.bias[n] : acc, ep.act);
    }
  }
}

template <class T>
void gemv(int64_t M, int64_t K, const T* A, int64_t rs_a, const T* x, T* C, int64_t ldc,
          const GemmEpilogue<T>& ep) {
  for (int64_t m = 0; m < M; ++m) {
    T s = T(0);
    for (int64_t k = 0; k < K; ++k) s += A[m * rs_a + k] * x[k];
    T* c = C + m * ldc;
    s = ep.accumulate ? *c + s : s;
    *c = vactivate(ep.bias ? s + ep.bias[0] : s, ep.act);
  }
}

#endif

template <class T>
constexpr GemmKernelsT<T> table() {
  return {&packed_b_size<T>, &pack_b<T>, &gemm<T>, nr_of<T>(),
          CNNEXT_VEC_BYTES == 0 ? 1 : kMR, &gemm_rowb<T>, &gemv<T>};
}

}  // namespace
}  // namespace CNNEXT_ISA_NS

extern const GemmKernels CNNEXT_KERNEL_TABLE(gemm);
const GemmKernels CNNEXT_KERNEL_TABLE(gemm) = {CNNEXT_ISA_NS::table<float>(),
                                               CNNEXT_ISA_NS::table<double>()};

}  // namespace cnnext
