// The conv + max-pool kernel gradient (see conv_pool.h), written once against simd/vec.h and
// compiled per ISA: direct_dw's register tile (kernel rows x filter vectors of accumulators),
// fed by the pooled gradient selected per cell by the argmax instead of a stored dense dy.
#include <cstring>

#include "kernels/conv_pool/conv_pool.h"
#include "simd/vec.h"
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace cnnext {
namespace CNNEXT_ISA_NS {
namespace {

// GCC 12 flags the AVX-512 widening intrinsics' internal _mm512_undefined operand as "may be used
// uninitialized" (a false positive); silenced for this helper only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// n (<= width) window indices -> the int lanes of I (lanes past n read 0).
template <class I>
CNNEXT_INLINE I load_cells(const uint8_t* p, int n) {
  constexpr int L = width_v<I>;
  [[maybe_unused]] constexpr int IB = sizeof(lane_t<I>);
  if constexpr (L == 1) {
    return static_cast<I>(*p);
  } else {
    // GCC widens a uint8 vector lane by lane through the stack: one zero-extending load instead.
#if defined(__AVX512F__)
    if constexpr (L == 16 && IB == 4)
      if (n == L) return (I)_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)p));
    if constexpr (L == 8 && IB == 8)
      if (n == L) return (I)_mm512_cvtepu8_epi64(_mm_loadl_epi64((const __m128i*)p));
#elif defined(__AVX2__)
    if constexpr (L == 8 && IB == 4)
      if (n == L) return (I)_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)p));
    if constexpr (L == 4 && IB == 8) {
      if (n == L) {
        int32_t w;
        std::memcpy(&w, p, 4);
        return (I)_mm256_cvtepu8_epi64(_mm_cvtsi32_si128(w));
      }
    }
#endif
    typedef uint8_t U8 __attribute__((vector_size(L)));
    U8 u = {};
    if (n == L) std::memcpy(&u, p, sizeof(U8));  // one load (a variable size goes byte by byte)
    else std::memcpy(&u, p, size_t(n));
    return __builtin_convertvector(u, I);
  }
}

#pragma GCC diagnostic pop

// The gradient values of one window cell: gm where the lane's argmax is the cell, else zero.
template <class V, class I, int NN>
CNNEXT_INLINE void cell_values(const V* gv, const I* kv, int64_t cell, V* d) {
  const I c = splat<I>(lane_t<I>(cell));
  for (int v = 0; v < NN; ++v) d[v] = select(kv[v] == c, gv[v], splat<V>(lane_t<V>(0)));
}

// TK kernel rows k0.. x NN filter vectors from f0 (see ConvPoolKernelsT::pool_dw), over windows
// of PK x PK cells (PK = 0: pkh x pkw at run time). Windows whose every tap lies inside the input
// come first (no bounds checks), then the others (taps in the padding skipped).
template <class T, int TK, int NN, int PK>
void pool_dw_block(const ConvGeom& g, int64_t pkh, int64_t pkw, const T* x, const T* gm,
                   const uint8_t* argmax, int64_t ph0, int64_t ph1, int64_t k0, int64_t f0,
                   T* dw) {
  using V = vec_t<T>;
  using I = int_t<V>;
  constexpr int VW = kWidth<T>;
  const int64_t C = g.C, F = g.F, PW = g.OW / pkw;
  const int64_t wh = PK ? PK : pkh, ww = PK ? PK : pkw;
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
    nvalid[v] = left >= VW ? VW : left > 0 ? int(left) : 0;
  }
  V acc[TK][NN];
  for (int j = 0; j < TK; ++j)
    for (int v = 0; v < NN; ++v) acc[j][v] = splat<V>(T(0));
  // Windows pw in [pw_lo, pw_hi) of a window row whose rows are inside have every tap inside.
  const int64_t span_h = (g.KH - 1) * g.dh, span_w = (g.KW - 1) * g.dw;
  const int64_t step = ww * g.sw;  // input columns between windows
  int64_t pw_lo = 0;
  while (pw_lo < PW && pw_lo * step - g.pl < 0) ++pw_lo;
  int64_t pw_hi = pw_lo;
  while (pw_hi < PW && (pw_hi * ww + ww - 1) * g.sw - g.pl + span_w < g.W) ++pw_hi;
  for (int pass = 0; pass < 2; ++pass) {
    for (int64_t ph = ph0; ph < ph1; ++ph) {
      const int64_t ih_top = ph * wh * g.sh - g.pt;
      const bool rows_in = ih_top >= 0 && ih_top + (wh - 1) * g.sh + span_h < g.H;
      for (int64_t pw = 0; pw < PW; ++pw) {
        const bool inside = rows_in && pw >= pw_lo && pw < pw_hi;
        if (inside != (pass == 0)) continue;
        const int64_t o = ((ph - ph0) * PW + pw) * F + f0;
        V gv[NN], d[NN];
        I kv[NN];
        for (int v = 0; v < NN; ++v) {
          const T* src = gm + o + v * VW;
          gv[v] = nvalid[v] == VW ? load<V>(src) : load_partial<V>(src, nvalid[v]);
          kv[v] = load_cells<I>(argmax + o + v * VW, nvalid[v]);
        }
        const int64_t iw_left = pw * step - g.pl;
        if (inside) {
          for (int64_t i = 0; i < wh; ++i)
            for (int64_t jw = 0; jw < ww; ++jw) {
              cell_values<V, I, NN>(gv, kv, i * ww + jw, d);
              const T* xb = x + ((ih_top + i * g.sh) * g.W + iw_left + jw * g.sw) * C;
              for (int j = 0; j < TK; ++j) {
                const V xs = splat<V>(xb[off[j]]);
                for (int v = 0; v < NN; ++v) acc[j][v] = acc[j][v] + xs * d[v];
              }
            }
          continue;
        }
        for (int64_t i = 0; i < wh; ++i)
          for (int64_t jw = 0; jw < ww; ++jw) {
            cell_values<V, I, NN>(gv, kv, i * ww + jw, d);
            const int64_t ih0 = ih_top + i * g.sh, iw0 = iw_left + jw * g.sw;
            for (int j = 0; j < TK; ++j) {
              const int64_t ih = ih0 + kh_d[j], iw = iw0 + kw_d[j];
              if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
              const V xs = splat<V>(x[(ih * g.W + iw) * C + cc[j]]);
              for (int v = 0; v < NN; ++v) acc[j][v] = acc[j][v] + xs * d[v];
            }
          }
      }
    }
  }
  for (int j = 0; j < TK; ++j) {
    for (int v = 0; v < NN; ++v) {
      T* dst = dw + (k0 + j) * F + f0 + v * VW;
      if (nvalid[v] == VW) store(dst, load<V>(dst) + acc[j][v]);
      else if (nvalid[v] > 0) store_partial(dst, load_partial<V>(dst, nvalid[v]) + acc[j][v], nvalid[v]);
    }
  }
}

