// Elementwise activations and their gradients. Layout: flat contiguous arrays of n elements.
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace cnnext {

template <class T>
struct EltwiseKernelsT {
  void (*relu)(const T* x, T* y, int64_t n);                      // y = max(x, 0), NaN kept
  void (*relu_backward)(const T* dy, const T* x, T* dx, int64_t n);  // dx = dy * (x > 0)
};

struct EltwiseKernels {
  EltwiseKernelsT<float> f32;
  EltwiseKernelsT<double> f64;
};

CNNEXT_DECLARE_KERNELS(EltwiseKernels, eltwise)

}  // namespace cnnext
