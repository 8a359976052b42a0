// Pooling kernels, written once against simd/vec.h and compiled per ISA (see pooling.h for the
// layout contract). Every kernel walks output pixels in row-major order and, inside a pixel,
// channel blocks of 4, 2 or 1 vectors, then one overlapping vector for the last C % width
// channels (single channels, with the same generic code, when C is under one vector).
#include <cstring>

#include "kernels/pooling/pooling.h"
#include "simd/vec.h"

namespace cnnext {
namespace CNNEXT_ISA_NS {
namespace {

// The real (non-padding) part of one window along one axis: taps k0 <= k < k0 + n, whose first
// input index is i0 = o*S - P + k0.
struct Span {
  int64_t k0, n, i0;
};

CNNEXT_INLINE Span span(int64_t o, int64_t S, int64_t P, int64_t K, int64_t L) {
  const int64_t s = o * S - P;
  const int64_t k0 = s < 0 ? -s : 0;
  const int64_t k1 = s + K > L ? L - s : K;
  return {k0, k1 - k0, s + k0};
}

template <class V_, int U_>
struct Blk {
  using V = V_;
  static constexpr int U = U_;
};

// body(c, Blk<V, U>{}, done) for every channel block: U vectors of V at channel c. The last
// C % width channels (when C >= width) are one vector ending at channel C that overlaps the
// previous block; its first `done` lanes were already handled, so bodies that accumulate into
// their output mask them with drop_lanes (bodies that store a value just write it twice).
// Fewer channels than a vector take the scalar path (Blk<T, 1>) with the same generic code.
template <class T, class F>
CNNEXT_INLINE void over_channels(int64_t C, const F& body) {
  constexpr int W = kWidth<T>;
  int64_t c = 0;
  if constexpr (W > 1) {
    using V = vec_t<T>;
    for (; c + 4 * W <= C; c += 4 * W) body(c, Blk<V, 4>{}, 0);
    if (c + 2 * W <= C) {
      body(c, Blk<V, 2>{}, 0);
      c += 2 * W;
    }
    if (c + W <= C) {
      body(c, Blk<V, 1>{}, 0);
      c += W;
    }
    if (c < C && C >= W) {
      body(C - W, Blk<V, 1>{}, static_cast<int>(c - (C - W)));
      return;
    }
  }
  for (; c < C; ++c) body(c, Blk<T, 1>{}, 0);
}

// v with its first `done` lanes zeroed.
template <class V>
CNNEXT_INLINE V drop_lanes(V v, int done) {
  if constexpr (width_v<V> == 1) {
    return v;
  } else {
    using I = int_t<V>;
    using IT = lane_t<I>;
    constexpr int L = width_v<V>;
    IT iota[L];
    for (int i = 0; i < L; ++i) iota[i] = IT(i);
    return select(load<I>(iota) >= splat<I>(IT(done)), v, splat<V>(lane_t<V>(0)));
  }
}

// Window indices: int lanes of the compute vector <-> compact Idx storage (uint8 or int32).
template <class Idx, int L>
struct idx_vec {
  typedef Idx type __attribute__((vector_size(L * sizeof(Idx))));
};

template <class Idx, class I>
CNNEXT_INLINE void store_index(Idx* p, I v) {
  constexpr int L = width_v<I>;
  if constexpr (L == 1) {
    *p = static_cast<Idx>(v);
  } else {
    using O = typename idx_vec<Idx, L>::type;
    O o = __builtin_convertvector(v, O);
    std::memcpy(p, &o, sizeof(O));
  }
}

template <class I, class Idx>
CNNEXT_INLINE I load_index(const Idx* p) {
  constexpr int L = width_v<I>;
  if constexpr (L == 1) {
    return static_cast<I>(*p);
  } else {
    using O = typename idx_vec<Idx, L>::type;
    O o;
    std::memcpy(&o, p, sizeof(O));
    return __builtin_convertvector(o, I);
  }
}

// Geometry of one output pixel: first real tap p (channel 0), its window index t0, the real extent.
struct Win {
  int64_t off;  // element offset of the first real tap in the image
  int64_t nh, nw, t0;
};

CNNEXT_INLINE Win window(const PoolGeom& g, const Span& sh, int64_t ow) {
  const Span sw = span(ow, g.SW, g.PL, g.KW, g.W);
  return {(sh.i0 * g.W + sw.i0) * g.C, sh.n, sw.n, sh.k0 * g.KW + sw.k0};
}

// ---- per-window blocks: U vectors of V at channel c of the window's first real tap p ----------
// NH, NW > 0: the window is known to be exactly NH x NW real cells, so the tap loops unroll;
// 0: the real extent w.nh x w.nw is read at run time (borders of "same" padding, other sizes).

template <int NH, int NW, class V, int U>
CNNEXT_INLINE void window_max(const lane_t<V>* p, const Win& w, int64_t rs, int64_t C, V* m) {
  constexpr int L = width_v<V>;
  const int64_t nh = NH ? NH : w.nh, nw = NW ? NW : w.nw;
  for (int u = 0; u < U; ++u) m[u] = load<V>(p + u * L);
  for (int64_t i = 0; i < nh; ++i)
    for (int64_t j = 0; j < nw; ++j) {
      const lane_t<V>* t = p + i * rs + j * C;
      for (int u = 0; u < U; ++u) m[u] = max_nan(m[u], load<V>(t + u * L));
    }
}

// Sum of the real cells in row order; a partial sum per window row keeps float32 error at
// ~(KH + KW) ulp rather than KH*KW (global pooling is one big window).
template <int NH, int NW, class V, int U>
CNNEXT_INLINE void window_sum(const lane_t<V>* p, const Win& w, int64_t rs, int64_t C, V* acc) {
  using T = lane_t<V>;
  constexpr int L = width_v<V>;
  const int64_t nh = NH ? NH : w.nh, nw = NW ? NW : w.nw;
  for (int u = 0; u < U; ++u) acc[u] = splat<V>(T(0));
  for (int64_t i = 0; i < nh; ++i) {
    V r[U];
    for (int u = 0; u < U; ++u) r[u] = splat<V>(T(0));
    for (int64_t j = 0; j < nw; ++j) {
      const T* t = p + i * rs + j * C;
      for (int u = 0; u < U; ++u) r[u] += load<V>(t + u * L);
    }
    for (int u = 0; u < U; ++u) acc[u] += r[u];
  }
}

// Max and first arg-max (window index kh * KW + kw) over one window. A later cell wins only if it
// is strictly greater, or if it is the first NaN (after which nothing wins).
template <int NH, int NW, class V, int U>
CNNEXT_INLINE void window_argmax(const lane_t<V>* p, const Win& w, int64_t rs, int64_t C,
                                 int64_t KW, V* m, int_t<V>* k) {
  using I = int_t<V>;
  using IT = lane_t<I>;
  constexpr int L = width_v<V>;
  const int64_t nh = NH ? NH : w.nh, nw = NW ? NW : w.nw;
  for (int u = 0; u < U; ++u) {
    m[u] = load<V>(p + u * L);
    k[u] = splat<I>(IT(w.t0));
  }
  for (int64_t i = 0; i < nh; ++i)
    for (int64_t j = 0; j < nw; ++j) {
      if (NH && i == 0 && j == 0) continue;
      const lane_t<V>* t = p + i * rs + j * C;
      const I ti = splat<I>(IT(w.t0 + i * KW + j));
      for (int u = 0; u < U; ++u) {
        const V v = load<V>(t + u * L);
        const auto upd = (v > m[u]) | ((v != v) & (m[u] == m[u]));
        m[u] = select(upd, v, m[u]);
        k[u] = select(upd, ti, k[u]);
      }
    }
}

// d[tap] += gv where the tap's window index equals k (one tap per lane, or none).
template <int NH, int NW, class V, int U>
CNNEXT_INLINE void window_scatter(lane_t<V>* d, const V* gv, const int_t<V>* k, const Win& w,
                                  int64_t rs, int64_t C, int64_t KW) {
  using I = int_t<V>;
  using IT = lane_t<I>;
  constexpr int L = width_v<V>;
  const int64_t nh = NH ? NH : w.nh, nw = NW ? NW : w.nw;
  for (int64_t i = 0; i < nh; ++i)
    for (int64_t j = 0; j < nw; ++j) {
      lane_t<V>* t = d + i * rs + j * C;
      const I ti = splat<I>(IT(w.t0 + i * KW + j));
      for (int u = 0; u < U; ++u)
        store(t + u * L, load<V>(t + u * L) + select(k[u] == ti, gv[u], splat<V>(0)));
    }
}

// d[tap] += gv for every real tap.
template <int NH, int NW, class V, int U>
CNNEXT_INLINE void window_add(lane_t<V>* d, const V* gv, const Win& w, int64_t rs, int64_t C) {
  constexpr int L = width_v<V>;
  const int64_t nh = NH ? NH : w.nh, nw = NW ? NW : w.nw;
  for (int64_t i = 0; i < nh; ++i)
    for (int64_t j = 0; j < nw; ++j) {
      lane_t<V>* t = d + i * rs + j * C;
      for (int u = 0; u < U; ++u) store(t + u * L, load<V>(t + u * L) + gv[u]);
    }
}

// Kernels are templates over a compile-time window <KH, KW> (0, 0: any); the table entries pick
// 2x2, 3x3 or the generic instance at run time. Inside, a window clipped by padding takes the
// run-time path: CNNEXT_WIN(f, V, U) names f<KH, KW, V, U> or f<0, 0, V, U>.
#define CNNEXT_POOL_DISPATCH(fn, args, ...)                                          \
  do {                                                                                \
    if (g.KH == 2 && g.KW == 2) fn<__VA_ARGS__, 2, 2> args;                           \
    else if (g.KH == 3 && g.KW == 3) fn<__VA_ARGS__, 3, 3> args;                      \
    else fn<__VA_ARGS__, 0, 0> args;                                                  \
  } while (0)
#define CNNEXT_WIN(full, f, V, U, ...) \
  ((full) ? f<KH, KW, V, U>(__VA_ARGS__) : f<0, 0, V, U>(__VA_ARGS__))

template <int KH, int KW>
CNNEXT_INLINE bool is_full(const Win& w) {
  return KH > 0 && w.nh == KH && w.nw == KW;
}

// ---- forward ----------------------------------------------------------------------------------

template <class T, int KH, int KW>
void max_row_k(const PoolGeom& g, const T* x, T* y, int64_t oh) {
  const Span sh = span(oh, g.SH, g.PT, g.KH, g.H);
  const int64_t C = g.C, rs = g.W * g.C;
  for (int64_t ow = 0; ow < g.OW; ++ow) {
    const Win w = window(g, sh, ow);
    const bool full = is_full<KH, KW>(w);
    const T* p = x + w.off;
    T* q = y + ow * C;
    over_channels<T>(C, [&](int64_t c, auto blk, int done) {
      (void)done;  // overlapping lanes are rewritten with the same value
      using V = typename decltype(blk)::V;
      constexpr int U = decltype(blk)::U, L = width_v<V>;
      V m[U];
      CNNEXT_WIN(full, window_max, V, U, p + c, w, rs, C, m);
      for (int u = 0; u < U; ++u) store(q + c + u * L, m[u]);
    });
  }
}

template <class T, int KH, int KW>
void avg_row_k(const PoolGeom& g, const T* x, T* y, int64_t oh) {
  const Span sh = span(oh, g.SH, g.PT, g.KH, g.H);
  const int64_t C = g.C, rs = g.W * g.C;
  const T inv_full = T(1) / static_cast<T>(KH * KW ? KH * KW : 1);  // no division per pixel
  for (int64_t ow = 0; ow < g.OW; ++ow) {
    const Win w = window(g, sh, ow);
    const bool full = is_full<KH, KW>(w);
    const T* p = x + w.off;
    T* q = y + ow * C;
    const T inv = full ? inv_full : T(1) / static_cast<T>(w.nh * w.nw);
    over_channels<T>(C, [&](int64_t c, auto blk, int done) {
      (void)done;  // overlapping lanes are rewritten with the same value
      using V = typename decltype(blk)::V;
      constexpr int U = decltype(blk)::U, L = width_v<V>;
      V acc[U];
      CNNEXT_WIN(full, window_sum, V, U, p + c, w, rs, C, acc);
      for (int u = 0; u < U; ++u) store(q + c + u * L, acc[u] * splat<V>(inv));
    });
  }
}

template <class T, class Idx, int KH, int KW>
void max_argmax_row_k(const PoolGeom& g, const T* x, T* y, Idx* idx, int64_t oh) {
  const Span sh = span(oh, g.SH, g.PT, g.KH, g.H);
  const int64_t C = g.C, rs = g.W * g.C;
  for (int64_t ow = 0; ow < g.OW; ++ow) {
    const Win w = window(g, sh, ow);
    const bool full = is_full<KH, KW>(w);
    const T* p = x + w.off;
    T* q = y + ow * C;
    Idx* qi = idx + ow * C;
    over_channels<T>(C, [&](int64_t c, auto blk, int done) {
      (void)done;  // overlapping lanes are rewritten with the same value
      using V = typename decltype(blk)::V;
      constexpr int U = decltype(blk)::U, L = width_v<V>;
      V m[U];
      int_t<V> k[U];
      CNNEXT_WIN(full, window_argmax, V, U, p + c, w, rs, C, g.KW, m, k);
      for (int u = 0; u < U; ++u) {
        store(q + c + u * L, m[u]);
        store_index(qi + c + u * L, k[u]);
      }
    });
  }
}

// ---- backward (one image; dx is zeroed, then every window adds its share) ----------------------

template <class T, int KH, int KW>
void max_backward_image_k(const PoolGeom& g, const T* dy, const T* x, T* dx) {
  const int64_t C = g.C, rs = g.W * g.C;
  std::memset(dx, 0, sizeof(T) * static_cast<size_t>(g.H * rs));
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const Span sh = span(oh, g.SH, g.PT, g.KH, g.H);
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const Win w = window(g, sh, ow);
      const bool full = is_full<KH, KW>(w);
      const T* gy = dy + (oh * g.OW + ow) * C;
      over_channels<T>(C, [&](int64_t c, auto blk, int done) {
        using V = typename decltype(blk)::V;
        constexpr int U = decltype(blk)::U, L = width_v<V>;
        V m[U], gv[U];
        int_t<V> k[U];
        CNNEXT_WIN(full, window_argmax, V, U, x + w.off + c, w, rs, C, g.KW, m, k);
        for (int u = 0; u < U; ++u) gv[u] = load<V>(gy + c + u * L);
        if (done) gv[0] = drop_lanes(gv[0], done);
        CNNEXT_WIN(full, window_scatter, V, U, dx + w.off + c, gv, k, w, rs, C, g.KW);
      });
    }
  }
}

// The gradient reaching the pool for U vectors at element offset `at` of dy: dy itself, or with
// Relu the relu backward on the pooled output y, dy * (y > 0 ? 1 : 0), the same expression as
// relu_backward (NaN or inf in dy where y <= 0 gives NaN; NaN in y masks).
template <bool Relu, class V, int U>
CNNEXT_INLINE void pooled_grad(const lane_t<V>* dy, const lane_t<V>* y, int64_t at, V* gv) {
  using T = lane_t<V>;
  constexpr int L = width_v<V>;
  for (int u = 0; u < U; ++u) gv[u] = load<V>(dy + at + u * L);
  if constexpr (Relu) {
    for (int u = 0; u < U; ++u)
      gv[u] = gv[u] * select(load<V>(y + at + u * L) > splat<V>(T(0)), splat<V>(T(1)),
                             splat<V>(T(0)));
  }
}

// s[0 : U vectors] += gv.
template <class V, int U>
CNNEXT_INLINE void add_sums(lane_t<V>* s, const V* gv) {
  constexpr int L = width_v<V>;
  for (int u = 0; u < U; ++u) store(s + u * L, load<V>(s + u * L) + gv[u]);
}

// Windows that tile the input (a compile-time KH x KW window, strides equal to it, no padding):
// every cell of a window is written once, dy where the argmax points and 0 elsewhere, and only
// the cells no window covers (the last H % KH rows, W % KW columns) are zeroed separately. One
// pass of stores instead of a memset followed by a read-modify-write scatter. Each channel block
// walks its whole output row, so a row sum stays in registers.
template <class T, class Idx, int KH, int KW, bool Relu>
void max_backward_argmax_tiled(const PoolGeom& g, const T* dy, const T* y, const Idx* idx, T* dx,
                               T* row_sums) {
  const int64_t C = g.C, rs = g.W * g.C, covered = g.OW * KW * C;
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const int64_t o0 = oh * g.OW * C;
    T* d0 = dx + oh * KH * rs;
    over_channels<T>(C, [&](int64_t c, auto blk, int done) {
      // overlapping lanes are rewritten with the same value (a row sum too: same adds, same order)
      (void)done;
      using V = typename decltype(blk)::V;
      using I = int_t<V>;
      constexpr int U = decltype(blk)::U, L = width_v<V>;
      V sum[U];
      for (int u = 0; u < U; ++u) sum[u] = splat<V>(T(0));
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const int64_t o = o0 + ow * C + c;
        T* d = d0 + ow * KW * C + c;
        V gv[U];
        I k[U];
        pooled_grad<Relu, V, U>(dy, y, o, gv);
        for (int u = 0; u < U; ++u) k[u] = load_index<I>(idx + o + u * L);
        for (int i = 0; i < KH; ++i)
          for (int j = 0; j < KW; ++j) {
            T* t = d + i * rs + j * C;
            const I cell = splat<I>(lane_t<I>(i * KW + j));
            for (int u = 0; u < U; ++u)
              store(t + u * L, select(k[u] == cell, gv[u], splat<V>(T(0))));
          }
        if constexpr (Relu)
          for (int u = 0; u < U; ++u) sum[u] += gv[u];
      }
      if (Relu && row_sums)
        for (int u = 0; u < U; ++u) store(row_sums + oh * C + c + u * L, sum[u]);
    });
    if (covered < rs)
      for (int i = 0; i < KH; ++i)
        std::memset(d0 + i * rs + covered, 0, sizeof(T) * size_t(rs - covered));
  }
  if (g.OH * KH < g.H)
    std::memset(dx + g.OH * KH * rs, 0, sizeof(T) * size_t((g.H - g.OH * KH) * rs));
}

