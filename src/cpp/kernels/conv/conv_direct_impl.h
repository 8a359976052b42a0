// Direct (no im2col) convolution kernels for few input channels, written once against
// simd/vec.h; included by conv_impl.h inside each ISA's translation unit (see conv.h).
#pragma once
#include "kernels/conv/conv.h"
#include "simd/vec.h"
#include "simd/vmath.h"
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace cnnext {
namespace CNNEXT_ISA_NS {
namespace {

// ---- direct convolution for small C ------------------------------------------------------------

template <class T>
int64_t padded_f(const ConvGeom& g) {
  return (g.F + kWidth<T> - 1) / kWidth<T> * kWidth<T>;
}

template <class T>
int64_t direct_packed_size(const ConvGeom& g) {
  return (g.K() + 1) * padded_f<T>(g);
}

template <class T>
void direct_pack(const ConvGeom& g, const T* kernel, const T* bias, T* packed) {
  const int64_t Fp = padded_f<T>(g), K = g.K();
  for (int64_t f = 0; f < Fp; ++f) packed[f] = bias && f < g.F ? bias[f] : T(0);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t f = 0; f < Fp; ++f) packed[(k + 1) * Fp + f] = f < g.F ? kernel[k * g.F + f] : T(0);
}

// RR consecutive output pixels of one output row (n, oh, ow..ow+RR) x NN vectors of filters
// starting at f0: accumulators stay in registers; each tap loads NN weight vectors once and
// broadcasts one input value per pixel. Taps outside the input contribute zero.
// Interior: every tap of the block lies inside the input horizontally (no per-tap checks).
template <class T, int RR, int NN, bool Interior>
CNNEXT_INLINE void direct_block(const ConvGeom& g, const T* ximg, const T* packed, Act act,
                                int64_t oh, int64_t ow, int64_t f0, T* yp) {
  using V = vec_t<T>;
  constexpr int VW = kWidth<T>;
  const int64_t Fp = padded_f<T>(g), C = g.C;
  V acc[RR][NN];
  for (int v = 0; v < NN; ++v) {
    const V b = load<V>(packed + f0 + v * VW);
    for (int r = 0; r < RR; ++r) acc[r][v] = b;
  }
  const T* w = packed + Fp + f0;
  for (int64_t kh = 0; kh < g.KH; ++kh) {
    const int64_t ih = oh * g.sh - g.pt + kh * g.dh;
    if (ih < 0 || ih >= g.H) continue;
    const T* xrow = ximg + ih * g.W * C;
    if constexpr (Interior) {  // pixel r, tap kw, channel c at xk[r * rs + kw * ks + c]
      const T* xk = xrow + (ow * g.sw - g.pl) * C;
      const int64_t rs = g.sw * C, ks = g.dw * C;
      const T* wk = w + kh * g.KW * C * Fp;
      for (int64_t kw = 0; kw < g.KW; ++kw, xk += ks, wk += C * Fp) {
        for (int64_t c = 0; c < C; ++c) {
          V wv[NN];
          for (int v = 0; v < NN; ++v) wv[v] = load<V>(wk + c * Fp + v * VW);
          for (int r = 0; r < RR; ++r) {
            const V xs = splat<V>(xk[r * rs + c]);
            for (int v = 0; v < NN; ++v) acc[r][v] = acc[r][v] + xs * wv[v];
          }
        }
      }
      continue;
    }
    for (int64_t kw = 0; kw < g.KW; ++kw) {
      int64_t xo[RR];
      bool ok[RR];
      for (int r = 0; r < RR; ++r) {
        const int64_t iw = (ow + r) * g.sw - g.pl + kw * g.dw;
        ok[r] = iw >= 0 && iw < g.W;
        xo[r] = ok[r] ? iw * C : 0;
      }
      const T* wk = w + (kh * g.KW + kw) * C * Fp;
      for (int64_t c = 0; c < C; ++c) {
        V wv[NN];
        for (int v = 0; v < NN; ++v) wv[v] = load<V>(wk + c * Fp + v * VW);
        for (int r = 0; r < RR; ++r) {
          const V xs = splat<V>(ok[r] ? xrow[xo[r] + c] : T(0));
          for (int v = 0; v < NN; ++v) acc[r][v] = acc[r][v] + xs * wv[v];
        }
      }
    }
  }
  for (int r = 0; r < RR; ++r) {
    for (int v = 0; v < NN; ++v) {
      const int64_t f = f0 + v * VW;
      const V out = vactivate(acc[r][v], act);
      if (f + VW <= g.F) store(yp + r * g.F + f, out);
      else if (f < g.F) store_partial(yp + r * g.F + f, out, int(g.F - f));
    }
  }
}

// All filter vectors for RR pixels starting at (oh, ow): NV vectors at a time, then one.
template <class T, int RR, int NV>
CNNEXT_INLINE void direct_pixels(const ConvGeom& g, const T* ximg, const T* packed, Act act,
                                 int64_t oh, int64_t ow, T* yp) {
  constexpr int VW = kWidth<T>;
  const int64_t Fp = padded_f<T>(g), span = (g.KW - 1) * g.dw;
  const bool inside = ow * g.sw - g.pl >= 0 && (ow + RR - 1) * g.sw - g.pl + span < g.W;
  for (int64_t f0 = 0; f0 < Fp;) {
    const bool two = f0 + NV * VW <= Fp;
    if (inside) {
      if (two) direct_block<T, RR, NV, true>(g, ximg, packed, act, oh, ow, f0, yp);
      else direct_block<T, RR, 1, true>(g, ximg, packed, act, oh, ow, f0, yp);
    } else {
      if (two) direct_block<T, RR, NV, false>(g, ximg, packed, act, oh, ow, f0, yp);
      else direct_block<T, RR, 1, false>(g, ximg, packed, act, oh, ow, f0, yp);
    }
    f0 += two ? NV * VW : VW;
  }
}

// Register tile: R pixels x NV vectors of filters (avx512: 8 x 2 = 16 of 32 zmm accumulators;
// 16-register ISAs: 4 x 2); the end of an output row in blocks of R/2, R/4, ... pixels.
template <class T>
void direct_conv(const ConvGeom& g, const T* x, const T* packed, Act act, int64_t p0, int64_t p1,
                 T* y) {
  constexpr int R = CNNEXT_VEC_BYTES == 64 ? 8 : 4, NV = 2;
  const int64_t ohw = g.OH * g.OW;
  int64_t p = p0;
  while (p < p1) {
    const int64_t n = p / ohw, oh = (p % ohw) / g.OW, ow = p % g.OW;
    int64_t run = g.OW - ow;
    if (run > p1 - p) run = p1 - p;
    const T* ximg = x + n * g.H * g.W * g.C;
    T* yp = y + p * g.F;
    int64_t take;
    if (run >= R) take = R, direct_pixels<T, R, NV>(g, ximg, packed, act, oh, ow, yp);
    else if (R >= 8 && run >= 4) take = 4, direct_pixels<T, 4, NV>(g, ximg, packed, act, oh, ow, yp);
    else if (run >= 2) take = 2, direct_pixels<T, 2, NV>(g, ximg, packed, act, oh, ow, yp);
    else take = 1, direct_pixels<T, 1, NV>(g, ximg, packed, act, oh, ow, yp);
    p += take;
  }
}

// TK kernel rows k0.. x NN filter vectors from f0, accumulated over pixels [p0, p1) in order.
template <class T, int TK, int NN>
void dw_block(const ConvGeom& g, const T* x, const T* dy, int64_t p0, int64_t p1, int64_t k0,
              int64_t f0, bool accumulate, T* dw) {
  using V = vec_t<T>;
  constexpr int VW = kWidth<T>;
  const int64_t C = g.C, F = g.F, ohw = g.OH * g.OW;
  int64_t kh_d[TK], kw_d[TK], off[TK], cc[TK];
  for (int j = 0; j < TK; ++j) {
    const int64_t k = k0 + j, tap = k / C;
    cc[j] = k % C;
    kh_d[j] = tap / g.KW * g.dh;
    kw_d[j] = tap % g.KW * g.dw;
    off[j] = (kh_d[j] * g.W + kw_d[j]) * C + cc[j];
  }
  int nvalid[NN];
  for (int v = 0; v < NN; ++v) {
    const int64_t left = F - (f0 + v * VW);
    nvalid[v] = left >= VW ? VW : int(left);
  }
  V acc[TK][NN];
  for (int j = 0; j < TK; ++j)
    for (int v = 0; v < NN; ++v) acc[j][v] = splat<V>(T(0));
  const int64_t span_h = (g.KH - 1) * g.dh, span_w = (g.KW - 1) * g.dw;
  int64_t n = p0 / ohw, oh = (p0 % ohw) / g.OW, ow = p0 % g.OW;
  for (int64_t p = p0; p < p1; ++p) {
    V d[NN];
    for (int v = 0; v < NN; ++v) {
      const T* src = dy + p * F + f0 + v * VW;
      d[v] = nvalid[v] == VW ? load<V>(src) : load_partial<V>(src, nvalid[v]);
    }
    const int64_t ih0 = oh * g.sh - g.pt, iw0 = ow * g.sw - g.pl;
    if (ih0 >= 0 && ih0 + span_h < g.H && iw0 >= 0 && iw0 + span_w < g.W) {
      const T* xb = x + ((n * g.H + ih0) * g.W + iw0) * C;
      for (int j = 0; j < TK; ++j) {
        const V xs = splat<V>(xb[off[j]]);
        for (int v = 0; v < NN; ++v) acc[j][v] = acc[j][v] + xs * d[v];
      }
    } else {
      for (int j = 0; j < TK; ++j) {
        const int64_t ih = ih0 + kh_d[j], iw = iw0 + kw_d[j];
        if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
        const V xs = splat<V>(x[((n * g.H + ih) * g.W + iw) * C + cc[j]]);
        for (int v = 0; v < NN; ++v) acc[j][v] = acc[j][v] + xs * d[v];
      }
    }
    if (++ow == g.OW) {
      ow = 0;
      if (++oh == g.OH) oh = 0, ++n;
    }
  }
  for (int j = 0; j < TK; ++j) {
    for (int v = 0; v < NN; ++v) {
      T* dst = dw + (k0 + j) * F + f0 + v * VW;
      if (nvalid[v] <= 0) continue;
      V r = acc[j][v];
      if (nvalid[v] == VW) {
        if (accumulate) r = load<V>(dst) + r;
        store(dst, r);
      } else {
        if (accumulate) r = load_partial<V>(dst, nvalid[v]) + r;
        store_partial(dst, r, nvalid[v]);
      }
    }
  }
}

template <class T, int NN>
void dw_rows(const ConvGeom& g, const T* x, const T* dy, int64_t p0, int64_t p1, int64_t k0,
             int64_t kk, int64_t f0, bool acc, T* dw) {
  switch (kk) {
#define CNNEXT_DW_CASE(n) \
  case n: return dw_block<T, n, NN>(g, x, dy, p0, p1, k0, f0, acc, dw);
    CNNEXT_DW_CASE(1) CNNEXT_DW_CASE(2) CNNEXT_DW_CASE(3) CNNEXT_DW_CASE(4) CNNEXT_DW_CASE(5)
    CNNEXT_DW_CASE(6) CNNEXT_DW_CASE(7) CNNEXT_DW_CASE(8) CNNEXT_DW_CASE(9) CNNEXT_DW_CASE(10)
    CNNEXT_DW_CASE(11) CNNEXT_DW_CASE(12)
#undef CNNEXT_DW_CASE
    default: return;
  }
}

// Register tile: up to 12 kernel rows x 2 filter vectors (24 accumulators) on avx512, 6 x 2
// on 16-register ISAs.
template <class T>
void direct_dw(const ConvGeom& g, const T* x, const T* dy, int64_t p0, int64_t p1,
               bool accumulate, T* dw) {
  constexpr int VW = kWidth<T>, NV = 2, TKMAX = CNNEXT_VEC_BYTES == 64 ? 12 : 6;
  const int64_t K = g.K();
  for (int64_t f0 = 0; f0 < g.F;) {
    const bool two = f0 + VW < g.F;  // a second (possibly partial) vector exists
    for (int64_t k0 = 0; k0 < K; k0 += TKMAX) {
      const int64_t kk = K - k0 < TKMAX ? K - k0 : TKMAX;
      if (two) dw_rows<T, NV>(g, x, dy, p0, p1, k0, kk, f0, accumulate, dw);
      else dw_rows<T, 1>(g, x, dy, p0, p1, k0, kk, f0, accumulate, dw);
    }
    f0 += two ? NV * VW : VW;
  }
}

// ---- direct input gradient for small C ---------------------------------------------------------

// GCC 12 flags the AVX-512 shuffle intrinsics' internal _mm512_undefined_ps() operand as
// "may be used uninitialized" (a false positive); silenced for this section only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// out[r] = sum of the lanes of acc[r], r < RR: a transposing add tree over several accumulators
// at once (a few shuffles per pixel instead of a serial lane-by-lane sum). The order of the adds
// depends only on RR, never on the thread count.
template <class T, int RR>
CNNEXT_INLINE void hsum_rows(const vec_t<T>* acc, T* out) {
#if defined(__AVX512F__)
  if constexpr (sizeof(T) == 4 && CNNEXT_VEC_BYTES == 64 && RR == 8) {
    __m512 s[4], u[2];
    for (int i = 0; i < 4; ++i) {  // pixels 2i, 2i+1: 8 lanes each (two 128-bit blocks)
      const __m512 a = (__m512)acc[2 * i], b = (__m512)acc[2 * i + 1];
      s[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
    }
    for (int i = 0; i < 2; ++i)  // pixels 4i..4i+3: one 128-bit block each
      u[i] = _mm512_add_ps(_mm512_shuffle_f32x4(s[2 * i], s[2 * i + 1], 0x88),
                           _mm512_shuffle_f32x4(s[2 * i], s[2 * i + 1], 0xDD));
    // block k: [p_k x2, p_{k+4} x2], then lane 4k holds p_k and lane 4k+2 holds p_{k+4}
    __m512 v = _mm512_add_ps(_mm512_shuffle_ps(u[0], u[1], 0x44), _mm512_shuffle_ps(u[0], u[1], 0xEE));
    v = _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1));
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 2, 6, 10, 14, 0, 0, 0, 0, 0, 0, 0, 0);
    _mm512_mask_storeu_ps(out, 0xFF, _mm512_permutexvar_ps(idx, v));
    return;
  }
  if constexpr (sizeof(T) == 4 && CNNEXT_VEC_BYTES == 64 && RR == 4) {
    __m512 s[2];
    for (int i = 0; i < 2; ++i) {
      const __m512 a = (__m512)acc[2 * i], b = (__m512)acc[2 * i + 1];
      s[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
    }
    const __m512 u = _mm512_add_ps(_mm512_shuffle_f32x4(s[0], s[1], 0x88),
                                   _mm512_shuffle_f32x4(s[0], s[1], 0xDD));
    // block k (k < 4) holds pixel k in 4 lanes: fold each block to its lane 0
    __m512 v = _mm512_add_ps(u, _mm512_permute_ps(u, 0x4E));
    v = _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1));
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    _mm512_mask_storeu_ps(out, 0xF, _mm512_permutexvar_ps(idx, v));
    return;
  }
