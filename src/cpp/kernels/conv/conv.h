// Convolution tile packing kernels (im2col / col2im) per ISA; the ops in ops/conv.cpp turn them
// into forward and backward convolutions on top of the GEMM contract (kernels/gemm/gemm.h).
//
// Layout contract: x, dx: (N, H, W, C) NHWC; kernel: (KH, KW, C, F); y, dy: (N, OH, OW, F).
// Output pixel p (flattened over n, oh, ow) reads input tap (kh, kw) at
//   ih = oh * sh - pad_top + kh * dh,  iw = ow * sw - pad_left + kw * dw,
// and a tap outside [0, H) x [0, W) reads zero. A col row holds the K = KH * KW * C values of one
// output pixel in kernel order (kh, kw, c), so col (M x K) . kernel (K x F) = y (M x F).
#pragma once
#include <cstdint>

#include "common/activation.h"
#include "common/dispatch.h"

namespace cnnext {

struct ConvGeom {
  int64_t N, H, W, C;     // input
  int64_t F, KH, KW;      // filters, kernel size
  int64_t sh, sw, dh, dw; // strides, dilation
  int64_t pt, pl;         // top / left padding (any value: taps outside the input read zero)
  int64_t OH, OW;         // output size
  int64_t K() const { return KH * KW * C; }
};

template <class T>
struct ConvKernelsT {
  // col[(p - p0) * K + (kh * KW + kw) * C + c] = x tap for output pixels p in [p0, p1).
  void (*im2col)(const ConvGeom& g, const T* x, int64_t p0, int64_t p1, T* col);
  // dx[tap] += col[...]: the adjoint of im2col over the same pixels, restricted to input rows
  // [ih_lo, ih_hi) (taps on other rows are skipped, so threads owning disjoint row bands never
  // write the same element). Each dx element receives its terms in increasing p.
  void (*col2im_add)(const ConvGeom& g, const T* col, int64_t p0, int64_t p1, int64_t ih_lo,
                     int64_t ih_hi, T* dx);

  // Direct forward convolution for few input channels (the im2col GEMM would have a tiny K):
  // weights broadcast-multiplied tap by tap into register tiles of pixels x filters.
  // direct_pack lays out [bias (Fp)] [kernel rows k = (kh, kw, c), Fp each] with F zero-padded
  // to Fp, a multiple of this ISA's vector width; direct_packed_size gives its element count.
  int64_t (*direct_packed_size)(const ConvGeom& g);
  void (*direct_pack)(const ConvGeom& g, const T* kernel, const T* bias, T* packed);
  // y rows [p0, p1) (flattened output pixels) = act(bias + conv(x, kernel)).
  void (*direct_conv)(const ConvGeom& g, const T* x, const T* packed, Act act, int64_t p0,
                      int64_t p1, T* y);
  // Direct kernel gradient for few input channels: dw (K x F, row-major, the kernel's layout)
  // = (accumulate ? dw : 0) + sum over output pixels p in [p0, p1), in increasing p, of
  // tap(x, p)^T . dy[p]. Accumulators for a group of kernel rows stay in registers.
  void (*direct_dw)(const ConvGeom& g, const T* x, const T* dy, int64_t p0, int64_t p1,
                    bool accumulate, T* dw);
  // Direct input gradient for few input channels: writes dx rows [ih0, ih1) of image n,
  // dx[n, ih, iw, c] = sum over taps (kh, kw) that reach it of dy[n, oh, ow, :] . kernel[kh, kw, c, :]
  // (zero where no tap reaches), from the kernel packed by direct_pack (bias ignored).
  void (*direct_dx)(const ConvGeom& g, const T* dy, const T* packed, int64_t n, int64_t ih0,
                    int64_t ih1, T* dx);

  // Indirect-GEMM forward convolution (no im2col copy): y rows [p0, p1) (flattened output pixels)
  // = act(bias + conv(x, kernel)), the im2col order of operations. packed_b: the (K, F) kernel
  // packed by this ISA's gemm pack_b; bias: F values or null; zero: C zeros (read for padding
  // taps); ind: workspace of igemm_ind_size(g, p1 - p0) pointers. Null (and igemm_mr 0) where the
  // ISA has no register tiles (scalar): use im2col + gemm there.
  void (*igemm_conv)(const ConvGeom& g, const T* x, const T* packed_b, const T* bias, Act act,
                     int64_t p0, int64_t p1, const T* zero, const T** ind, T* y);
  int igemm_mr;  // output pixels per register tile (split pixel ranges in multiples of it)
  // Indirect-GEMM kernel gradient: dw (K x F) = (accumulate ? dw : 0) + sum over output pixels p
  // in [q0, q1), in increasing p, of tap(x, p)^T . dy[p] (the im2col GEMM's order). zero: C zeros;
  // ind: igemm_dw_ind pointers of workspace. Null where igemm_conv is.
  void (*igemm_dw)(const ConvGeom& g, const T* x, const T* dy, int64_t q0, int64_t q1,
                   bool accumulate, const T* zero, const T** ind, T* dw);
  int64_t igemm_dw_tile;  // pixels per indirection tile: igemm_dw_ind = igemm_dw_tile * KH * KW
  int64_t igemm_ind_size(const ConvGeom& g, int64_t pixels) const {
    const int64_t mr = igemm_mr > 0 ? igemm_mr : 1;
    return (pixels + mr - 1) / mr * mr * g.KH * g.KW;
  }
};

struct ConvKernels {
  ConvKernelsT<float> f32;
  ConvKernelsT<double> f64;
};

CNNEXT_DECLARE_KERNELS(ConvKernels, conv)

template <class T>
const ConvKernelsT<T>& conv_kernels_for(Isa isa = active_isa()) {
  if constexpr (sizeof(T) == 4) return conv_kernels(isa).f32;
  else return conv_kernels(isa).f64;
}

}  // namespace cnnext
