// 2-D max / average pooling, forward and backward, NHWC.
//
// Layout contract: x, dx: one image (H, W, C) contiguous; y, dy, argmax: one image (OH, OW, C)
// contiguous. A window of output (oh, ow) covers input rows oh*SH - PT + kh (kh < KH) and columns
// ow*SW - PL + kw (kw < KW); cells outside [0, H) x [0, W) are padding and take no part (max ignores
// them, average leaves them out of the divisor). Every window holds at least one real cell
// (ops/pooling.cpp guarantees it). Vectorized over C (contiguous); C under one vector is scalar.
//
// Max: NaN propagates (a window with a NaN gives NaN). The arg-max of a window is the first
// maximal cell in row-major window order (the first NaN, if any), as TF and PyTorch pick it;
// it is stored as the window index kh * KW + kw.
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace cnnext {

struct PoolGeom {
  int64_t N, H, W, C;  // input (N, H, W, C)
  int64_t OH, OW;      // output (N, OH, OW, C)
  int64_t KH, KW;      // window
  int64_t SH, SW;      // strides
  int64_t PT, PL;      // padding cells before row 0 / column 0
};

template <class T>
struct PoolingKernelsT {
  // Output row oh of one image: y[ow, c] for ow < OW, c < C.
  void (*max_row)(const PoolGeom& g, const T* x, T* y, int64_t oh);
  void (*avg_row)(const PoolGeom& g, const T* x, T* y, int64_t oh);
  // Max row plus the window index of each arg-max (uint8 needs KH*KW <= 256).
  void (*max_argmax_row_u8)(const PoolGeom& g, const T* x, T* y, uint8_t* idx, int64_t oh);
  void (*max_argmax_row_i32)(const PoolGeom& g, const T* x, T* y, int32_t* idx, int64_t oh);
  // Whole image: dx (H, W, C) is overwritten with the gradient.
  void (*max_backward_image)(const PoolGeom& g, const T* dy, const T* x, T* dx);
  void (*max_backward_argmax_u8_image)(const PoolGeom& g, const T* dy, const uint8_t* idx, T* dx);
  void (*max_backward_argmax_i32_image)(const PoolGeom& g, const T* dy, const int32_t* idx, T* dx);
  void (*avg_backward_image)(const PoolGeom& g, const T* dy, T* dx);
  // Max backward of a pool that follows a relu, from its arg-max: the pooled gradient is first
  // masked by the relu on the pooled output y (dy * (y > 0 ? 1 : 0), relu_backward's expression,
  // so NaN and inf propagate alike), then scattered to dx as max_backward_argmax_*. If row_sums is
  // not null, row_sums[oh * C + c] receives the sum of that masked gradient over the output row
  // oh, added in ow order (a conv bias gradient, reduced further by the caller).
  void (*max_relu_backward_argmax_u8_image)(const PoolGeom& g, const T* dy, const T* y,
                                            const uint8_t* idx, T* dx, T* row_sums);
  void (*max_relu_backward_argmax_i32_image)(const PoolGeom& g, const T* dy, const T* y,
                                             const int32_t* idx, T* dx, T* row_sums);
};

struct PoolingKernels {
  PoolingKernelsT<float> f32;
  PoolingKernelsT<double> f64;
};

CNNEXT_DECLARE_KERNELS(PoolingKernels, pooling)

template <class T>
const PoolingKernelsT<T>& pooling_kernels_for(Isa isa = active_isa()) {
  if constexpr (sizeof(T) == 4) return pooling_kernels(isa).f32;
  else return pooling_kernels(isa).f64;
}

}  // namespace cnnext
