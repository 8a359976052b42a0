#include "ops/dense.h"

#include <cstring>
#include <type_traits>
#include <vector>

#include "common/parallel.h"
#include "ops/gemm.h"

namespace cnnext {

template <class T>
void dense(const T* x, const T* kernel, const T* bias, T* y, int64_t M, int64_t in, int64_t out,
           Act act) {
  GemmEpilogue<T> ep;
  ep.bias = bias;
  ep.act = act;
  matmul_threaded<T>(M, out, in, x, in, 1, kernel, out, 1, y, out, ep);
}

namespace {

// 4 x 4 (float) or 2 x 2 (double) blocks transposed in 16-byte vectors with GCC vector
// extensions (SSE2 / NEON shuffles at the baseline ISA, no ISA flags needed).
template <class T>
struct Lanes {
  static constexpr int n = 16 / sizeof(T);
  typedef T vec __attribute__((vector_size(16)));
  typedef std::conditional_t<sizeof(T) == 4, int32_t, int64_t> lane_idx;
  typedef lane_idx idx __attribute__((vector_size(16)));
};

#if defined(__clang__)
#define CNNEXT_SHUFFLE(I, a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define CNNEXT_SHUFFLE(I, a, b, ...) __builtin_shuffle(a, b, I{__VA_ARGS__})
#endif

// dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols.
template <class T>
void transpose(int64_t rows, int64_t cols, const T* src, int64_t lds, T* dst, int64_t ldd) {
  using V = typename Lanes<T>::vec;
  using I = typename Lanes<T>::idx;
  constexpr int L = Lanes<T>::n;
  const auto ld = [](const T* p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
  };
  const auto st = [](T* p, V v) { std::memcpy(p, &v, sizeof(V)); };
  const int64_t r4 = rows / L * L, c4 = cols / L * L;
  // Destination rows outermost: each pass writes L contiguous runs of dst (a power-of-two ldd
  // would put the rows of a column walk in one cache set) and reads the small src in cache.
  for (int64_t j = 0; j < c4; j += L) {
    T* d = dst + j * ldd;
    for (int64_t i = 0; i < r4; i += L) {
      const T* s = src + i * lds + j;
      if constexpr (L == 4) {
        const V a = ld(s), b = ld(s + lds), c = ld(s + 2 * lds), e = ld(s + 3 * lds);
        const V t0 = CNNEXT_SHUFFLE(I, a, b, 0, 4, 1, 5);
        const V t1 = CNNEXT_SHUFFLE(I, a, b, 2, 6, 3, 7);
        const V t2 = CNNEXT_SHUFFLE(I, c, e, 0, 4, 1, 5);
        const V t3 = CNNEXT_SHUFFLE(I, c, e, 2, 6, 3, 7);
        st(d + i, CNNEXT_SHUFFLE(I, t0, t2, 0, 1, 4, 5));
        st(d + ldd + i, CNNEXT_SHUFFLE(I, t0, t2, 2, 3, 6, 7));
        st(d + 2 * ldd + i, CNNEXT_SHUFFLE(I, t1, t3, 0, 1, 4, 5));
        st(d + 3 * ldd + i, CNNEXT_SHUFFLE(I, t1, t3, 2, 3, 6, 7));
      } else {
        const V a = ld(s), b = ld(s + lds);
        st(d + i, CNNEXT_SHUFFLE(I, a, b, 0, 2));
        st(d + ldd + i, CNNEXT_SHUFFLE(I, a, b, 1, 3));
      }
    }
    for (int64_t r = j; r < j + L; ++r)
      for (int64_t i = r4; i < rows; ++i) dst[r * ldd + i] = src[i * lds + r];
  }
  for (int64_t r = c4; r < cols; ++r)
    for (int64_t i = 0; i < rows; ++i) dst[r * ldd + i] = src[i * lds + r];
}

#undef CNNEXT_SHUFFLE

// dx^T for few rows of dy: C (in, M) = kernel (in, out) . dy^T, so the large operand (kernel) is
// the row-major A the micro-kernels read in place, and only dy^T (out x M) is packed. Blocks of
// kernel rows are multiplied into a small per-block scratch that is then transposed into the
// columns [r0, r1) of dx while it is still in cache. Every dx element is one micro-kernel dot
// product in k order, the same whatever the blocks, so the result does not depend on threads.
template <class T>
void backprop_input_transposed(const T* dy, const T* kernel, T* dx, int64_t M, int64_t in,
                               int64_t out) {
  const auto& k = gemm_kernels_for<T>();
  const std::vector<T> packed = pack_b_threaded<T>(out, M, dy, 1, out);
  constexpr int64_t kScratch = 32768 / sizeof(T);  // elements of one block's dx^T: 32 KB, in L1
  const int64_t mr = k.mr;
  int64_t rows = kScratch / M / mr * mr;
  if (rows < mr) rows = mr;
  const int64_t blocks = (in + rows - 1) / rows;
  // Blocks per task: at least ops/gemm.cpp's serial size (2 * 48^3 flops).
  const int64_t grain = 1 + 48 * 48 * 48 / (rows * M * (out + 1));
  parallel_for(0, blocks, grain, [&](int64_t b0, int64_t b1) {
    std::vector<T> scratch(static_cast<size_t>(rows * M));
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r0 = b * rows, nr = in - r0 < rows ? in - r0 : rows;
      k.gemm(nr, M, out, kernel + r0 * out, out, 1, packed.data(), scratch.data(), M,
             GemmEpilogue<T>{});
      transpose(nr, M, scratch.data(), M, dx + r0, in);
    }
  });
}

}  // namespace

