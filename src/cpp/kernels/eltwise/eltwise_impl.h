// Elementwise and softmax-family kernels, written once against simd/vec.h and compiled per ISA.
#include <cmath>

#include "kernels/eltwise/eltwise.h"
#include "kernels/eltwise/row_blocks.h"
#include "kernels/loss/vlog.h"
#include "simd/vec.h"
#include "simd/vmath.h"

namespace cnnext {
namespace CNNEXT_ISA_NS {
namespace {

// ---- elementwise --------------------------------------------------------------------------------
template <class T>
void relu(const T* x, T* y, int64_t n) {
  map_unary(x, y, n, [](auto v) {
    using V = decltype(v);
    return select(v < splat<V>(0), splat<V>(0), v);  // NaN < 0 is false: NaN passes through
  });
}

template <class T>
void relu_backward(const T* dy, const T* x, T* dx, int64_t n) {
  map_binary(dy, x, dx, n, [](auto g, auto v) {
    using V = decltype(v);
    // dy * (x > 0), as TF's ReluGrad: NaN or inf in dy where x <= 0 gives NaN (inf * 0).
    return g * select(v > splat<V>(0), splat<V>(1), splat<V>(0));
  });
}

// One comparison against thr picks the branch; x <= thr is false for NaN, so NaN takes the upper
// branch, where min_nan keeps it. The slope-0 variant writes 0 below thr instead of 0 * (x - thr),
// which would be NaN at x = -inf.
template <class T>
void relu_general(const T* x, T* y, int64_t n, T slope, T cap, T thr) {
  if (slope == T(0)) {
    map_unary(x, y, n, [=](auto v) {
      using V = decltype(v);
      return select(v <= splat<V>(thr), splat<V>(0), min_nan(v, splat<V>(cap)));
    });
  } else {
    map_unary(x, y, n, [=](auto v) {
      using V = decltype(v);
      return select(v <= splat<V>(thr), splat<V>(slope) * (v - splat<V>(thr)),
                    min_nan(v, splat<V>(cap)));
    });
  }
}

// The kinks at thr and cap take the lower piece's slope (as relu_backward at 0). With no cap the
// upper comparison is against NaN, which is always false: no kink, dy passes for every x > thr.
template <class T>
void relu_general_backward(const T* dy, const T* x, T* dx, int64_t n, T slope, T cap, T thr) {
  const T hi = cap < T(__builtin_inf()) ? cap : T(__builtin_nan(""));
  if (slope == T(0)) {
    map_binary(dy, x, dx, n, [=](auto g, auto v) {
      using V = decltype(v);
      return select(v > splat<V>(thr), select(v >= splat<V>(hi), splat<V>(0), g), splat<V>(0));
    });
  } else {
    map_binary(dy, x, dx, n, [=](auto g, auto v) {
      using V = decltype(v);
      const V lower = select(v <= splat<V>(thr), g * splat<V>(slope), splat<V>(0));  // NaN: 0
      return select(v > splat<V>(thr), select(v >= splat<V>(hi), splat<V>(0), g), lower);
    });
  }
}

template <class T>
void sigmoid(const T* x, T* y, int64_t n) {
  map_unary(x, y, n, [](auto v) { return vsigmoid(v); });
}

template <class T>
void sigmoid_backward(const T* dy, const T* y, T* dx, int64_t n) {
  map_binary(dy, y, dx, n, [](auto g, auto s) {
    using V = decltype(s);
    return g * s * (splat<V>(1) - s);
  });
}

template <class T>
void tanh_forward(const T* x, T* y, int64_t n) {
  map_unary(x, y, n, [](auto v) {  // vtanh(-0) is +0; np.tanh keeps the sign of zero
    using V = decltype(v);
    return select(v == splat<V>(0), v, vtanh(v));
  });
}

template <class T>
void tanh_backward(const T* dy, const T* y, T* dx, int64_t n) {
  map_binary(dy, y, dx, n, [](auto g, auto t) {
    using V = decltype(t);
    return g * (splat<V>(1) - t * t);
  });
}

// ---- softmax family over contiguous rows --------------------------------------------------------
// Full vectors then one partial vector whose unused lanes hold a neutral fill, so a row of 10
// floats is one masked vector on AVX-512 rather than a scalar loop.
constexpr double kNegInf = -__builtin_inf();

template <class T>
CNNEXT_INLINE T row_max(const T* x, int64_t c) {  // NaN-propagating, as np.max
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  V m = splat<V>(T(kNegInf));
  int64_t i = 0;
  for (; i + W <= c; i += W) m = max_nan(m, load<V>(x + i));
  if (i < c) m = max_nan(m, load_partial<V>(x + i, int(c - i), T(kNegInf)));
  return hmax_nan(m);
}

// sum(exp(x - m)); also stores exp(x - m) into e when e is not null.
template <class T>
CNNEXT_INLINE T row_exp_sum(const T* x, T* e, int64_t c, T m) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  const V mv = splat<V>(m);
  V s = splat<V>(0);
  int64_t i = 0;
  for (; i + W <= c; i += W) {
    V v = vexp_nonpos(load<V>(x + i) - mv);
    if (e) store(e + i, v);
    s += v;
  }
  if (i < c) {  // fill -inf -> exp 0 (or NaN when m is -inf, where the whole row is NaN anyway)
    V v = vexp_nonpos(load_partial<V>(x + i, int(c - i), T(kNegInf)) - mv);
    if (e) store_partial(e + i, v, int(c - i));
    s += v;
  }
  return hsum(s);
}

// y[i] = f(a[i], b[i]) over one row (b may equal a), full vectors then one partial vector.
template <class T, class F>
CNNEXT_INLINE void row_map(const T* a, const T* b, T* y, int64_t c, F f) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  int64_t i = 0;
  for (; i + W <= c; i += W) store(y + i, f(load<V>(a + i), load<V>(b + i)));
  if (i < c) {
    const int r = int(c - i);
    store_partial(y + i, f(load_partial<V>(a + i, r), load_partial<V>(b + i, r)), r);
  }
}

// sum(f(a[i], b[i])) over one row; f(0, 0) must be 0 (it fills the partial vector).
template <class T, class F>
CNNEXT_INLINE T row_sum(const T* a, const T* b, int64_t c, F f) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  V s = splat<V>(0);
  int64_t i = 0;
  for (; i + W <= c; i += W) s += f(load<V>(a + i), load<V>(b + i));
  if (i < c) s += f(load_partial<V>(a + i, int(c - i)), load_partial<V>(b + i, int(c - i)));
  return hsum(s);
}