// y and row_sums are read / written only with Relu (see pooling.h).
template <class T, class Idx, bool Relu, int KH, int KW>
void max_backward_argmax_image_k(const PoolGeom& g, const T* dy, const T* y, const Idx* idx,
                                 T* dx, T* row_sums) {
  const int64_t C = g.C, rs = g.W * g.C;
  if constexpr (KH > 0) {
    if (g.SH == KH && g.SW == KW && g.PT == 0 && g.PL == 0 && g.OH * KH <= g.H &&
        g.OW * KW <= g.W) {
      max_backward_argmax_tiled<T, Idx, KH, KW, Relu>(g, dy, y, idx, dx, row_sums);
      return;
    }
  }
  std::memset(dx, 0, sizeof(T) * static_cast<size_t>(g.H * rs));
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const Span sh = span(oh, g.SH, g.PT, g.KH, g.H);
    T* sums = row_sums ? row_sums + oh * C : nullptr;
    if (sums) std::memset(sums, 0, sizeof(T) * size_t(C));
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const Win w = window(g, sh, ow);
      const bool full = is_full<KH, KW>(w);
      const int64_t o = (oh * g.OW + ow) * C;
      over_channels<T>(C, [&](int64_t c, auto blk, int done) {
        using V = typename decltype(blk)::V;
        constexpr int U = decltype(blk)::U, L = width_v<V>;
        V gv[U];
        int_t<V> k[U];
        pooled_grad<Relu, V, U>(dy, y, o + c, gv);
        for (int u = 0; u < U; ++u) k[u] = load_index<int_t<V>>(idx + o + c + u * L);
        if (done) gv[0] = drop_lanes(gv[0], done);
        CNNEXT_WIN(full, window_scatter, V, U, dx + w.off + c, gv, k, w, rs, C, g.KW);
        if (sums) add_sums<V, U>(sums + c, gv);  // lanes below `done` dropped above
      });
    }
  }
}

