#include "ops/gemm.h"

#include "common/parallel.h"

namespace cnnext {
namespace {

constexpr int64_t kSerialFlops = 2 * 48 * 48 * 48;  // below this a thread region costs more
constexpr int64_t kKChunk = 2048;                   // fixed K chunk of the split-K path
constexpr int64_t kRowBRows = 256;                  // below this, packing B does not pay off

// Chooses ms x ns blocks of (M strips) x (N panels) for nt threads, minimising the largest
// block; splitting M is preferred unless splitting N is > 3% better (an N split makes every
// thread read all of A).
void choose_grid(int64_t strips, int64_t panels, int64_t nt, int64_t* ms, int64_t* ns) {
  int64_t best = -1;
  *ms = 1;
  *ns = 1;
  for (int64_t m = nt < strips ? nt : strips; m >= 1; --m) {
    int64_t n = (nt + m - 1) / m;
    if (n > panels) n = panels;
    const int64_t cost = ((strips + m - 1) / m) * ((panels + n - 1) / n);
    if (best < 0 || cost * 103 < best * 100) {
      best = cost;
      *ms = m;
      *ns = n;
    }
  }
}

}  // namespace

template <class T>
std::vector<T> pack_b_threaded(int64_t K, int64_t N, const T* B, int64_t rs_b, int64_t cs_b) {
  const auto& k = gemm_kernels_for<T>();
  std::vector<T> packed(static_cast<size_t>(k.packed_b_size(K, N)));
  const int64_t nr = k.nr, panels = (N + nr - 1) / nr;
  const int64_t grain = 1 + (64 * 1024) / (K * nr + 1);  // panels per task: >= ~64K elements
  T* out = packed.data();
  parallel_for(0, panels, grain, [&](int64_t p0, int64_t p1) {
    const int64_t n0 = p0 * nr, n1 = p1 * nr < N ? p1 * nr : N;
    k.pack_b(K, n1 - n0, B + n0 * cs_b, rs_b, cs_b, out + p0 * K * nr);
  });
  return packed;
}

// Spreads C over threads as ms x ns blocks of (M strips) x (N panels) and calls
// fn(m0, m1, n0, n1) per block; serial for small products.
template <class F>
void run_grid(int64_t M, int64_t N, int64_t K, int64_t mr, int64_t nr, const F& fn) {
  if (M <= 0 || N <= 0) return;
  const int64_t strips = (M + mr - 1) / mr, panels = (N + nr - 1) / nr;
  int64_t nt = get_num_threads();
  if (M * N * (K > 0 ? K : 1) < kSerialFlops / 2) nt = 1;
  if (nt <= 1) return fn(0, M, 0, N);
  int64_t ms, ns;
  choose_grid(strips, panels, nt, &ms, &ns);
  parallel_for(0, ms * ns, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t mi = t / ns, ni = t % ns;
      const int64_t m0 = strips * mi / ms * mr, m1 = strips * (mi + 1) / ms * mr;
      const int64_t n0 = panels * ni / ns * nr, n1 = panels * (ni + 1) / ns * nr;
      if (m0 < M && n0 < N) fn(m0, m1 < M ? m1 : M, n0, n1 < N ? n1 : N);
    }
  });
}

template <class T>
void gemm_packed_threaded(int64_t M, int64_t N, int64_t K, const T* A, int64_t rs_a, int64_t cs_a,
                          const T* packed_b, T* C, int64_t ldc, const GemmEpilogue<T>& ep) {
  const auto& k = gemm_kernels_for<T>();
  run_grid(M, N, K, k.mr, k.nr, [&](int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    GemmEpilogue<T> e = ep;
    if (ep.bias) e.bias = ep.bias + n0;
    k.gemm(m1 - m0, n1 - n0, K, A + m0 * rs_a, rs_a, cs_a, packed_b + n0 / k.nr * K * k.nr,
           C + m0 * ldc + n0, ldc, e);
  });
}

// Row-major B read in place (gemm_rowb): only the partial last panel is packed.
template <class T>
void gemm_rowb_threaded(int64_t M, int64_t N, int64_t K, const T* A, int64_t rs_a, int64_t cs_a,
                        const T* B, int64_t ldb, T* C, int64_t ldc, const GemmEpilogue<T>& ep) {
  const auto& k = gemm_kernels_for<T>();
  const int64_t full = N / k.nr * k.nr;
  std::vector<T> tail(full < N ? static_cast<size_t>(k.packed_b_size(K, N - full)) : 0);
  if (full < N) k.pack_b(K, N - full, B + full, ldb, 1, tail.data());
  run_grid(M, N, K, k.mr, k.nr, [&](int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    GemmEpilogue<T> e = ep;
    if (ep.bias) e.bias = ep.bias + n0;
    k.gemm_rowb(m1 - m0, n1 - n0, K, A + m0 * rs_a, rs_a, cs_a, B + n0, ldb, tail.data(),
                C + m0 * ldc + n0, ldc, e);
  });
}