#endif
#if defined(__AVX2__)
  if constexpr (sizeof(T) == 4 && CNNEXT_VEC_BYTES == 32 && RR == 4) {
    __m256 s[2];
    for (int i = 0; i < 2; ++i) {  // pixels 2i, 2i+1: one 128-bit half each
      const __m256 a = (__m256)acc[2 * i], b = (__m256)acc[2 * i + 1];
      s[i] = _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
    }
    // half 0: [p0 x2, p2 x2], half 1: [p1 x2, p3 x2]
    __m256 v = _mm256_add_ps(_mm256_shuffle_ps(s[0], s[1], 0x44), _mm256_shuffle_ps(s[0], s[1], 0xEE));
    v = _mm256_add_ps(v, _mm256_permute_ps(v, 0xB1));  // lanes 0, 4, 2, 6 hold p0, p1, p2, p3
    const __m256 w = _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(0, 4, 2, 6, 0, 0, 0, 0));
    _mm_storeu_ps(out, _mm256_castps256_ps128(w));
    return;
  }
#endif
  for (int r = 0; r < RR; ++r) out[r] = hsum(acc[r]);
}

// dx for RR input pixels (ih, iw0..iw0+RR) of one image, every channel: for each pixel two
// vector accumulators (even / odd filter blocks, for independent FMA chains) of
// dy[tap pixel] * kernel[tap, c] over all taps and filters, reduced once at the end.
// Interior: stride-1 columns and every kw tap's output column inside [0, OW) (no checks).
// Unit: stride 1 (no divisions in the tap arithmetic).
template <class T, int RR, bool Interior, bool Unit>
CNNEXT_INLINE void dx_block(const ConvGeom& g, const T* dyimg, const T* packed, int64_t ih,
                            int64_t iw0, T* dxp) {
  using V = vec_t<T>;
  constexpr int VW = kWidth<T>;
  const int64_t Fp = padded_f<T>(g), F = g.F, C = g.C, nfull = F / VW;
  const int tail = int(F - nfull * VW);  // lanes of a last, partial filter block
  const T* w = packed + Fp;
  if constexpr (Unit) {
    if (g.KW == 3 && g.dw == 1 && F % (2 * VW) == 0) {
      // Each dy pixel of a row (output columns q0 + j, j < RR + 2, those inside [0, OW)) is
      // loaded once and feeds the (up to) 3 dx pixels it reaches, kw weight vectors in registers.
      const int64_t q0 = iw0 + g.pl - 2;
      const int jlo = q0 >= 0 ? 0 : int(-q0 < RR + 2 ? -q0 : RR + 2);
      const int jhi = g.OW - q0 >= RR + 2 ? RR + 2 : int(g.OW - q0 > 0 ? g.OW - q0 : 0);
      for (int64_t c = 0; c < C; ++c) {
        V a0[RR], a1[RR];
        for (int r = 0; r < RR; ++r) a0[r] = a1[r] = splat<V>(T(0));
        for (int64_t kh = 0; kh < g.KH; ++kh) {
          const int64_t oh = ih + g.pt - kh * g.dh;
          if (oh < 0 || oh >= g.OH) continue;
          const T* dyrow = dyimg + oh * g.OW * F;
          const T* wk = w + (kh * 3 * C + c) * Fp;
          const bool pf = kh == 0 && c == 0 && oh + 1 < g.OH;
          for (int64_t f = 0; f < F; f += 2 * VW) {
            V w0[3], w1[3];
            for (int k = 0; k < 3; ++k)
              w0[k] = load<V>(wk + k * C * Fp + f), w1[k] = load<V>(wk + k * C * Fp + f + VW);
#pragma GCC unroll 16
            for (int j = 0; j < RR + 2; ++j) {
              if (!Interior && (j < jlo || j >= jhi)) continue;  // Interior: all inside
              const T* dq = dyrow + (q0 + j) * F + f;
              const V d0 = load<V>(dq), d1 = load<V>(dq + VW);
              if (pf) {  // the next dx row's newest dy row: fetch it while this one computes
                for (int b = 0; b < 2 * VW * int(sizeof(T)); b += 64)
                  __builtin_prefetch(reinterpret_cast<const char*>(dq + g.OW * F) + b);
              }
#pragma GCC unroll 3
              for (int k = 0; k < 3; ++k) {
                const int r = j - 2 + k;
                if (r < 0 || r >= RR) continue;
                a0[r] = a0[r] + d0 * w0[k];
                a1[r] = a1[r] + d1 * w1[k];
              }
            }
          }
        }
        V sum[RR];
        T out[RR];
        for (int r = 0; r < RR; ++r) sum[r] = a0[r] + a1[r];
        if (C == 1) {  // the RR sums are adjacent in dx: store them there (no stack round trip)
          hsum_rows<T, RR>(sum, dxp);
          continue;
        }
        hsum_rows<T, RR>(sum, out);
        for (int r = 0; r < RR; ++r) dxp[r * C + c] = out[r];
      }
      return;
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    V a0[RR], a1[RR];
    T as[RR];  // the partial last filter block, in scalars (a partial vector load stalls)
    for (int r = 0; r < RR; ++r) a0[r] = a1[r] = splat<V>(T(0)), as[r] = T(0);
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const int64_t ohn = ih + g.pt - kh * g.dh;
      const int64_t oh = Unit ? ohn : ohn / g.sh;
      if (ohn < 0 || (!Unit && ohn % g.sh != 0) || oh >= g.OH) continue;
      const T* dyrow = dyimg + oh * g.OW * F;
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const T* wk = w + ((kh * g.KW + kw) * C + c) * Fp;
        const T* dyp[RR];
        bool ok[RR];
        for (int r = 0; r < RR; ++r) {
          const int64_t own = iw0 + r + g.pl - kw * g.dw;
          if constexpr (Interior) {
            ok[r] = true;
            dyp[r] = dyrow + own * F;
          } else if constexpr (Unit) {
            ok[r] = own >= 0 && own < g.OW;
            dyp[r] = dyrow + (ok[r] ? own : 0) * F;
          } else {
            ok[r] = own >= 0 && own % g.sw == 0 && own / g.sw < g.OW;
            dyp[r] = dyrow + (ok[r] ? own / g.sw : 0) * F;
          }
        }
        int64_t f = 0;
        for (; f + 2 * VW <= nfull * VW; f += 2 * VW) {
          const V w0 = load<V>(wk + f), w1 = load<V>(wk + f + VW);
          for (int r = 0; r < RR; ++r) {
            if (!ok[r]) continue;
            a0[r] = a0[r] + load<V>(dyp[r] + f) * w0;
            a1[r] = a1[r] + load<V>(dyp[r] + f + VW) * w1;
          }
        }
        if (f < nfull * VW) {
          const V w0 = load<V>(wk + f);
          for (int r = 0; r < RR; ++r)
            if (ok[r]) a0[r] = a0[r] + load<V>(dyp[r] + f) * w0;
          f += VW;
        }
        for (int r = 0; r < RR; ++r)
          if (ok[r])
            for (int t = 0; t < tail; ++t) as[r] += dyp[r][f + t] * wk[f + t];
      }
    }
    V sum[RR];
    T out[RR];
    for (int r = 0; r < RR; ++r) sum[r] = a0[r] + a1[r];
    hsum_rows<T, RR>(sum, out);
    for (int r = 0; r < RR; ++r) dxp[r * C + c] = out[r] + as[r];
  }
}