template <class T, int KH, int KW>
void avg_backward_image_k(const PoolGeom& g, const T* dy, T* dx) {
  const int64_t C = g.C, rs = g.W * g.C;
  const T inv_full = T(1) / static_cast<T>(KH * KW ? KH * KW : 1);
  std::memset(dx, 0, sizeof(T) * static_cast<size_t>(g.H * rs));
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const Span sh = span(oh, g.SH, g.PT, g.KH, g.H);
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const Win w = window(g, sh, ow);
      const bool full = is_full<KH, KW>(w);
      const T* gy = dy + (oh * g.OW + ow) * C;
      const T inv = full ? inv_full : T(1) / static_cast<T>(w.nh * w.nw);
      over_channels<T>(C, [&](int64_t c, auto blk, int done) {
        using V = typename decltype(blk)::V;
        constexpr int U = decltype(blk)::U, L = width_v<V>;
        V gv[U];
        for (int u = 0; u < U; ++u) gv[u] = load<V>(gy + c + u * L) * splat<V>(inv);
        if (done) gv[0] = drop_lanes(gv[0], done);
        CNNEXT_WIN(full, window_add, V, U, dx + w.off + c, gv, w, rs, C);
      });
    }
  }
}

// ---- table entries: pick the compile-time window ------------------------------------------------