template <class T, int NN>
void pool_dw_rows(const ConvGeom& g, int64_t pkh, int64_t pkw, const T* x, const T* gm,
                  const uint8_t* argmax, int64_t ph0, int64_t ph1, int64_t k0, int64_t kk,
                  int64_t f0, T* dw) {
  const bool two = pkh == 2 && pkw == 2;
  switch (kk) {
#define CNNEXT_POOL_DW_CASE(n)                                                                  \
  case n:                                                                                       \
    if (two) return pool_dw_block<T, n, NN, 2>(g, pkh, pkw, x, gm, argmax, ph0, ph1, k0, f0, dw); \
    return pool_dw_block<T, n, NN, 0>(g, pkh, pkw, x, gm, argmax, ph0, ph1, k0, f0, dw);
    CNNEXT_POOL_DW_CASE(1) CNNEXT_POOL_DW_CASE(2) CNNEXT_POOL_DW_CASE(3) CNNEXT_POOL_DW_CASE(4)
    CNNEXT_POOL_DW_CASE(5) CNNEXT_POOL_DW_CASE(6) CNNEXT_POOL_DW_CASE(7) CNNEXT_POOL_DW_CASE(8)
    CNNEXT_POOL_DW_CASE(9) CNNEXT_POOL_DW_CASE(10) CNNEXT_POOL_DW_CASE(11)
    CNNEXT_POOL_DW_CASE(12)
#undef CNNEXT_POOL_DW_CASE
    default: return;
  }
}

// Register tile: up to TKMAX kernel rows x 2 filter vectors (avx512: 12 x 2 accumulators of 32
// registers; 16-register ISAs: 4 x 2, leaving room for the gradient, cells and selected values).
template <class T>
void pool_dw(const ConvGeom& g, int64_t pkh, int64_t pkw, const T* x, const T* gm,
             const uint8_t* argmax, int64_t ph0, int64_t ph1, T* dw) {
  constexpr int VW = kWidth<T>, NV = 2, TKMAX = CNNEXT_VEC_BYTES == 64 ? 9 : 4;
  const int64_t K = g.K();
  for (int64_t f0 = 0; f0 < g.F;) {
    const bool two = f0 + VW < g.F;  // a second (possibly partial) vector exists
    for (int64_t k0 = 0; k0 < K; k0 += TKMAX) {
      const int64_t kk = K - k0 < TKMAX ? K - k0 : TKMAX;
      if (two) pool_dw_rows<T, NV>(g, pkh, pkw, x, gm, argmax, ph0, ph1, k0, kk, f0, dw);
      else pool_dw_rows<T, 1>(g, pkh, pkw, x, gm, argmax, ph0, ph1, k0, kk, f0, dw);
    }
    f0 += two ? NV * VW : VW;
  }
}

template <class T>
constexpr ConvPoolKernelsT<T> table() {
  return {&pool_dw<T>};
}

}  // namespace
}  // namespace CNNEXT_ISA_NS

extern const ConvPoolKernels CNNEXT_KERNEL_TABLE(conv_pool);
const ConvPoolKernels CNNEXT_KERNEL_TABLE(conv_pool) = {CNNEXT_ISA_NS::table<float>(),
                                                        CNNEXT_ISA_NS::table<double>()};

}  // namespace cnnext
