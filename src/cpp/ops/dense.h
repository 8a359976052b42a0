// Dense (fully connected) layer ops on row-major 2-D views: x (M, in), kernel (in, out).
// Threads and determinism as in ops/gemm.h: bitwise-identical results for any thread count.
#pragma once
#include <cstdint>

#include "common/activation.h"

namespace cnnext {

// y (M, out) = act(x . kernel + bias); bias may be null.
template <class T>
void dense(const T* x, const T* kernel, const T* bias, T* y, int64_t M, int64_t in, int64_t out,
           Act act);

// dx (M, in) = dy (M, out) . kernel^T. For few rows computed as dx^T = kernel . dy^T (the
// kernel read in place, not packed transposed); see dense.cpp for the shape rule.
template <class T>
void dense_backprop_input(const T* dy, const T* kernel, T* dx, int64_t M, int64_t in, int64_t out);

// dkernel (in, out) = x^T . dy, summed over the M rows.
template <class T>
void dense_backprop_kernel(const T* x, const T* dy, T* dkernel, int64_t M, int64_t in,
                           int64_t out);

// dbias (out,) = sum of dy (M, out) over rows, in fixed row chunks reduced in order.
template <class T>
void dense_backprop_bias(const T* dy, T* dbias, int64_t M, int64_t out);

}  // namespace cnnext
