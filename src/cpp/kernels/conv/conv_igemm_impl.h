// Indirect-GEMM (implicit im2col) forward convolution, written once against simd/vec.h; included
// by conv_impl.h inside each vector ISA's translation unit (see conv.h for the contract).
//
// The im2col + GEMM path copies K = KH * KW * C values per output pixel into a column tile and
// then runs the GEMM micro-kernel over it. Here the micro-kernel reads the input in place
// instead: for a strip of MR output pixels an indirection buffer holds, per kernel tap, the
// address of each pixel's C input channels (NHWC keeps them contiguous) or of a zero vector for a
// tap in the padding (Dukhan, "The Indirect Convolution Algorithm", arXiv:1907.02129). The rank-1
// updates run over k = (tap, c) in the im2col order with the same operations as the GEMM
// micro-kernel, so every y element gets the same bits as on the im2col path.
#pragma once
#include "kernels/conv/conv.h"
#include "simd/vec.h"
#include "simd/vmath.h"

namespace cnnext {
namespace CNNEXT_ISA_NS {
namespace {

#if CNNEXT_VEC_BYTES > 0

#if CNNEXT_VEC_BYTES == 64
constexpr int kIgemmMR = 12;  // 12 pixels x 2 vectors: 24 zmm accumulators, like the GEMM tile
#else
constexpr int kIgemmMR = 6;
#endif

// s in every lane, as an (embedded) broadcast: s - 0 folds away where splat's 0 + s would not.
template <class V>
CNNEXT_INLINE V ig_bcast(lane_t<V> s) {
  return s - V{};
}

// y[0:mr, 0:nc] = act(bias + sum over taps t, channels c of ind[t][i][c] * b[(t * C + c) * NR]).
// ind: taps x MR pointers (rows past mr point at zeros); b: one packed B panel (K x NR, zero
// past nc); bias: NR values (zero-padded) or null; NV: vectors of the panel computed (1 when
// nc fits in one).
template <class T, int NV>
void igemm_tile(int64_t taps, int64_t C, const T* const* ind, const T* b, const T* bias, Act act,
                T* y, int64_t ldy, int mr, int nc) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>, NR = 2 * W, MR = kIgemmMR;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[i][v] = splat<V>(T(0));
  for (int64_t t = 0; t < taps; ++t, ind += MR, b += C * NR) {
    const T* a[MR];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) a[i] = ind[i];
#pragma GCC unroll 2
    for (int64_t c = 0; c < C; ++c) {
      V bv[NV];
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) bv[v] = load<V>(b + c * NR + v * W);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const V ai = ig_bcast<V>(a[i][c]);
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) acc[i][v] += ai * bv[v];
      }
    }
  }
  if (bias) {
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const V bv = load<V>(bias + v * W);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) acc[i][v] += bv;
    }
  }
  if (act != Act::linear) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[i][v] = vactivate(acc[i][v], act);
  }
  const bool full = nc == NV * W;
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    if (i >= mr) break;
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const int left = nc - v * W;
      if (full || left >= W) store(y + i * ldy + v * W, acc[i][v]);
      else if (left > 0) store_partial(y + i * ldy + v * W, acc[i][v], left);
    }
  }
}

// For output pixels [p0, p1): out[t * tap_stride + (p - p0) * pix_stride] = address of the C
// inputs that pixel p reads at kernel tap t, or `zero` where the tap lies in the padding.
template <class T>
void tap_pointers(const ConvGeom& g, const T* x, int64_t p0, int64_t p1, const T* zero,
                  const T** out, int64_t tap_stride, int64_t pix_stride) {
  const int64_t ohw = g.OH * g.OW, C = g.C;
  const int64_t span_h = (g.KH - 1) * g.dh, span_w = (g.KW - 1) * g.dw;
  int64_t n = p0 / ohw, oh = p0 % ohw / g.OW, ow = p0 % g.OW;
  for (int64_t p = p0; p < p1; ++p, out += pix_stride) {
    const int64_t ih0 = oh * g.sh - g.pt, iw0 = ow * g.sw - g.pl;
    const int64_t base = ((n * g.H + ih0) * g.W + iw0) * C;  // offset of tap (0, 0), may be < 0
    const bool inside = ih0 >= 0 && ih0 + span_h < g.H && iw0 >= 0 && iw0 + span_w < g.W;
    int64_t t = 0;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const int64_t ih = ih0 + kh * g.dh;
      for (int64_t kw = 0; kw < g.KW; ++kw, ++t) {
        const int64_t iw = iw0 + kw * g.dw;
        const bool in = inside || (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W);
        out[t * tap_stride] = in ? x + (base + (kh * g.dh * g.W + kw * g.dw) * C) : zero;
      }
    }
    if (++ow == g.OW) {
      ow = 0;
      if (++oh == g.OH) oh = 0, ++n;
    }
  }
}