// Three ways, chosen from the shape only (so the bits never depend on the thread count), each
// reading the large operand in place or transposing the least data; measured on Zen 5 (AVX-512,
// 1 thread) over M 1..2048, in / out 16..2048:
//  - M <= 2: one matrix-vector product (gemv) per row, dx[m]^T = kernel . dy[m]^T.
//  - M * (in + out) < in * out: dx^T = kernel . dy^T (backprop_input_transposed): packs and
//    transposes M * (out + in) elements instead of the in * out of kernel^T; 1.5-3x faster.
//  - otherwise (many rows): the GEMM on a packed kernel^T, whose packing is then the smaller cost.
template <class T>
void dense_backprop_input(const T* dy, const T* kernel, T* dx, int64_t M, int64_t in,
                          int64_t out) {
  if (M <= 0 || in <= 0) return;
  if (M <= 2) {
    for (int64_t m = 0; m < M; ++m)
      matmul_threaded<T>(in, 1, out, kernel, out, 1, dy + m * out, 1, 1, dx + m * in, 1,
                         GemmEpilogue<T>{});
    return;
  }
  if (M * (in + out) < in * out) {
    backprop_input_transposed(dy, kernel, dx, M, in, out);
    return;
  }
  // B = kernel^T: element (k = o, n = i) at kernel[i * out + o].
  matmul_threaded<T>(M, in, out, dy, out, 1, kernel, 1, out, dx, in, GemmEpilogue<T>{});
}

template <class T>
void dense_backprop_kernel(const T* x, const T* dy, T* dkernel, int64_t M, int64_t in,
                           int64_t out) {
  // A = x^T: element (m = i, k = row) at x[row * in + i].
  matmul_threaded<T>(in, out, M, x, 1, in, dy, out, 1, dkernel, out, GemmEpilogue<T>{});
}

template <class T>
void dense_backprop_bias(const T* dy, T* dbias, int64_t M, int64_t out) {
  constexpr int64_t kRows = 256;  // fixed chunk: the reduction order never depends on threads
  for (int64_t j = 0; j < out; ++j) dbias[j] = T(0);
  if (M <= 0 || out <= 0) return;
  const int64_t nchunks = (M + kRows - 1) / kRows;
  std::vector<T> partial(static_cast<size_t>(nchunks * out), T(0));
  parallel_chunks(0, M, kRows, [&](int64_t c, int64_t r0, int64_t r1) {
    T* p = partial.data() + c * out;
    for (int64_t r = r0; r < r1; ++r) {
      const T* d = dy + r * out;
      for (int64_t j = 0; j < out; ++j) p[j] += d[j];
    }
  });
  for (int64_t c = 0; c < nchunks; ++c)
    for (int64_t j = 0; j < out; ++j) dbias[j] += partial[c * out + j];
}

#define CNNEXT_INSTANTIATE(T)                                                                   \
  template void dense<T>(const T*, const T*, const T*, T*, int64_t, int64_t, int64_t, Act);     \
  template void dense_backprop_input<T>(const T*, const T*, T*, int64_t, int64_t, int64_t);     \
  template void dense_backprop_kernel<T>(const T*, const T*, T*, int64_t, int64_t, int64_t);    \
  template void dense_backprop_bias<T>(const T*, T*, int64_t, int64_t);
CNNEXT_INSTANTIATE(float)
CNNEXT_INSTANTIATE(double)
#undef CNNEXT_INSTANTIATE

}  // namespace cnnext