template <class T, int RR>
CNNEXT_INLINE void dx_pixels(const ConvGeom& g, const T* dyimg, const T* packed, int64_t ih,
                             int64_t iw, T* dxrow) {
  const int64_t span = (g.KW - 1) * g.dw;
  const bool inside = g.sw == 1 && iw + g.pl - span >= 0 && iw + RR - 1 + g.pl < g.OW;
  const bool unit = g.sh == 1 && g.sw == 1;
  T* dxp = dxrow + iw * g.C;
  if (inside && unit) dx_block<T, RR, true, true>(g, dyimg, packed, ih, iw, dxp);
  else if (inside) dx_block<T, RR, true, false>(g, dyimg, packed, ih, iw, dxp);
  else if (unit) dx_block<T, RR, false, true>(g, dyimg, packed, ih, iw, dxp);
  else dx_block<T, RR, false, false>(g, dyimg, packed, ih, iw, dxp);
}

#if defined(__AVX512F__)
// The seed model's first layer (C = 1, F = 32, 3-wide kernel up to 3 high, stride 1), avx512 f32:
// all KH * 3 * 2 kernel vectors stay in registers for a whole dx row, one accumulator per dx
// pixel; dy pixels outside [0, OW) are masked loads of zero, so every 8-pixel block (the row's
// last one stored masked) runs the same branch-free code.
bool dx_row_c1(const ConvGeom& g) {
  return g.C == 1 && g.F == 32 && g.KW == 3 && g.KH <= 3 && g.dw == 1 && g.sh == 1 && g.sw == 1;
}

