// Kernel gradient of a few-input-channel convolution followed by a non-overlapping max-pool,
// straight from the pooled gradient (ops/conv_pool.cpp drives it): the conv-output gradient
// (each window's pooled gradient at its argmax cell, zero elsewhere) lives only in registers.
//
// Layout contract: x: one image (H, W, C) NHWC; g: the conv geometry (kernels/conv/conv.h), its
// OH x OW output cut into PH x PW windows of pkh x pkw cells (strides equal to the window, cells
// of a last partial row / column of windows take no part); gm, argmax: pooled rows (PW, F) each,
// gm the masked pooled gradient, argmax the window index i * pkw + j of each lane's cell;
// dw: (K, F), K = KH * KW * C in kernel order (kh, kw, c).
#pragma once
#include <cstdint>

#include "common/dispatch.h"
#include "kernels/conv/conv.h"

namespace cnnext {

template <class T>
struct ConvPoolKernelsT {
  // dw += sum over pooled pixels (ph, pw), ph in [ph0, ph1) (gm and argmax start at row ph0),
  // pw < PW, in order, and over the cells (i, j) of each window in row-major order, of
  // tap(x, conv pixel (ph * pkh + i, pw * pkw + j))^T . (argmax == i * pkw + j ? gm : 0).
  // Taps in the zero padding are skipped, as direct_dw skips them.
  void (*pool_dw)(const ConvGeom& g, int64_t pkh, int64_t pkw, const T* x, const T* gm,
                  const uint8_t* argmax, int64_t ph0, int64_t ph1, T* dw);
};

struct ConvPoolKernels {
  ConvPoolKernelsT<float> f32;
  ConvPoolKernelsT<double> f64;
};

CNNEXT_DECLARE_KERNELS(ConvPoolKernels, conv_pool)

template <class T>
const ConvPoolKernelsT<T>& conv_pool_kernels_for(Isa isa = active_isa()) {
  if constexpr (sizeof(T) == 4) return conv_pool_kernels(isa).f32;
  else return conv_pool_kernels(isa).f64;
}

}  // namespace cnnext
