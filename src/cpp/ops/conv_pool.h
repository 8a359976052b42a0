// A few-input-channel convolution fused with the non-overlapping max-pool after it (the first
// layer of a small CNN: Conv2D(F, 3x3, relu) then MaxPooling2D(2x2)), forward and kernel gradient,
// without materialising the (N, OH, OW, F) convolution output or its gradient.
//
// x: (N, H, W, C); kernel, dkernel: (KH, KW, C, F); bias, dbias: (F,); the convolution (geometry
// g, see ops/conv.h) must take the direct path (conv2d_uses_direct). The pool: window PKH x PKW,
// strides equal to the window, 'valid' padding, PKH * PKW <= 256; pooled, d_pooled, argmax:
// (N, PH, PW, F) with PH = OH / PKH, PW = OW / PKW (a last conv row / column that no window covers
// is dropped, as 'valid' pooling drops it).
#pragma once
#include <cstdint>

#include "common/activation.h"
#include "kernels/conv/conv.h"

namespace cnnext {

// False (with the reason in *why when given) unless the fused ops accept this geometry.
bool conv_pool_fusable(const ConvGeom& g, int64_t pkh, int64_t pkw, const char** why = nullptr);
// Throws std::invalid_argument (naming `op`) unless check_conv_geom passes and conv_pool_fusable.
void check_conv_pool(const ConvGeom& g, int64_t pkh, int64_t pkw, const char* op);

// pooled = maxpool(act(conv2d(x, kernel) + bias)); argmax (nullable): the window index
// kh * PKW + kw of each first maximum. Bitwise identical to conv2d_forward followed by
// max_pool2d_argmax (max_pool2d when argmax is null) for any ISA and thread count: per thread, one
// band of PKH conv rows at a time is computed by the direct kernel into an L1 scratch, then pooled.
template <class T>
void conv2d_max_pool2d(const ConvGeom& g, const T* x, const T* kernel, const T* bias, Act act,
                       int64_t pkh, int64_t pkw, T* pooled, uint8_t* argmax);

// dkernel, dbias of a layer whose input gradient is not needed. The conv-output gradient is
// d_pooled masked by the activation (relu: d_pooled * (pooled > 0), relu_backward's semantics
// on the pooled grid; linear: no mask, pooled may be null), scattered to each window's argmax
// cell, zero elsewhere; it is rebuilt band by band in a scratch and fed to the direct kernel
// gradient. Act must be linear or relu. The batch is cut into fixed chunks (a function of the
// shape only) whose partial sums are added in chunk order: bitwise identical for any thread count.
template <class T>
void conv2d_max_pool2d_backprop_kernel(const ConvGeom& g, Act act, int64_t pkh, int64_t pkw,
                                       const T* x, const T* d_pooled, const T* pooled,
                                       const uint8_t* argmax, T* dkernel, T* dbias);

}  // namespace cnnext
