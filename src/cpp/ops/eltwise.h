// Elementwise ops: validated sizes in, threads over contiguous chunks, kernels do the math.
#pragma once
#include <cstdint>

namespace cnnext {

template <class T>
void relu(const T* x, T* y, int64_t n);
template <class T>
void relu_backward(const T* dy, const T* x, T* dx, int64_t n);

}  // namespace cnnext
