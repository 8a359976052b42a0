// Elementwise activations, the softmax family, and their gradients.
// Elementwise layout: flat contiguous arrays of n elements.
// Softmax layout, two forms of one C-contiguous (outer, c, inner) array reduced over the c axis:
//   *_rows: inner == 1: `rows` contiguous rows of c elements each, row r at x + r*c.
//   *_cols: inner > 1: `ncols` independent problems side by side, problem j's c elements at
//           x[j + i*stride], i < c (the caller points x at one outer slab plus a column offset).
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace cnnext {

template <class T>
struct EltwiseKernelsT {
  void (*relu)(const T* x, T* y, int64_t n);                         // y = max(x, 0), NaN kept
  void (*relu_backward)(const T* dy, const T* x, T* dx, int64_t n);  // dx = dy * (x > 0)
  // Keras's relu(x, negative_slope, max_value, threshold), slope >= 0, cap >= 0 (+inf: none):
  //   y = x > thr ? min(x, cap) : slope * (x - thr)     (slope 0: exactly 0 below thr; NaN kept)
  void (*relu_general)(const T* x, T* y, int64_t n, T slope, T cap, T thr);
  //   dx = x > thr ? (x < cap ? dy : 0) : slope * dy    (NaN x: 0; cap +inf: no upper kink)
  void (*relu_general_backward)(const T* dy, const T* x, T* dx, int64_t n, T slope, T cap,
                                T thr);
  void (*sigmoid)(const T* x, T* y, int64_t n);                      // y = 1 / (1 + exp(-x))
  void (*sigmoid_backward)(const T* dy, const T* y, T* dx, int64_t n);  // dx = dy*y*(1-y)
  void (*tanh)(const T* x, T* y, int64_t n);
  void (*tanh_backward)(const T* dy, const T* y, T* dx, int64_t n);  // dx = dy*(1-y*y)

  // y = exp(x - max) / sum(exp(x - max)) over c
  void (*softmax_rows)(const T* x, T* y, int64_t rows, int64_t c);
  void (*softmax_cols)(const T* x, T* y, int64_t ncols, int64_t c, int64_t stride);
  // y = x - max - log(sum(exp(x - max))) over c
  void (*log_softmax_rows)(const T* x, T* y, int64_t rows, int64_t c);
  void (*log_softmax_cols)(const T* x, T* y, int64_t ncols, int64_t c, int64_t stride);
  // dx = y * (dy - sum(dy * y)), y the softmax output
  void (*softmax_backward_rows)(const T* dy, const T* y, T* dx, int64_t rows, int64_t c);
  void (*softmax_backward_cols)(const T* dy, const T* y, T* dx, int64_t ncols, int64_t c,
                                int64_t stride);
  // dx = dy - exp(y) * sum(dy), y the log_softmax output
  void (*log_softmax_backward_rows)(const T* dy, const T* y, T* dx, int64_t rows, int64_t c);
  void (*log_softmax_backward_cols)(const T* dy, const T* y, T* dx, int64_t ncols, int64_t c,
                                    int64_t stride);
};

struct EltwiseKernels {
  EltwiseKernelsT<float> f32;
  EltwiseKernelsT<double> f64;
};

CNNEXT_DECLARE_KERNELS(EltwiseKernels, eltwise)

template <class T>
const EltwiseKernelsT<T>& eltwise_kernels_for(Isa isa = active_isa()) {
  if constexpr (sizeof(T) == 4) return eltwise_kernels(isa).f32;
  else return eltwise_kernels(isa).f64;
}

}  // namespace cnnext