void dx_row_c1_f32(const ConvGeom& g, const float* dyimg, const float* packed, int64_t ih,
                   float* dxrow) {
  constexpr int RR = 8;
  const float* w = packed + 32;  // kernel row (kh, kw) at w + (kh * 3 + kw) * 32
  __m512 w0[3][3], w1[3][3];
  const float* dyrow[3];
  int nk = 0;
  for (int64_t kh = 0; kh < g.KH; ++kh) {
    const int64_t oh = ih + g.pt - kh * g.dh;
    if (oh < 0 || oh >= g.OH) continue;
    dyrow[nk] = dyimg + oh * g.OW * 32;
    for (int k = 0; k < 3; ++k) {
      w0[nk][k] = _mm512_loadu_ps(w + (kh * 3 + k) * 32);
      w1[nk][k] = _mm512_loadu_ps(w + (kh * 3 + k) * 32 + 16);
    }
    ++nk;
  }
  // The next dx row's newest dy row, fetched a block's worth at a time while this row computes.
  const int64_t next = ih + 1 + g.pt;
  const char* pf = next < g.OH ? reinterpret_cast<const char*>(dyimg + next * g.OW * 32) : nullptr;
  const char* pf_end = pf ? pf + g.OW * 32 * sizeof(float) : nullptr;
  for (int64_t iw0 = 0; iw0 < g.W; iw0 += RR) {
    const int64_t q0 = iw0 + g.pl - 2;  // dy column of block pixel r at tap kw: q0 + r + 2 - kw
    for (int b = 0; b < RR * 2 && pf < pf_end; ++b, pf += 64) __builtin_prefetch(pf);
    __m512 acc[RR];
    for (int r = 0; r < RR; ++r) acc[r] = _mm512_setzero_ps();
    for (int kk = 0; kk < nk; ++kk) {
#pragma GCC unroll 10
      for (int j = 0; j < RR + 2; ++j) {
        const int64_t q = q0 + j;
        const bool in = q >= 0 && q < g.OW;
        const __mmask16 m = in ? 0xFFFF : 0;
        const float* dq = dyrow[kk] + (in ? q : 0) * 32;
        const __m512 d0 = _mm512_maskz_loadu_ps(m, dq), d1 = _mm512_maskz_loadu_ps(m, dq + 16);
#pragma GCC unroll 3
        for (int k = 0; k < 3; ++k) {
          const int r = j - 2 + k;
          if (r < 0 || r >= RR) continue;
          acc[r] = _mm512_fmadd_ps(d0, w0[kk][k], acc[r]);
          acc[r] = _mm512_fmadd_ps(d1, w1[kk][k], acc[r]);
        }
      }
    }
    if (iw0 + RR <= g.W) {
      hsum_rows<float, RR>(reinterpret_cast<const vec_t<float>*>(acc), dxrow + iw0);
    } else {
      float out[RR];
      hsum_rows<float, RR>(reinterpret_cast<const vec_t<float>*>(acc), out);
      for (int64_t r = 0; r < g.W - iw0; ++r) dxrow[iw0 + r] = out[r];
    }
  }
}
#endif

