// Winograd F(m x m, 3x3) transforms per ISA, m = 2 or 4 (Lavin & Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2016): a stride-1, undilated 3x3 convolution computed on m x m
// output tiles as P = (m + 2)^2 independent GEMMs of (tiles x C) . (C x F) between transformed
// inputs and kernels: 16 multiplies per 2x2 tile (2.25x fewer than direct), 36 per 4x4 tile (4x
// fewer). ops/conv.cpp runs the GEMMs with the GEMM kernels and threads over fixed tile blocks.
//
//   U = G g G^T (kernel, per (c, f)),  V = B^T d B ((m + 2)^2 input patch, per tile and c),
//   Y = A^T [U . V] A (m x m outputs, per tile and f), with, for F(2x2, 3x3) (points 0, +-1, inf),
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1],
// and for F(4x4, 3x3) the Toom-Cook construction on the points 0, 1, -1, 1/2, -2, inf (rather
// than Lavin's 0, +-1, +-2, inf: 2-2.5x smaller float32 error, measured on randn data with glorot
// kernels, C = 32..64; Barabasz et al., "Error analysis and improving the accuracy of Winograd
// convolution for deep neural networks", 2020), with the fractions moved into G:
//   B^T = [1 -3/2 -2  3/2  1   0      G = [1     0     0        A^T = [1 1  1  1    1  0
//          0 -2    1  5    2   0           1/6   1/6   1/6             0 1 -1  1/2 -2  0
//          0 -2    5 -1   -2   0           1/6  -1/6   1/6             0 1  1  1/4  4  0
//          0  2    1 -2   -1   0           16/15 8/15  4/15            0 1 -1  1/8 -8  1]
//          0  1   -2 -1    2   0           1/30 -1/15  2/15
//          0  1 -3/2 -2  3/2   1]          0     0     1]
//
// Tiles are numbered over (n, tile row, tile column), the tile row tr covering output rows
// m tr .. m tr + m - 1 and reading input rows m tr - pt .. m tr - pt + m + 1 (zero outside the
// input). Transformed arrays hold the P Winograd points xi = (m + 2) i + j as P row-major
// matrices: V[xi][t][c] (tiles x C), U[xi][c][f] (C x F), Mx[xi][t][f] (tiles x F).
#pragma once
#include <cstdint>

#include "common/activation.h"
#include "common/dispatch.h"
#include "kernels/conv/conv.h"

namespace cnnext {

// Winograd points of F(m x m, 3x3).
constexpr int winograd_points(int m) { return (m + 2) * (m + 2); }

// Tiles of F(m x m, 3x3) over the output of g.
inline int64_t winograd_tiles(const ConvGeom& g, int m) {
  return g.N * ((g.OH + m - 1) / m) * ((g.OW + m - 1) / m);
}

// The transforms of one tile size m (P = winograd_points(m) below).
template <class T>
struct WinogradTransformsT {
  // U (P x C x F) from the (3, 3, C, F) kernel, for the n (c, f) pairs starting at the given
  // pointers (the taps and the U planes `plane` = C * F apart; callers split the pairs).
  void (*transform_kernel)(int64_t plane, int64_t n, const T* kernel, T* U);
  // V (P x nt x C, nt = t1 - t0) for tiles [t0, t1) of input x; `zero` holds C zeros, read for
  // the taps outside the input.
  void (*transform_input)(const ConvGeom& g, const T* x, int64_t t0, int64_t t1, const T* zero,
                          T* V);
  // y for tiles [t0, t1) from Mx (P x nt x F): act(A^T m A + bias), outputs beyond OH x OW
  // skipped.
  void (*transform_output)(const ConvGeom& g, const T* Mx, int64_t t0, int64_t t1,
                           const T* bias, Act act, T* y);
  // Kernel gradient (dy as the m x m "filter", Lavin's F(3x3, m x m)): dW = G^T [sum over tiles
  // of (B^T d B) . (A e A^T)] G, with e the tile's m x m block of dy (zero beyond OH x OW).
  // Ye (P x nt x F) = A e A^T for tiles [t0, t1) of dy; `zero` holds F zeros, read for the
  // cells beyond OH x OW.
  void (*transform_dy)(const ConvGeom& g, const T* dy, int64_t t0, int64_t t1, const T* zero,
                       T* Ye);
  // dkernel (3, 3, C, F) = G^T Mx G from Mx (P x C x F), for n (c, f) pairs as above.
  void (*transform_grad)(int64_t plane, int64_t n, const T* Mx, T* dkernel);
};

template <class T>
struct WinogradKernelsT {
  WinogradTransformsT<T> f2x2;  // F(2x2, 3x3), 16 points
  WinogradTransformsT<T> f4x4;  // F(4x4, 3x3), 36 points
  // true when none of x[0, n) is NaN or infinite (the transforms mix neighbouring inputs, so a
  // non-finite value would spread to outputs that do not read it: such inputs take the GEMM path).
  bool (*all_finite)(const T* x, int64_t n);

  const WinogradTransformsT<T>& tile(int m) const { return m == 4 ? f4x4 : f2x2; }
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