// N == 1: a register tile would waste all but one column. Row-major A: dot products (gemv).
// Transposed A with a contiguous C column (dW = X^T . dy for one unit): C^T = B^T . A^T has one
// row and a row-major right operand, read in place by gemm_rowb. Returns false otherwise.
template <class T>
bool gemv_threaded(int64_t M, int64_t K, const T* A, int64_t rs_a, int64_t cs_a, const T* B,
                   int64_t rs_b, T* C, int64_t ldc, const GemmEpilogue<T>& ep) {
  const auto& k = gemm_kernels_for<T>();
  if (cs_a == 1) {
    std::vector<T> copy;
    const T* x = B;
    if (rs_b != 1) {
      copy.resize(static_cast<size_t>(K));
      for (int64_t i = 0; i < K; ++i) copy[i] = B[i * rs_b];
      x = copy.data();
    }
    parallel_for(0, M, 1 + 32768 / (K + 1), [&](int64_t lo, int64_t hi) {
      k.gemv(hi - lo, K, A + lo * rs_a, rs_a, x, C + lo * ldc, ldc, ep);
    });
    return true;
  }
  if (rs_a == 1 && ldc == 1 && !ep.bias && cs_a > 0) {
    gemm_rowb_threaded<T>(1, M, K, B, 0, rs_b, A, cs_a, C, M, ep);
    return true;
  }
  return false;
}

template <class T>
void matmul_threaded(int64_t M, int64_t N, int64_t K, const T* A, int64_t rs_a, int64_t cs_a,
                     const T* B, int64_t rs_b, int64_t cs_b, T* C, int64_t ldc,
                     const GemmEpilogue<T>& ep) {
  if (M <= 0 || N <= 0) return;
  if (N == 1 && gemv_threaded(M, K, A, rs_a, cs_a, B, rs_b, C, ldc, ep)) return;
  // Split K only from the shapes (never from the thread count), and only without an epilogue.
  const bool split = K >= 2 * kKChunk && K >= 16 * (M + N) && !ep.bias && ep.act == Act::linear;
  // Row-major B is read in place (no pack_b) for few rows of A, where packing costs about as
  // much as the product, and for float32 panels of >= 2 cache lines per row (AVX-512): measured
  // on Zen 5, 10-20% faster up to 2048^3. For large M, narrower panels (AVX2, SSE2) read in place
  // are up to 25% slower (one 64-byte panel row per k over a long row stride), and float64
  // AVX-512 (half the flops per byte loaded) 30% slower at 2048^3, so those are packed.
  // A B row stride of a multiple of 4 KiB maps every row of a panel to the same few cache sets
  // (all to one set of a 64-set L1), so the panel read in place keeps evicting itself; packed it
  // is contiguous. Measured on an Intel Xeon (family 6, model 207), 1 thread, AVX-512: 2048^3
  // at 50 GFLOP/s read in place vs 137 packed (2000^3: 147 in place). Zen 5 hid it (221 vs 205).
  // One strip of A (M <= mr) reads each B element once, so it stays in place.
  const auto& kern = gemm_kernels_for<T>();
  const bool aliased = (rs_b * int64_t(sizeof(T))) % 4096 == 0 && M > kern.mr;
  const bool wide_panel = sizeof(T) == 4 && kern.nr * int64_t(sizeof(T)) >= 128;
  if (!split && cs_b == 1 && !aliased && (M <= kRowBRows || wide_panel)) {
    gemm_rowb_threaded(M, N, K, A, rs_a, cs_a, B, rs_b, C, ldc, ep);
    return;
  }
  if (!split) {
    const std::vector<T> packed = pack_b_threaded(K, N, B, rs_b, cs_b);
    gemm_packed_threaded(M, N, K, A, rs_a, cs_a, packed.data(), C, ldc, ep);
    return;
  }
  const auto& k = gemm_kernels_for<T>();
  const int64_t nchunks = (K + kKChunk - 1) / kKChunk, mn = M * N;
  std::vector<T> partial(static_cast<size_t>(nchunks * mn));
  parallel_chunks(0, K, kKChunk, [&](int64_t c, int64_t k0, int64_t k1) {
    std::vector<T> packed(static_cast<size_t>(k.packed_b_size(k1 - k0, N)));
    k.pack_b(k1 - k0, N, B + k0 * rs_b, rs_b, cs_b, packed.data());
    k.gemm(M, N, k1 - k0, A + k0 * cs_a, rs_a, cs_a, packed.data(), partial.data() + c * mn, N,
           GemmEpilogue<T>{});
  });
  // Fixed-order reduce: C[i, j] (+)= partial[0] + partial[1] + ... per element.
  parallel_for(0, M, 1 + 16384 / N, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      T* c = C + r * ldc;
      if (!ep.accumulate)
        for (int64_t j = 0; j < N; ++j) c[j] = T(0);
      for (int64_t q = 0; q < nchunks; ++q) {
        const T* p = partial.data() + q * mn + r * N;
        for (int64_t j = 0; j < N; ++j) c[j] += p[j];
      }
    }
  });
}

#define CNNEXT_INSTANTIATE(T)                                                                    \
  template std::vector<T> pack_b_threaded<T>(int64_t, int64_t, const T*, int64_t, int64_t);      \
  template void gemm_packed_threaded<T>(int64_t, int64_t, int64_t, const T*, int64_t, int64_t,   \
                                        const T*, T*, int64_t, const GemmEpilogue<T>&);          \
  template void matmul_threaded<T>(int64_t, int64_t, int64_t, const T*, int64_t, int64_t,        \
                                   const T*, int64_t, int64_t, T*, int64_t,                      \
                                   const GemmEpilogue<T>&);
CNNEXT_INSTANTIATE(float)
CNNEXT_INSTANTIATE(double)
#undef CNNEXT_INSTANTIATE

}  // namespace cnnext
