// A register tile of a kernel gradient, rows of the (KH * KW * C, F) kernel x filter vectors:
// where its rows read an NHWC image, how many lanes of its vectors are real, and the store of its
// accumulators. Shared by the direct kernel gradient (conv_direct_impl.h) and the fused
// conv + max-pool gradient (kernels/conv_pool). Include after simd/vec.h (compiled per ISA).
#pragma once
#include <cstdint>

#include "kernels/conv/conv.h"
#include "simd/vec.h"

namespace cnnext {

// Kernel rows k0 .. k0 + TK - 1, row k = (kh * KW + kw) * C + c: its tap's row and column offsets
// (dilated), its channel, and its element offset from a window's top-left cell.
template <int TK>
struct KernelRows {
  int64_t kh_d[TK], kw_d[TK], off[TK], cc[TK];
  KernelRows(const ConvGeom& g, int64_t k0) {
    for (int j = 0; j < TK; ++j) {
      const int64_t k = k0 + j, tap = k / g.C;
      cc[j] = k % g.C;
      kh_d[j] = tap / g.KW * g.dh;
      kw_d[j] = tap % g.KW * g.dw;
      off[j] = (kh_d[j] * g.W + kw_d[j]) * g.C + cc[j];
    }
  }
};

// Real filters in each of NN vectors of `width` lanes from filter f0 (0 past the last filter).
template <int NN>
inline void filter_lanes(int64_t F, int64_t f0, int width, int* nvalid) {
  for (int v = 0; v < NN; ++v) {
    const int64_t left = F - (f0 + v * width);
    nvalid[v] = left >= width ? width : left > 0 ? int(left) : 0;
  }
}

namespace CNNEXT_ISA_NS {

// The tile of kernel rows k0 .. k0 + TK - 1 x NN filter vectors from f0: its rows, real lanes
// and zeroed accumulators; store() writes dw rows k0.. (row length F) at those filters =
// (accumulate ? dw : 0) + acc, the real lanes only.
template <class V, int TK, int NN>
struct DwTile {
  static constexpr int VW = kWidth<lane_t<V>>;
  KernelRows<TK> rows;
  int nvalid[NN];
  V acc[TK][NN];
  int64_t k0, f0;
  CNNEXT_INLINE DwTile(const ConvGeom& g, int64_t k0_, int64_t f0_)
      : rows(g, k0_), k0(k0_), f0(f0_) {
    filter_lanes<NN>(g.F, f0, VW, nvalid);
    for (int j = 0; j < TK; ++j)
      for (int v = 0; v < NN; ++v) acc[j][v] = splat<V>(lane_t<V>(0));
  }
  CNNEXT_INLINE void store(int64_t F, bool accumulate, lane_t<V>* dw) const;
};

template <class V, int TK, int NN>
CNNEXT_INLINE void DwTile<V, TK, NN>::store(int64_t F, bool accumulate, lane_t<V>* dw) const {
  for (int j = 0; j < TK; ++j)
    for (int v = 0; v < NN; ++v) {
      lane_t<V>* dst = dw + (k0 + j) * F + f0 + v * VW;
      V r = acc[j][v];
      if (nvalid[v] == VW) {
        if (accumulate) r = load<V>(dst) + r;
        cnnext::CNNEXT_ISA_NS::store(dst, r);
      } else if (nvalid[v] > 0) {
        if (accumulate) r = load_partial<V>(dst, nvalid[v]) + r;
        store_partial(dst, r, nvalid[v]);
      }
    }
}

template <int N>
struct Vectors {
  static constexpr int value = N;
};

// body(Vectors<NN>{}, k0, kk, f0) over the tiles that cover a (K, F) kernel gradient: kk <= TKMAX
// kernel rows from k0 x NN = 2 filter vectors from f0 (1 where only one vector is left).
template <class T, int TKMAX, class Body>
CNNEXT_INLINE void for_each_dw_tile(const ConvGeom& g, const Body& body) {
  constexpr int VW = kWidth<T>;
  const int64_t K = g.K();
  for (int64_t f0 = 0; f0 < g.F;) {
    const bool two = f0 + VW < g.F;  // a second (possibly partial) vector exists
    for (int64_t k0 = 0; k0 < K; k0 += TKMAX) {
      const int64_t kk = K - k0 < TKMAX ? K - k0 : TKMAX;
      if (two) body(Vectors<2>{}, k0, kk, f0);
      else body(Vectors<1>{}, k0, kk, f0);
    }
    f0 += two ? 2 * VW : VW;
  }
}

}  // namespace CNNEXT_ISA_NS
}  // namespace cnnext