// Rows [ih0, ih1) in blocks of R input pixels (avx512: 8, else 4), the row end in R/2, R/4, ...
template <class T>
void direct_dx(const ConvGeom& g, const T* dy, const T* packed, int64_t n, int64_t ih0,
               int64_t ih1, T* dx) {
  constexpr int R = CNNEXT_VEC_BYTES == 64 ? 8 : 4;
  const T* dyimg = dy + n * g.OH * g.OW * g.F;
#if defined(__AVX512F__)
  if constexpr (sizeof(T) == 4) {
    if (dx_row_c1(g)) {
      for (int64_t ih = ih0; ih < ih1; ++ih)
        dx_row_c1_f32(g, dyimg, packed, ih, dx + (n * g.H + ih) * g.W);
      return;
    }
  }
#endif
  for (int64_t ih = ih0; ih < ih1; ++ih) {
    T* dxrow = dx + (n * g.H + ih) * g.W * g.C;
    int64_t iw = 0;
    for (; iw + R <= g.W; iw += R) dx_pixels<T, R>(g, dyimg, packed, ih, iw, dxrow);
    if (R >= 8 && iw + 4 <= g.W) dx_pixels<T, 4>(g, dyimg, packed, ih, iw, dxrow), iw += 4;
    if (iw + 2 <= g.W) dx_pixels<T, 2>(g, dyimg, packed, ih, iw, dxrow), iw += 2;
    if (iw < g.W) dx_pixels<T, 1>(g, dyimg, packed, ih, iw, dxrow);
  }
}

#pragma GCC diagnostic pop

}  // namespace
}  // namespace CNNEXT_ISA_NS
}  // namespace cnnext
