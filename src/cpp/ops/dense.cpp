#include "ops/dense.h"

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

template <class T>
void dense_backprop_input(const T* dy, const T* kernel, T* dx, int64_t M, int64_t in,
                          int64_t out) {
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
