// Loss kernels, written once against simd/vec.h and compiled per ISA. One row (sample) at a time;
// each pass is a vector loop plus a scalar tail through the same generic lambda.
#include <cmath>

#include "kernels/loss/loss.h"
#include "kernels/eltwise/row_blocks.h"
#include "kernels/loss/vlog.h"
#include "simd/vec.h"

namespace cnnext {
namespace CNNEXT_ISA_NS {
namespace {

// f(zero of V, i) over vector blocks of [0, k), then f(zero of T, i) over the tail.
template <class T, class F>
CNNEXT_INLINE void row_each(int64_t k, F f) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  int64_t i = 0;
  for (; i + W <= k; i += W) f(V{}, i);
  for (; i < k; ++i) f(T{}, i);
}

// Sum over the row of f(zero, i) (vector accumulator, then the tail, in a fixed order).
template <class T, class F>
CNNEXT_INLINE T row_sum(int64_t k, F f) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  V acc = splat<V>(T(0));
  T tail = 0;
  int64_t i = 0;
  for (; i + W <= k; i += W) acc += f(V{}, i);
  for (; i < k; ++i) tail += f(T{}, i);
  return hsum(acc) + tail;
}

template <class T>
CNNEXT_INLINE T row_max(const T* x, int64_t k) {  // NaN-propagating, as np.max
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  V m = splat<V>(T(-__builtin_inf()));
  T tail = T(-__builtin_inf());
  int64_t i = 0;
  for (; i + W <= k; i += W) m = max_nan(m, load<V>(x + i));
  for (; i < k; ++i) tail = max_nan(tail, x[i]);
  return max_nan(hmax_nan(m), tail);
}

template <class V>
CNNEXT_INLINE V clip_eps(V q) {  // np.clip(q, eps, 1 - eps): NaN stays NaN
  using T = lane_t<V>;
  const V lo = splat<V>(T(kLossEpsilon)), hi = splat<V>(T(1.0 - kLossEpsilon));
  V c = select(q < lo, lo, q);
  return select(c > hi, hi, c);
}

template <class V>
CNNEXT_INLINE auto clipped(V q) {  // lanes where clip_eps is flat (its gradient is 0)
  using T = lane_t<V>;
  return (q < splat<V>(T(kLossEpsilon))) | (q > splat<V>(T(1.0 - kLossEpsilon)));
}

// ---- targets: a dense y_true row, or one_hot(label) built on the fly ----------------------------
template <class T>
struct DenseTarget {
  const T* y;
  template <class V>
  CNNEXT_INLINE V at(int64_t i) const {
    return load<V>(y + i);
  }
};

template <class T>
struct OneHotTarget {
  int64_t label;
  template <class V>
  CNNEXT_INLINE V at(int64_t i) const {
    V v = splat<V>(T(0));
    const int64_t d = label - i;
    if (d >= 0 && d < width_v<V>) {
      if constexpr (width_v<V> == 1) v = T(1);
      else v[d] = T(1);
    }
    return v;
  }
};

// ---- elementwise losses averaged over the row (bce, bce from logits, mse) ------------------------
// Each functor returns the loss term of element i (vector or scalar lanes) and, when Grad, stores
// its gradient (times gs) at g + i; one functor serves the per-row and the short-row block paths.
template <bool Grad, class T>
struct BceTerm {
  const T *y, *p;
  T* g;
  T gs;
  template <class V>
  CNNEXT_INLINE V operator()(V, int64_t i) const {
    const V one = splat<V>(T(1)), Y = load<V>(y + i), P = load<V>(p + i);
    const V c = clip_eps(P);
    if constexpr (Grad)
      store(g + i, select(clipped(P), splat<V>(T(0)), -Y / c + (one - Y) / (one - c)) *
                       splat<V>(gs));
    return -(Y * vlog(c) + (one - Y) * vlog(one - c));
  }
};

template <bool Grad, class T>
struct BceLogitsTerm {
  const T *y, *x;
  T* g;
  T gs;
  template <class V>
  CNNEXT_INLINE V operator()(V, int64_t i) const {
    const V zero = splat<V>(T(0)), one = splat<V>(T(1)), Y = load<V>(y + i), X = load<V>(x + i);
    const V e = vexp_nonpos(-vabs(X));  // in (0, 1]; NaN for NaN
    if constexpr (Grad) {
      const V s = one / (one + e);  // sigmoid(|x|); sigmoid(-|x|) = e * s
      store(g + i, (select(X < zero, e * s, s) - Y) * splat<V>(gs));
    }
    return (one - Y) * select(X > zero, X, zero) - Y * select(X < zero, X, zero) + vlog1p_pos(e);
  }
};

template <bool Grad, class T>
struct MseTerm {
  const T *y, *p;
  T* g;
  T gs;
  template <class V>
  CNNEXT_INLINE V operator()(V, int64_t i) const {
    const V d = load<V>(p + i) - load<V>(y + i);
    if constexpr (Grad) store(g + i, splat<V>(T(2) * gs) * d);
    return d * d;
  }
};

// loss[r] = mean over row r of Term; rows of k at y, p (, g).
template <template <bool, class> class Term, bool Grad, class T>
void mean_loss(const T* y, const T* p, T* loss, T* g, int64_t rows, int64_t k, T gs) {
  if (kUseSmallRows && k <= kSmallRow) {  // flat terms over blocks of whole rows, then row sums
    T term[kBlock], red[kBlock];
    row_blocks(rows, k, [&](int64_t off, int64_t nr) {
      const Term<Grad, T> f{y + off, p + off, Grad ? g + off : nullptr, gs};
      row_each<T>(nr * k, [&](auto z, int64_t i) { store(term + i, f(z, i)); });
      rows_sum(term, term, red, nr, k, [](T a, T) { return a; });
      for (int64_t r = 0; r < nr; ++r) loss[off / k + r] = red[r] / T(k);
    });
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r * k;
    loss[r] = row_sum<T>(k, Term<Grad, T>{y + o, p + o, Grad ? g + o : nullptr, gs}) / T(k);
  }
}

// Probabilities: q = p / sum(p), c = clip(q), loss = -sum y log c. With g_j = -y_j / c_j (0 where
// clipped), d loss / d p_i = (g_i - sum_j g_j q_j) / sum(p).
template <bool Grad, class T, class Tgt>
T cce_row(const Tgt& tgt, const T* p, T* g, int64_t k, T gs) {
  const T s = row_sum<T>(k, [&](auto z, int64_t i) { return load<decltype(z)>(p + i); });
  const T loss = -row_sum<T>(k, [&](auto z, int64_t i) {
    using V = decltype(z);
    const V q = load<V>(p + i) / splat<V>(s);
    return tgt.template at<V>(i) * vlog(clip_eps(q));
  });
  if constexpr (Grad) {
    const T G = row_sum<T>(k, [&](auto z, int64_t i) {
      using V = decltype(z);
      const V q = load<V>(p + i) / splat<V>(s);
      const V gi = select(clipped(q), splat<V>(T(0)), -tgt.template at<V>(i) / clip_eps(q));
      store(g + i, gi);
      return gi * q;
    });
    row_each<T>(k, [&](auto z, int64_t i) {
      using V = decltype(z);
      store(g + i, (load<V>(g + i) - splat<V>(G)) / splat<V>(s) * splat<V>(gs));
    });
  }
  return loss;
}

// Logits: log_softmax(x) = (x - max) - log(sum(exp(x - max))), loss = -sum y log_softmax(x);
// d loss / d x = softmax(x) * sum(y) - y.
template <bool Grad, class T, class Tgt>
T cce_logits_row(const Tgt& tgt, const T* x, T* g, int64_t k, T gs) {
  const T m = row_max(x, k);
  const T s = row_sum<T>(k, [&](auto z, int64_t i) {
    using V = decltype(z);
    const V e = vexp_nonpos(load<V>(x + i) - splat<V>(m));
    if constexpr (Grad) store(g + i, e);
    return e;
  });
  const T ls = std::log(s);
  const T loss = -row_sum<T>(k, [&](auto z, int64_t i) {
    using V = decltype(z);
    return tgt.template at<V>(i) * ((load<V>(x + i) - splat<V>(m)) - splat<V>(ls));
  });
  if constexpr (Grad) {
    const T sy = row_sum<T>(k, [&](auto z, int64_t i) { return tgt.template at<decltype(z)>(i); });
    const T a = sy / s;
    row_each<T>(k, [&](auto z, int64_t i) {
      using V = decltype(z);
      store(g + i, (load<V>(g + i) * splat<V>(a) - tgt.template at<V>(i)) * splat<V>(gs));
    });
  }
  return loss;
}

// ---- categorical crossentropy on short rows: one block of nr rows of k, dense targets y --------
// Same formulas as cce_row / cce_logits_row, as flat vector passes with per-row values spread
// over their rows (see kernels/eltwise/row_blocks.h). Buffers hold kBlock elements.
template <class T, class F>
CNNEXT_INLINE void flat3(const T* a, const T* b, const T* c, T* out, int64_t n, F f) {
  row_each<T>(n, [&](auto z, int64_t i) {
    using V = decltype(z);
    store(out + i, f(load<V>(a + i), load<V>(b + i), load<V>(c + i)));
  });
}

template <class T>
CNNEXT_INLINE T first(T a, T) {
  return a;
}

// spread() fills w[0, nr * k) before map_binary reads it, which aarch64 GCC 12 cannot see ("may
// be used uninitialized", a false positive); silenced for this function only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
template <bool Grad, class T>
void cce_logits_block(const T* y, const T* x, T* loss, T* g, int64_t nr, int64_t k, T gs) {
  T d[kBlock], e[kBlock], w[kBlock], s[kBlock], red[kBlock];
  const int64_t n = nr * k;
  rows_max(x, red, nr, k);
  spread(red, w, nr, k);
  map_binary(x, w, d, n, [](auto v, auto m) { return v - m; });  // d = x - max
  map_unary(d, e, n, [](auto v) { return vexp_nonpos(v); });     // e = exp(x - max)
  rows_sum(e, e, s, nr, k, first<T>);                             // s = sum(e)
  map_unary(s, red, nr, [](auto v) { return vlog(v); });
  spread(red, w, nr, k);
  flat3(y, d, w, w, n, [](auto t, auto dd, auto l) { return t * (dd - l); });  // y log_softmax
  rows_sum(w, w, red, nr, k, first<T>);
  for (int64_t r = 0; r < nr; ++r) loss[r] = -red[r];
  if constexpr (Grad) {  // g = softmax * sum(y) - y
    rows_sum(y, y, red, nr, k, first<T>);
    for (int64_t r = 0; r < nr; ++r) red[r] /= s[r];
    spread(red, w, nr, k);
    const T gsc = gs;
    flat3(e, w, y, g, n, [gsc](auto ee, auto a, auto t) {
      return (ee * a - t) * splat<decltype(t)>(gsc);
    });
  }
}
#pragma GCC diagnostic pop

template <bool Grad, class T>
void cce_probs_block(const T* y, const T* p, T* loss, T* g, int64_t nr, int64_t k, T gs) {
  T S[kBlock], q[kBlock], w[kBlock], red[kBlock];
  const int64_t n = nr * k;
  rows_sum(p, p, red, nr, k, first<T>);
  spread(red, S, nr, k);
  map_binary(p, S, q, n, [](auto v, auto sum) { return v / sum; });  // q = p / sum(p)
  map_binary(y, q, w, n, [](auto t, auto qq) { return t * vlog(clip_eps(qq)); });
  rows_sum(w, w, red, nr, k, first<T>);
  for (int64_t r = 0; r < nr; ++r) loss[r] = -red[r];
  if constexpr (Grad) {  // g_i = -y_i / c_i (0 where clipped); dp = (g - sum(g q)) / sum(p)
    map_binary(y, q, w, n, [](auto t, auto qq) {
      using V = decltype(t);
      return select(clipped(qq), splat<V>(lane_t<V>(0)), -t / clip_eps(qq));
    });
    rows_sum(w, q, red, nr, k, [](T a, T b) { return a * b; });
    spread(red, q, nr, k);
    const T gsc = gs;
    flat3(w, q, S, g, n, [gsc](auto gi, auto G, auto sum) {
      return (gi - G) / sum * splat<decltype(gi)>(gsc);
    });
  }
}

template <bool Logits, class T>
CNNEXT_INLINE void cce_block(const T* y, const T* p, T* loss, T* g, int64_t nr, int64_t k, T gs) {
  if (Logits) {
    if (g) cce_logits_block<true>(y, p, loss, g, nr, k, gs);
    else cce_logits_block<false>(y, p, loss, g, nr, k, gs);
  } else {
    if (g) cce_probs_block<true>(y, p, loss, g, nr, k, gs);
    else cce_probs_block<false>(y, p, loss, g, nr, k, gs);
  }
}

// ---- batch drivers ------------------------------------------------------------------------------
template <class T, bool Logits>
void cce(const T* y, const T* p, T* loss, T* grad, int64_t rows, int64_t k, T gs) {
  if (kUseSmallRows && k <= kSmallRow) {
    row_blocks(rows, k, [&](int64_t off, int64_t nr) {
      cce_block<Logits>(y + off, p + off, loss + off / k, grad ? grad + off : nullptr, nr, k, gs);
    });
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r * k;
    const DenseTarget<T> t{y + o};
    if (Logits)
      loss[r] = grad ? cce_logits_row<true>(t, p + o, grad + o, k, gs)
                     : cce_logits_row<false>(t, p + o, static_cast<T*>(nullptr), k, gs);
    else
      loss[r] = grad ? cce_row<true>(t, p + o, grad + o, k, gs)
                     : cce_row<false>(t, p + o, static_cast<T*>(nullptr), k, gs);
  }
}

template <class T, bool Logits>
void sparse_cce(const int64_t* labels, const T* p, T* loss, T* grad, int64_t rows, int64_t k,
                T gs) {
  if (kUseSmallRows && k <= kSmallRow) {  // one_hot(labels) built per block
    T y[kBlock];
    row_blocks(rows, k, [&](int64_t off, int64_t nr) {
      const int64_t r0 = off / k;
      for (int64_t i = 0; i < nr * k; ++i) y[i] = T(0);
      for (int64_t r = 0; r < nr; ++r) y[r * k + labels[r0 + r]] = T(1);
      cce_block<Logits>(y, p + off, loss + r0, grad ? grad + off : nullptr, nr, k, gs);
    });
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r * k;
    const OneHotTarget<T> t{labels[r]};
    if (Logits)
      loss[r] = grad ? cce_logits_row<true>(t, p + o, grad + o, k, gs)
                     : cce_logits_row<false>(t, p + o, static_cast<T*>(nullptr), k, gs);
    else
      loss[r] = grad ? cce_row<true>(t, p + o, grad + o, k, gs)
                     : cce_row<false>(t, p + o, static_cast<T*>(nullptr), k, gs);
  }
}

template <template <bool, class> class Term, class T>
void dense(const T* y, const T* p, T* loss, T* grad, int64_t rows, int64_t k, T gs) {
  if (grad) mean_loss<Term, true>(y, p, loss, grad, rows, k, gs);
  else mean_loss<Term, false>(y, p, loss, static_cast<T*>(nullptr), rows, k, gs);
}

template <class T>
void log_elementwise(const T* x, T* y, int64_t n) {
  map_unary(x, y, n, [](auto v) { return vlog(v); });
}

template <class T>
constexpr LossKernelsT<T> table() {
  return {&dense<BceTerm, T>,
          &dense<BceLogitsTerm, T>,
          &cce<T, false>,
          &cce<T, true>,
          &sparse_cce<T, false>,
          &sparse_cce<T, true>,
          &dense<MseTerm, T>,
          &log_elementwise<T>};
}

}  // namespace
}  // namespace CNNEXT_ISA_NS

extern const LossKernels CNNEXT_KERNEL_TABLE(loss);
const LossKernels CNNEXT_KERNEL_TABLE(loss) = {CNNEXT_ISA_NS::table<float>(),
                                               CNNEXT_ISA_NS::table<double>()};

}  // namespace cnnext
