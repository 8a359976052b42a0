// 2-D convolution, NHWC, on the GEMM contract (kernels/gemm/gemm.h) plus im2col/col2im tiles.
//
// x, dx: (N, H, W, C); kernel, dkernel: (KH, KW, C, F); bias: (F,) or null; y, dy: (N, OH, OW, F).
// Geometry (strides, dilation, top/left padding, output size) comes fully resolved in ConvGeom;
// taps outside the input read zero, so any padding is memory-safe. check_conv_geom() validates it.
#pragma once
#include <cstdint>

#include "common/activation.h"
#include "kernels/conv/conv.h"

namespace cnnext {

// Throws std::invalid_argument (message prefixed with `op`) unless every extent is sane:
// N, F >= 0; H, W, C, KH, KW, OH, OW, strides, dilation >= 1; no size product overflows.
void check_conv_geom(const ConvGeom& g, const char* op);

// True where conv2d_forward takes the direct (few input channels) path for this geometry.
bool conv2d_uses_direct(const ConvGeom& g);

template <class T>
void conv2d_forward(const ConvGeom& g, const T* x, const T* kernel, const T* bias, Act act, T* y);

template <class T>
void conv2d_backprop_input(const ConvGeom& g, const T* dy, const T* kernel, T* dx);

// Bitwise identical for any thread count: the batch is cut into chunks that depend only on the
// shape, and the per-chunk partial sums are added in chunk order.
template <class T>
void conv2d_backprop_kernel(const ConvGeom& g, const T* x, const T* dy, T* dkernel);

// db[f] = sum over the M rows of dy (M, F), in fixed chunks (deterministic for any thread count).
template <class T>
void conv2d_backprop_bias(const T* dy, int64_t M, int64_t F, T* db);

}  // namespace cnnext
