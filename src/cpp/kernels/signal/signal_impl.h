// Direct 2-D correlation, written once against simd/vec.h and compiled per ISA. Vectorized along
// output columns: a tile of NV vectors of one output row stays in registers while the kernel
// taps stream by, each tap one broadcast weight times NV unaligned loads of the padded input.
#include "kernels/signal/signal.h"
#include "simd/vec.h"

namespace cnnext {
namespace CNNEXT_ISA_NS {
namespace {

// One output tile: NV vectors at x / out; `n` output values are stored (n < NV*W only for the
// last, partial vector of a row, whose extra lanes read the row's slack and are dropped).
template <class V, int NV, class T>
CNNEXT_INLINE void corr_tile(const T* x, int64_t xs, const T* k, int64_t kh, int64_t kw, T* out,
                             int64_t n) {
  constexpr int W = width_v<V>;
  V acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = splat<V>(T(0));
  for (int64_t a = 0; a < kh; ++a) {
    const T* xr = x + a * xs;
    const T* kr = k + a * kw;
    for (int64_t b = 0; b < kw; ++b) {
      const V kv = splat<V>(kr[b]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[v] += load<V>(xr + b + v * W) * kv;
    }
  }
  if (n == NV * W) {
    for (int v = 0; v < NV; ++v) store(out + v * W, acc[v]);
  } else {
    store_partial(out, acc[0], int(n));
  }
}

template <class T>
void correlate_valid_rows(const T* x, int64_t xs, const T* k, int64_t kh, int64_t kw, T* out,
                          int64_t os, int64_t rows, int64_t ow) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  constexpr int NV = CNNEXT_VEC_BYTES == 64 ? 8 : (CNNEXT_VEC_BYTES == 32 ? 6 : 4);  // accumulators
  for (int64_t i = 0; i < rows; ++i) {
    const T* xi = x + i * xs;
    T* oi = out + i * os;
    int64_t j = 0;
    for (; j + NV * W <= ow; j += NV * W) corr_tile<V, NV>(xi + j, xs, k, kh, kw, oi + j, NV * W);
    for (; j + W <= ow; j += W) corr_tile<V, 1>(xi + j, xs, k, kh, kw, oi + j, W);
    if (j < ow) corr_tile<V, 1>(xi + j, xs, k, kh, kw, oi + j, ow - j);
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
