// Elementwise and softmax-family ops: validated sizes in, threads over contiguous chunks (or over
// rows for the softmax family), kernels do the math.
#pragma once
#include <cstdint>

namespace cnnext {

// Elementwise over n contiguous elements.
template <class T>
void relu(const T* x, T* y, int64_t n);
template <class T>
void relu_backward(const T* dy, const T* x, T* dx, int64_t n);
// Keras's relu(x, negative_slope, max_value, threshold); cap = +inf means no max_value.
template <class T>
void relu_general(const T* x, T* y, int64_t n, T slope, T cap, T thr);
template <class T>
void relu_general_backward(const T* dy, const T* x, T* dx, int64_t n, T slope, T cap, T thr);
template <class T>
void sigmoid(const T* x, T* y, int64_t n);
template <class T>
void sigmoid_backward(const T* dy, const T* y, T* dx, int64_t n);
template <class T>
void tanh_forward(const T* x, T* y, int64_t n);
template <class T>
void tanh_backward(const T* dy, const T* y, T* dx, int64_t n);

// The softmax family over the middle axis of a C-contiguous (outer, c, inner) array.
enum class SoftmaxOp { softmax, log_softmax };
template <class T>
void softmax_forward(SoftmaxOp op, const T* x, T* y, int64_t outer, int64_t c, int64_t inner);
// y is the forward output (softmax or log_softmax), dy the upstream gradient.
template <class T>
void softmax_backward(SoftmaxOp op, const T* dy, const T* y, T* dx, int64_t outer, int64_t c,
                      int64_t inner);

}  // namespace cnnext