template <class T>
void max_row(const PoolGeom& g, const T* x, T* y, int64_t oh) {
  CNNEXT_POOL_DISPATCH(max_row_k, (g, x, y, oh), T);
}
template <class T>
void avg_row(const PoolGeom& g, const T* x, T* y, int64_t oh) {
  CNNEXT_POOL_DISPATCH(avg_row_k, (g, x, y, oh), T);
}
template <class T, class Idx>
void max_argmax_row(const PoolGeom& g, const T* x, T* y, Idx* idx, int64_t oh) {
  CNNEXT_POOL_DISPATCH(max_argmax_row_k, (g, x, y, idx, oh), T, Idx);
}
template <class T>
void max_backward_image(const PoolGeom& g, const T* dy, const T* x, T* dx) {
  CNNEXT_POOL_DISPATCH(max_backward_image_k, (g, dy, x, dx), T);
}
template <class T, class Idx>
void max_backward_argmax_image(const PoolGeom& g, const T* dy, const Idx* idx, T* dx) {
  CNNEXT_POOL_DISPATCH(max_backward_argmax_image_k, (g, dy, nullptr, idx, dx, nullptr), T, Idx,
                       false);
}
template <class T, class Idx>
void max_relu_backward_argmax_image(const PoolGeom& g, const T* dy, const T* y, const Idx* idx,
                                    T* dx, T* row_sums) {
  CNNEXT_POOL_DISPATCH(max_backward_argmax_image_k, (g, dy, y, idx, dx, row_sums), T, Idx, true);
}
template <class T>
void avg_backward_image(const PoolGeom& g, const T* dy, T* dx) {
  CNNEXT_POOL_DISPATCH(avg_backward_image_k, (g, dy, dx), T);
}

#undef CNNEXT_WIN
#undef CNNEXT_POOL_DISPATCH

template <class T>
constexpr PoolingKernelsT<T> table() {
  return {&max_row<T>,
          &avg_row<T>,
          &max_argmax_row<T, uint8_t>,
          &max_argmax_row<T, int32_t>,
          &max_backward_image<T>,
          &max_backward_argmax_image<T, uint8_t>,
          &max_backward_argmax_image<T, int32_t>,
          &avg_backward_image<T>,
          &max_relu_backward_argmax_image<T, uint8_t>,
          &max_relu_backward_argmax_image<T, int32_t>};
}

}  // namespace
}  // namespace CNNEXT_ISA_NS

extern const PoolingKernels CNNEXT_KERNEL_TABLE(pooling);
const PoolingKernels CNNEXT_KERNEL_TABLE(pooling) = {CNNEXT_ISA_NS::table<float>(),
                                                     CNNEXT_ISA_NS::table<double>()};

}  // namespace cnnext