template <class T>
void softmax_small_rows(const T* x, T* y, int64_t rows, int64_t c) {
  T buf[kBlock], red[kBlock];
  row_blocks(rows, c, [&](int64_t off, int64_t nr) {
    const T* xb = x + off;
    T* yb = y + off;
    rows_max(xb, red, nr, c);
    spread(red, buf, nr, c);
    map_binary(xb, buf, yb, nr * c, [](auto v, auto m) { return vexp_nonpos(v - m); });
    rows_sum(yb, yb, red, nr, c, [](T e, T) { return e; });
    for (int64_t r = 0; r < nr; ++r) red[r] = T(1) / red[r];
    spread(red, buf, nr, c);
    map_binary(yb, buf, yb, nr * c, [](auto e, auto inv) { return e * inv; });
  });
}

template <class T>
void log_softmax_small_rows(const T* x, T* y, int64_t rows, int64_t c) {
  T mx[kBlock], ls[kBlock], red[kBlock];
  row_blocks(rows, c, [&](int64_t off, int64_t nr) {
    const T* xb = x + off;
    T* yb = y + off;
    rows_max(xb, red, nr, c);
    spread(red, mx, nr, c);
    map_binary(xb, mx, ls, nr * c, [](auto v, auto m) { return vexp_nonpos(v - m); });
    rows_sum(ls, ls, red, nr, c, [](T e, T) { return e; });
    map_unary(red, red, nr, [](auto v) { return vlog(v); });
    spread(red, ls, nr, c);
    map_binary(xb, mx, mx, nr * c, [](auto v, auto m) { return v - m; });
    map_binary(mx, ls, yb, nr * c, [](auto d, auto l) { return d - l; });
  });
}

template <class T>
void softmax_backward_small_rows(const T* dy, const T* y, T* dx, int64_t rows, int64_t c) {
  T buf[kBlock], red[kBlock];
  row_blocks(rows, c, [&](int64_t off, int64_t nr) {
    rows_sum(dy + off, y + off, red, nr, c, [](T g, T p) { return g * p; });
    spread(red, buf, nr, c);
    map_binary(dy + off, buf, buf, nr * c, [](auto g, auto s) { return g - s; });
    map_binary(y + off, buf, dx + off, nr * c, [](auto p, auto d) { return p * d; });
  });
}

template <class T>
void log_softmax_backward_small_rows(const T* dy, const T* y, T* dx, int64_t rows, int64_t c) {
  T buf[kBlock], red[kBlock];
  row_blocks(rows, c, [&](int64_t off, int64_t nr) {
    rows_sum(dy + off, dy + off, red, nr, c, [](T g, T) { return g; });
    spread(red, buf, nr, c);
    map_binary(y + off, buf, buf, nr * c, [](auto ly, auto s) { return vexp(ly) * s; });
    map_binary(dy + off, buf, dx + off, nr * c, [](auto g, auto t) { return g - t; });
  });
}

