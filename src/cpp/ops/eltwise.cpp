#include "ops/eltwise.h"

#include "common/check.h"
#include "common/parallel.h"
#include "kernels/eltwise/eltwise.h"

namespace cnnext {
namespace {

// Elements per thread at least: below this a thread's share of work costs less than waking it.
// Transcendental ops (sigmoid, tanh, the softmax family) take ~0.3 ns/element on one AVX-512 core,
// so 32K elements is ~10 us; the arithmetic-only ops (relu, the elementwise backward ops) stream at
// ~0.08 ns/element and need 4x the elements for the same work per thread.
constexpr int64_t kGrain = 32 * 1024;
constexpr int64_t kGrainCheap = 128 * 1024;
constexpr int64_t kStrip = 128;        // columns per unit of work in the strided softmax kernels

template <class T, class K>
void unary(K kernel, const T* x, T* y, int64_t n, int64_t grain = kGrain) {
  parallel_for(0, n, grain, [&](int64_t lo, int64_t hi) { kernel(x + lo, y + lo, hi - lo); });
}

template <class T, class K>
void binary(K kernel, const T* a, const T* b, T* y, int64_t n) {
  parallel_for(0, n, kGrainCheap,
               [&](int64_t lo, int64_t hi) { kernel(a + lo, b + lo, y + lo, hi - lo); });
}

// Splits (outer, c, inner) into independent work: rows when inner == 1, else (slab, strip) units.
// call_rows(lo, hi) covers rows [lo, hi); call_cols(offset, ncols) one strip starting at `offset`.
template <class Rows, class Cols>
void over_problems(int64_t outer, int64_t c, int64_t inner, Rows call_rows, Cols call_cols) {
  CNNEXT_CHECK(outer >= 0 && c >= 0 && inner >= 0, "softmax: negative dimension");
  if (outer == 0 || c == 0 || inner == 0) return;
  if (inner == 1) {
    parallel_for(0, outer, kGrain / c + 1, call_rows);
    return;
  }
  const int64_t strips = (inner + kStrip - 1) / kStrip;
  const int64_t units = checked_mul(outer, strips, "softmax");
  parallel_for(0, units, kGrain / (c * kStrip) + 1, [&](int64_t lo, int64_t hi) {
    for (int64_t u = lo; u < hi; ++u) {
      const int64_t o = u / strips, j0 = (u % strips) * kStrip;
      const int64_t w = inner - j0 < kStrip ? inner - j0 : kStrip;
      call_cols(o * c * inner + j0, w);
    }
  });
}

// The kernels' contract (NaN compares false, so each check also rejects NaN).
template <class T>
void check_relu_params(T slope, T cap, T thr) {
  CNNEXT_CHECK(slope >= T(0) && slope < T(__builtin_inf()),
               "relu: negative_slope must be finite and >= 0, but got ", slope);
  CNNEXT_CHECK(cap >= T(0), "relu: max_value must be >= 0 (+inf for none), but got ", cap);
  CNNEXT_CHECK(thr >= T(0) && thr < T(__builtin_inf()),
               "relu: threshold must be finite and >= 0, but got ", thr);
}

}  // namespace

template <class T>
void relu(const T* x, T* y, int64_t n) {
  unary(eltwise_kernels_for<T>().relu, x, y, n, kGrainCheap);
}
template <class T>
void relu_backward(const T* dy, const T* x, T* dx, int64_t n) {
  binary(eltwise_kernels_for<T>().relu_backward, dy, x, dx, n);
}
template <class T>
void relu_general(const T* x, T* y, int64_t n, T slope, T cap, T thr) {
  check_relu_params(slope, cap, thr);
  const auto kernel = eltwise_kernels_for<T>().relu_general;
  parallel_for(0, n, kGrainCheap, [&](int64_t lo, int64_t hi) {
    kernel(x + lo, y + lo, hi - lo, slope, cap, thr);
  });
}
template <class T>
void relu_general_backward(const T* dy, const T* x, T* dx, int64_t n, T slope, T cap, T thr) {
  check_relu_params(slope, cap, thr);
  const auto kernel = eltwise_kernels_for<T>().relu_general_backward;
  parallel_for(0, n, kGrainCheap, [&](int64_t lo, int64_t hi) {
    kernel(dy + lo, x + lo, dx + lo, hi - lo, slope, cap, thr);
  });
}
template <class T>
void sigmoid(const T* x, T* y, int64_t n) {
  unary(eltwise_kernels_for<T>().sigmoid, x, y, n);
}
template <class T>
void sigmoid_backward(const T* dy, const T* y, T* dx, int64_t n) {
  binary(eltwise_kernels_for<T>().sigmoid_backward, dy, y, dx, n);
}
template <class T>
void tanh_forward(const T* x, T* y, int64_t n) {
  unary(eltwise_kernels_for<T>().tanh, x, y, n);
}
template <class T>
void tanh_backward(const T* dy, const T* y, T* dx, int64_t n) {
  binary(eltwise_kernels_for<T>().tanh_backward, dy, y, dx, n);
}

template <class T>
void softmax_forward(SoftmaxOp op, const T* x, T* y, int64_t outer, int64_t c, int64_t inner) {
  const auto& k = eltwise_kernels_for<T>();
  const bool sm = op == SoftmaxOp::softmax;
  auto rows = sm ? k.softmax_rows : k.log_softmax_rows;
  auto cols = sm ? k.softmax_cols : k.log_softmax_cols;
  over_problems(
      outer, c, inner, [&](int64_t lo, int64_t hi) { rows(x + lo * c, y + lo * c, hi - lo, c); },
      [&](int64_t off, int64_t w) { cols(x + off, y + off, w, c, inner); });
}

template <class T>
void softmax_backward(SoftmaxOp op, const T* dy, const T* y, T* dx, int64_t outer, int64_t c,
                      int64_t inner) {
  const auto& k = eltwise_kernels_for<T>();
  const bool sm = op == SoftmaxOp::softmax;
  auto rows = sm ? k.softmax_backward_rows : k.log_softmax_backward_rows;
  auto cols = sm ? k.softmax_backward_cols : k.log_softmax_backward_cols;
  over_problems(
      outer, c, inner,
      [&](int64_t lo, int64_t hi) { rows(dy + lo * c, y + lo * c, dx + lo * c, hi - lo, c); },
      [&](int64_t off, int64_t w) { cols(dy + off, y + off, dx + off, w, c, inner); });
}

#define CNNEXT_INSTANTIATE(T)                                                              \
  template void relu<T>(const T*, T*, int64_t);                                            \
  template void relu_backward<T>(const T*, const T*, T*, int64_t);                         \
  template void relu_general<T>(const T*, T*, int64_t, T, T, T);                            \
  template void relu_general_backward<T>(const T*, const T*, T*, int64_t, T, T, T);         \
  template void sigmoid<T>(const T*, T*, int64_t);                                         \
  template void sigmoid_backward<T>(const T*, const T*, T*, int64_t);                      \
  template void tanh_forward<T>(const T*, T*, int64_t);                                      \
  template void tanh_backward<T>(const T*, const T*, T*, int64_t);                         \
  template void softmax_forward<T>(SoftmaxOp, const T*, T*, int64_t, int64_t, int64_t);    \
  template void softmax_backward<T>(SoftmaxOp, const T*, const T*, T*, int64_t, int64_t,   \
                                    int64_t);
CNNEXT_INSTANTIATE(float)
CNNEXT_INSTANTIATE(double)
#undef CNNEXT_INSTANTIATE

}  // namespace cnnext
