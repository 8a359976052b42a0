// Batch-norm and dropout kernels, compiled per ISA. The per-channel loops are plain contiguous
// loops over the channel axis that the compiler vectorizes under each ISA's flags (the reductions
// widen float to double per element, which the generic vec.h API has no single-width form for).
#include <cstdint>

#include "kernels/norm/norm.h"

namespace cnnext {
namespace CNNEXT_ISA_NS {
namespace {

template <class T>
void col_sum(const T* x, int64_t rows, int64_t c, double* acc) {
  for (int64_t r = 0; r < rows; ++r, x += c)
    for (int64_t j = 0; j < c; ++j) acc[j] += double(x[j]);
}

template <class T>
void col_sqdev(const T* x, const double* mean, int64_t rows, int64_t c, double* acc) {
  for (int64_t r = 0; r < rows; ++r, x += c)
    for (int64_t j = 0; j < c; ++j) {
      const double d = double(x[j]) - mean[j];
      acc[j] += d * d;
    }
}

template <class T>
void col_backward_sums(const T* dy, const T* x, const double* mean, int64_t rows, int64_t c,
                       double* sdy, double* sdyx) {
  for (int64_t r = 0; r < rows; ++r, dy += c, x += c)
    for (int64_t j = 0; j < c; ++j) {
      const double g = double(dy[j]);
      sdy[j] += g;
      sdyx[j] += g * (double(x[j]) - mean[j]);
    }
}

template <class T>
void affine(const T* x, const T* shift, const T* scale, const T* bias, T* y, int64_t rows,
            int64_t c) {
  for (int64_t r = 0; r < rows; ++r, x += c, y += c)
    for (int64_t j = 0; j < c; ++j) y[j] = (x[j] - shift[j]) * scale[j] + bias[j];
}

template <class T>
void backward_dx(const T* dy, const T* x, const T* mean, const T* a, const T* b, const T* d,
                 T* dx, int64_t rows, int64_t c) {
  for (int64_t r = 0; r < rows; ++r, dy += c, x += c, dx += c)
    for (int64_t j = 0; j < c; ++j) dx[j] = a[j] * dy[j] + b[j] * (x[j] - mean[j]) + d[j];
}

template <class T>
void dropout(const T* x, const uint8_t* mask, T scale, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * (mask[i] ? scale : T(0));
}

template <class T>
constexpr NormKernelsT<T> table() {
  return {&col_sum<T>, &col_sqdev<T>, &col_backward_sums<T>, &affine<T>, &backward_dx<T>,
          &dropout<T>};
}

}  // namespace
}  // namespace CNNEXT_ISA_NS

extern const NormKernels CNNEXT_KERNEL_TABLE(norm);
const NormKernels CNNEXT_KERNEL_TABLE(norm) = {CNNEXT_ISA_NS::table<float>(),
                                               CNNEXT_ISA_NS::table<double>()};

}  // namespace cnnext