// ind[(s * taps + t) * MR + i] = address of the C inputs that output pixel p0 + s * MR + i reads
// at tap t (zero where the tap is in the padding or the pixel is past p1).
template <class T>
void igemm_indirection(const ConvGeom& g, const T* x, int64_t p0, int64_t p1, const T* zero,
                       const T** ind) {
  constexpr int MR = kIgemmMR;
  const int64_t taps = g.KH * g.KW;
  for (int64_t q = p0; q < p1; q += MR) {
    const int64_t q1 = q + MR < p1 ? q + MR : p1;
    tap_pointers(g, x, q, q1, zero, ind, MR, 1);
    for (int64_t i = q1 - q; i < MR; ++i)
      for (int64_t t = 0; t < taps; ++t) ind[t * MR + i] = zero;
    ind += taps * MR;
  }
}

// y rows [p0, p1) = act(bias + conv(x, kernel)) from the kernel packed by the GEMM's pack_b
// (panels of NR = 2 vectors); strip-outer so a strip's inputs stay in L1 across the panels.
template <class T>
void igemm_conv(const ConvGeom& g, const T* x, const T* packed_b, const T* bias, Act act,
                int64_t p0, int64_t p1, const T* zero, const T** ind, T* y) {
  constexpr int MR = kIgemmMR, NR = 2 * kWidth<T>;
  if (p1 <= p0) return;
  igemm_indirection(g, x, p0, p1, zero, ind);
  const int64_t taps = g.KH * g.KW, K = g.K(), F = g.F;
  const int64_t panels = (F + NR - 1) / NR, nstrips = (p1 - p0 + MR - 1) / MR;
  alignas(64) T bias_tail[NR];
  const T* last_bias = nullptr;
  if (bias && F % NR != 0) {
    for (int j = 0; j < NR; ++j) bias_tail[j] = j < F % NR ? bias[F / NR * NR + j] : T(0);
    last_bias = bias_tail;
  }
  for (int64_t s = 0; s < nstrips; ++s) {
    const int64_t q = p0 + s * MR;
    const int mr = static_cast<int>(p1 - q < MR ? p1 - q : MR);
    for (int64_t p = 0; p < panels; ++p) {
      const int nc = static_cast<int>(F - p * NR < NR ? F - p * NR : NR);
      const T* bp = bias ? (nc == NR ? bias + p * NR : last_bias) : nullptr;
      T* yp = y + q * F + p * NR;
      if (nc > kWidth<T>)
        igemm_tile<T, 2>(taps, g.C, ind + s * taps * MR, packed_b + p * K * NR, bp, act, yp, F,
                         mr, nc);
      else
        igemm_tile<T, 1>(taps, g.C, ind + s * taps * MR, packed_b + p * K * NR, bp, act, yp, F,
                         mr, nc);
    }
  }
}

constexpr int igemm_mr() { return kIgemmMR; }

// ---- kernel gradient by indirect GEMM ----------------------------------------------------------
// dw (K x F) += col^T . dy over a range of output pixels, col read in place through the same kind
// of indirection buffer (here tap-major: ind[t * kIgemmDwTile + p]). Register tile: MR channels of
// one tap x NV filter vectors, accumulated over the pixels in increasing order (the im2col GEMM's
// order, so the bits match it), the accumulators round-tripping through dw between pixel tiles.