template <class T>
void softmax_rows(const T* x, T* y, int64_t rows, int64_t c) {
  if (kUseSmallRows && c <= kSmallRow) return softmax_small_rows(x, y, rows, c);
  for (int64_t r = 0; r < rows; ++r, x += c, y += c) {
    const T s = row_exp_sum(x, y, c, row_max(x, c));
    const T inv = T(1) / s;
    row_map(y, y, y, c, [inv](auto e, auto) { return e * splat<decltype(e)>(inv); });
  }
}

template <class T>
void log_softmax_rows(const T* x, T* y, int64_t rows, int64_t c) {
  if (kUseSmallRows && c <= kSmallRow) return log_softmax_small_rows(x, y, rows, c);
  for (int64_t r = 0; r < rows; ++r, x += c, y += c) {
    const T m = row_max(x, c);
    const T ls = std::log(row_exp_sum(x, static_cast<T*>(nullptr), c, m));
    row_map(x, x, y, c, [m, ls](auto v, auto) {
      using V = decltype(v);
      return (v - splat<V>(m)) - splat<V>(ls);
    });
  }
}

template <class T>
void softmax_backward_rows(const T* dy, const T* y, T* dx, int64_t rows, int64_t c) {
  if (kUseSmallRows && c <= kSmallRow) return softmax_backward_small_rows(dy, y, dx, rows, c);
  for (int64_t r = 0; r < rows; ++r, dy += c, y += c, dx += c) {
    const T s = row_sum(dy, y, c, [](auto g, auto p) { return g * p; });
    row_map(dy, y, dx, c, [s](auto g, auto p) { return p * (g - splat<decltype(g)>(s)); });
  }
}

template <class T>
void log_softmax_backward_rows(const T* dy, const T* y, T* dx, int64_t rows, int64_t c) {
  if (kUseSmallRows && c <= kSmallRow) return log_softmax_backward_small_rows(dy, y, dx, rows, c);
  for (int64_t r = 0; r < rows; ++r, dy += c, y += c, dx += c) {
    const T s = row_sum(dy, dy, c, [](auto g, auto) { return g; });
    row_map(dy, y, dx, c, [s](auto g, auto ly) { return g - vexp(ly) * splat<decltype(g)>(s); });
  }
}

// ---- softmax family over a strided axis ---------------------------------------------------------
// Problems are taken kStrip at a time; their running max/sum live in small stack arrays, and each
// pass walks the c rows of the strip in memory order (kStrip contiguous elements per row).
constexpr int64_t kStrip = 128;

// f(zero of V, j) for vector blocks of [0, n), then f(zero of T, j) for the scalar tail.
template <class T, class F>
CNNEXT_INLINE void lanes_of(int64_t n, F f) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  int64_t j = 0;
  for (; j + W <= n; j += W) f(V{}, j);
  for (; j < n; ++j) f(T{}, j);
}

template <class T>
void strip_max(const T* x, T* mx, int64_t w, int64_t c, int64_t st) {
  lanes_of<T>(w, [&](auto z, int64_t j) { store(mx + j, load<decltype(z)>(x + j)); });
  for (int64_t i = 1; i < c; ++i)
    lanes_of<T>(w, [&](auto z, int64_t j) {
      using V = decltype(z);
      store(mx + j, max_nan(load<V>(mx + j), load<V>(x + i * st + j)));
    });
}

template <class T>
void strip_exp_sum(const T* x, T* e, const T* mx, T* sm, int64_t w, int64_t c, int64_t st) {
  lanes_of<T>(w, [&](auto z, int64_t j) { store(sm + j, splat<decltype(z)>(T(0))); });
  for (int64_t i = 0; i < c; ++i)
    lanes_of<T>(w, [&](auto z, int64_t j) {
      using V = decltype(z);
      V v = vexp_nonpos(load<V>(x + i * st + j) - load<V>(mx + j));
      if (e) store(e + i * st + j, v);
      store(sm + j, load<V>(sm + j) + v);
    });
}

