// Direct 2-D correlation, written once against simd/vec.h and compiled per ISA. Vectorized along
// output columns: a tile of R output rows x NV vectors stays in registers while the kernel taps
// stream by, each tap one broadcast weight times NV unaligned loads of the padded input.
#include "kernels/signal/signal.h"
#include "simd/vec.h"

namespace cnnext {
namespace CNNEXT_ISA_NS {
namespace {

// One output tile: R rows x NV vectors at x / out. Each padded input row p feeds the output rows
// r = p - a for every kernel row a, so one load of x serves up to R taps (register blocking over
// rows as well as columns). `n` values per row are stored (n < NV*W only for the last, partial
// vector of a row: its extra lanes read the row's slack and are dropped); rows >= nr are
// computed from the slack rows and dropped.
template <class V, int R, int NV, class T>
CNNEXT_INLINE void corr_tile(const T* x, int64_t xs, const T* k, int64_t kh, int64_t kw, T* out,
                             int64_t os, int64_t nr, int64_t n) {
  constexpr int W = width_v<V>;
  V acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = splat<V>(T(0));
  for (int64_t p = 0; p < R + kh - 1; ++p) {
    const T* xr = x + p * xs;
    for (int64_t b = 0; b < kw; ++b) {
      V xv[NV];
      for (int v = 0; v < NV; ++v) xv[v] = load<V>(xr + b + v * W);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const int64_t a = p - r;  // kernel row that joins input row p to output row r
        if (a < 0 || a >= kh) continue;
        const V kv = splat<V>(k[a * kw + b]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[r][v] += xv[v] * kv;
      }
    }
  }
  for (int r = 0; r < R && r < nr; ++r) {
    if (n == NV * W) {
      for (int v = 0; v < NV; ++v) store(out + r * os + v * W, acc[r][v]);
    } else {
      store_partial(out + r * os, acc[r][0], int(n));
    }
  }
}

template <class T>
void correlate_valid_rows(const T* x, int64_t xs, const T* k, int64_t kh, int64_t kw, T* out,
                          int64_t os, int64_t rows, int64_t ow) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  // Registers: R*NV accumulators + NV inputs + 1 weight (32 zmm on avx512, 16 elsewhere).
  constexpr int R = CNNEXT_VEC_BYTES == 64 ? 4 : 2;
  constexpr int NV = 4;
  static_assert(kSignalRowBlock % R == 0, "row slack must cover the row block");
  for (int64_t i = 0; i < rows; i += R) {
    const T* xi = x + i * xs;
    T* oi = out + i * os;
    const int64_t nr = rows - i;
    int64_t j = 0;
    for (; j + NV * W <= ow; j += NV * W)
      corr_tile<V, R, NV>(xi + j, xs, k, kh, kw, oi + j, os, nr, NV * W);
    for (; j + W <= ow; j += W) corr_tile<V, R, 1>(xi + j, xs, k, kh, kw, oi + j, os, nr, W);
    if (j < ow) corr_tile<V, R, 1>(xi + j, xs, k, kh, kw, oi + j, os, nr, ow - j);
  }
}

template <class T>
constexpr SignalKernelsT<T> table() {
  return {&correlate_valid_rows<T>};
}

}  // namespace
}  // namespace CNNEXT_ISA_NS

extern const SignalKernels CNNEXT_KERNEL_TABLE(signal);
const SignalKernels CNNEXT_KERNEL_TABLE(signal) = {CNNEXT_ISA_NS::table<float>(),
                                                   CNNEXT_ISA_NS::table<double>()};

}  // namespace cnnext