constexpr int64_t kIgemmDwTile = 64;  // pixels per indirection tile (a dy panel stays in L1)
#if CNNEXT_VEC_BYTES == 64
constexpr int kIgemmDwMR = 8;  // 8 channels x 2 vectors: 16 zmm accumulators
#else
constexpr int kIgemmDwMR = 6;  // 6 x 2 vectors: 12 of 16 registers accumulate
#endif

// dw rows [0, MR) (channels c0.. of one tap, row stride F) x columns [0, nc) of a panel:
// (load ? dw : 0) + sum over pixels p < np of a[p][c0 + i] * dy[p * F + j].
template <class T, int MR, int NV>
void igemm_dw_tile(int64_t np, const T* const* a, int64_t c0, const T* dy, int64_t F, bool load,
                   T* dw, int nc) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  const bool full = nc == NV * W;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const int left = nc - v * W;
      acc[i][v] = !load ? splat<V>(T(0))
                  : full || left >= W ? ::cnnext::CNNEXT_ISA_NS::load<V>(dw + i * F + v * W)
                                      : load_partial<V>(dw + i * F + v * W, left);
    }
  for (int64_t p = 0; p < np; ++p) {
    const T* ap = a[p] + c0;
    const T* bp = dy + p * F;
    V bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const int left = nc - v * W;
      bv[v] = full || left >= W ? ::cnnext::CNNEXT_ISA_NS::load<V>(bp + v * W)
                                : load_partial<V>(bp + v * W, left);
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V ai = ig_bcast<V>(ap[i]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[i][v] += ai * bv[v];
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const int left = nc - v * W;
      if (full || left >= W) store(dw + i * F + v * W, acc[i][v]);
      else if (left > 0) store_partial(dw + i * F + v * W, acc[i][v], left);
    }
}

template <class T, int MR>
CNNEXT_INLINE void igemm_dw_rows(int mr, int64_t np, const T* const* a, int64_t c0, const T* dy,
                                 int64_t F, bool load, T* dw, int nc) {
  if constexpr (MR >= 1) {
    if (mr != MR) return igemm_dw_rows<T, MR - 1>(mr, np, a, c0, dy, F, load, dw, nc);
    if (nc > kWidth<T>) igemm_dw_tile<T, MR, 2>(np, a, c0, dy, F, load, dw, nc);
    else igemm_dw_tile<T, MR, 1>(np, a, c0, dy, F, load, dw, nc);
  }
}

// dw = (accumulate ? dw : 0) + sum over output pixels p in [q0, q1), in increasing p, of
// tap(x, p)^T . dy[p]. zero: C zeros; ind: kIgemmDwTile * KH * KW pointers of workspace.
template <class T>
void igemm_dw(const ConvGeom& g, const T* x, const T* dy, int64_t q0, int64_t q1,
              bool accumulate, const T* zero, const T** ind, T* dw) {
  constexpr int NR = 2 * kWidth<T>, MR = kIgemmDwMR;
  const int64_t taps = g.KH * g.KW, C = g.C, F = g.F;
  for (int64_t p0 = q0; p0 < q1; p0 += kIgemmDwTile) {
    const int64_t np = q1 - p0 < kIgemmDwTile ? q1 - p0 : kIgemmDwTile;
    tap_pointers(g, x, p0, p0 + np, zero, ind, kIgemmDwTile, 1);
    const bool load = accumulate || p0 > q0;
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t c0 = 0; c0 < C; c0 += MR) {
        const int mr = static_cast<int>(C - c0 < MR ? C - c0 : MR);
        for (int64_t f0 = 0; f0 < F; f0 += NR) {
          const int nc = static_cast<int>(F - f0 < NR ? F - f0 : NR);
          igemm_dw_rows<T, MR>(mr, np, ind + t * kIgemmDwTile, c0, dy + p0 * F + f0, F, load,
                               dw + (t * C + c0) * F + f0, nc);
        }
      }
  }
}

#else  // scalar: no register tiles; ops/ keeps the im2col + GEMM paths (igemm_* are null).

constexpr int igemm_mr() { return 0; }
constexpr int64_t kIgemmDwTile = 0;

#endif

}  // namespace
}  // namespace CNNEXT_ISA_NS
}  // namespace cnnext