template <class T>
void softmax_cols(const T* x, T* y, int64_t ncols, int64_t c, int64_t st) {
  T mx[kStrip], sm[kStrip];
  for (int64_t j0 = 0; j0 < ncols; j0 += kStrip, x += kStrip, y += kStrip) {
    const int64_t w = ncols - j0 < kStrip ? ncols - j0 : kStrip;
    strip_max(x, mx, w, c, st);
    strip_exp_sum(x, y, mx, sm, w, c, st);
    for (int64_t j = 0; j < w; ++j) sm[j] = T(1) / sm[j];
    for (int64_t i = 0; i < c; ++i)
      lanes_of<T>(w, [&](auto z, int64_t j) {
        using V = decltype(z);
        store(y + i * st + j, load<V>(y + i * st + j) * load<V>(sm + j));
      });
  }
}

template <class T>
void log_softmax_cols(const T* x, T* y, int64_t ncols, int64_t c, int64_t st) {
  T mx[kStrip], sm[kStrip];
  for (int64_t j0 = 0; j0 < ncols; j0 += kStrip, x += kStrip, y += kStrip) {
    const int64_t w = ncols - j0 < kStrip ? ncols - j0 : kStrip;
    strip_max(x, mx, w, c, st);
    strip_exp_sum(x, static_cast<T*>(nullptr), mx, sm, w, c, st);
    for (int64_t j = 0; j < w; ++j) sm[j] = std::log(sm[j]);
    for (int64_t i = 0; i < c; ++i)
      lanes_of<T>(w, [&](auto z, int64_t j) {
        using V = decltype(z);
        store(y + i * st + j, (load<V>(x + i * st + j) - load<V>(mx + j)) - load<V>(sm + j));
      });
  }
}

// sm[j] = sum_i f(a[i, j], b[i, j]) over the strip.
template <class T, class F>
void strip_sum(const T* a, const T* b, T* sm, int64_t w, int64_t c, int64_t st, F f) {
  lanes_of<T>(w, [&](auto z, int64_t j) { store(sm + j, splat<decltype(z)>(T(0))); });
  for (int64_t i = 0; i < c; ++i)
    lanes_of<T>(w, [&](auto z, int64_t j) {
      using V = decltype(z);
      store(sm + j, load<V>(sm + j) + f(load<V>(a + i * st + j), load<V>(b + i * st + j)));
    });
}

template <class T>
void softmax_backward_cols(const T* dy, const T* y, T* dx, int64_t ncols, int64_t c, int64_t st) {
  T sm[kStrip];
  for (int64_t j0 = 0; j0 < ncols; j0 += kStrip, dy += kStrip, y += kStrip, dx += kStrip) {
    const int64_t w = ncols - j0 < kStrip ? ncols - j0 : kStrip;
    strip_sum(dy, y, sm, w, c, st, [](auto g, auto p) { return g * p; });
    for (int64_t i = 0; i < c; ++i)
      lanes_of<T>(w, [&](auto z, int64_t j) {
        using V = decltype(z);
        const int64_t o = i * st + j;
        store(dx + o, load<V>(y + o) * (load<V>(dy + o) - load<V>(sm + j)));
      });
  }
}

template <class T>
void log_softmax_backward_cols(const T* dy, const T* y, T* dx, int64_t ncols, int64_t c,
                               int64_t st) {
  T sm[kStrip];
  for (int64_t j0 = 0; j0 < ncols; j0 += kStrip, dy += kStrip, y += kStrip, dx += kStrip) {
    const int64_t w = ncols - j0 < kStrip ? ncols - j0 : kStrip;
    strip_sum(dy, dy, sm, w, c, st, [](auto g, auto) { return g; });
    for (int64_t i = 0; i < c; ++i)
      lanes_of<T>(w, [&](auto z, int64_t j) {
        using V = decltype(z);
        const int64_t o = i * st + j;
        store(dx + o, load<V>(dy + o) - vexp(load<V>(y + o)) * load<V>(sm + j));
      });
  }
}

template <class T>
constexpr EltwiseKernelsT<T> table() {
  return {&relu<T>,
          &relu_backward<T>,
          &relu_general<T>,
          &relu_general_backward<T>,
          &sigmoid<T>,
          &sigmoid_backward<T>,
          &tanh_forward<T>,
          &tanh_backward<T>,
          &softmax_rows<T>,
          &softmax_cols<T>,
          &log_softmax_rows<T>,
          &log_softmax_cols<T>,
          &softmax_backward_rows<T>,
          &softmax_backward_cols<T>,
          &log_softmax_backward_rows<T>,
          &log_softmax_backward_cols<T>};
}

}  // namespace
}  // namespace CNNEXT_ISA_NS

extern const EltwiseKernels CNNEXT_KERNEL_TABLE(eltwise);
const EltwiseKernels CNNEXT_KERNEL_TABLE(eltwise) = {CNNEXT_ISA_NS::table<float>(),
                                                     CNNEXT_ISA_NS::table<double>()};

}  // namespace cnnext
