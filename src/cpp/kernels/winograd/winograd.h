// Winograd F(2x2, 3x3) transforms per ISA (Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2016): a stride-1, undilated 3x3 convolution computed on 2x2 output tiles as
// 16 independent GEMMs of (tiles x C) . (C x F) between transformed inputs and kernels, 16
// multiplies per tile and channel pair instead of 36. ops/conv.cpp runs the GEMMs with the GEMM
// kernels and threads over fixed blocks of tiles.
//
//   U = G g G^T (kernel, per (c, f)),  V = B^T d B (4x4 input patch, per tile and c),
//   Y = A^T [U . V] A (2x2 outputs, per tile and f), with
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
//
// Tiles are numbered over (n, tile row, tile column), the tile row tr covering output rows
// 2 tr, 2 tr + 1 and reading input rows 2 tr - pt .. 2 tr - pt + 3 (zero outside the input).
// Transformed arrays hold the 16 Winograd points xi = 4 i + j as 16 row-major matrices:
// V[xi][t][c] (tiles x C), U[xi][c][f] (C x F), Mx[xi][t][f] (tiles x F).
#pragma once
#include <cstdint>

#include "common/activation.h"
#include "common/dispatch.h"
#include "kernels/conv/conv.h"

namespace cnnext {

template <class T>
struct WinogradKernelsT {
  // U (16 x C x F) from the (3, 3, C, F) kernel.
  void (*transform_kernel)(int64_t C, int64_t F, const T* kernel, T* U);
  // V (16 x nt x C, nt = t1 - t0) for tiles [t0, t1) of input x.
  void (*transform_input)(const ConvGeom& g, const T* x, int64_t t0, int64_t t1, T* V);
  // y for tiles [t0, t1) from Mx (16 x nt x F): act(A^T m A + bias), outputs beyond OH x OW
  // skipped.
  void (*transform_output)(const ConvGeom& g, const T* Mx, int64_t t0, int64_t t1,
                           const T* bias, Act act, T* y);
  // Kernel gradient (dy as the 2x2 "filter", Lavin's F(3x3, 2x2)): dW = G^T [sum over tiles of
  // (B^T d B) . (A e A^T)] G, with e the tile's 2x2 block of dy (zero beyond OH x OW).
  // Ye (16 x nt x F) = A e A^T for tiles [t0, t1) of dy.
  void (*transform_dy)(const ConvGeom& g, const T* dy, int64_t t0, int64_t t1, T* Ye);
  // dkernel (3, 3, C, F) = G^T Mx G from Mx (16 x C x F).
  void (*transform_grad)(int64_t C, int64_t F, const T* Mx, T* dkernel);
  // true when none of x[0, n) is NaN or infinite (the transforms mix neighbouring inputs, so a
  // non-finite value would spread to outputs that do not read it: such inputs take the GEMM path).
  bool (*all_finite)(const T* x, int64_t n);
};

struct WinogradKernels {
  WinogradKernelsT<float> f32;
  WinogradKernelsT<double> f64;
};

CNNEXT_DECLARE_KERNELS(WinogradKernels, winograd)

template <class T>
const WinogradKernelsT<T>& winograd_kernels_for(Isa isa = active_isa()) {
  if constexpr (sizeof(T) == 4) return winograd_kernels(isa).f32;
  else return winograd_kernels(isa).f64;
}

}  // namespace cnnext
