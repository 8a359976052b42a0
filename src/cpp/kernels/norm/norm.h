// Batch normalization and dropout kernels over a C-contiguous (rows, c) array: the last axis is
// the channel axis, every leading axis is flattened into rows. Kernels are single-threaded and
// cover one fixed chunk of rows; ops/norm.cpp splits rows into chunks and reduces the per-chunk
// double partial sums in chunk order (bitwise identical for any thread count).
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace cnnext {

template <class T>
struct NormKernelsT {
  // acc[j] += sum_r x[r, j]  (double accumulation)
  void (*col_sum)(const T* x, int64_t rows, int64_t c, double* acc);
  // acc[j] += sum_r (x[r, j] - mean[j])^2
  void (*col_sqdev)(const T* x, const double* mean, int64_t rows, int64_t c, double* acc);
  // sdy[j] += sum_r dy[r, j];  sdyx[j] += sum_r dy[r, j] * (x[r, j] - mean[j])
  void (*col_backward_sums)(const T* dy, const T* x, const double* mean, int64_t rows, int64_t c,
                            double* sdy, double* sdyx);
  // y[r, j] = (x[r, j] - shift[j]) * scale[j] + bias[j]
  void (*affine)(const T* x, const T* shift, const T* scale, const T* bias, T* y, int64_t rows,
                 int64_t c);
  // dx[r, j] = a[j] * dy[r, j] + b[j] * (x[r, j] - mean[j]) + d[j]
  void (*backward_dx)(const T* dy, const T* x, const T* mean, const T* a, const T* b, const T* d,
                      T* dx, int64_t rows, int64_t c);
  // y[i] = x[i] * (mask[i] ? scale : 0)   (NaN * 0 stays NaN, as x * mask in NumPy)
  void (*dropout)(const T* x, const uint8_t* mask, T scale, T* y, int64_t n);
};

struct NormKernels {
  NormKernelsT<float> f32;
  NormKernelsT<double> f64;
};

CNNEXT_DECLARE_KERNELS(NormKernels, norm)

}  // namespace cnnext
