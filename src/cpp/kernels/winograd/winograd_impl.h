// Winograd F(2x2, 3x3) and F(4x4, 3x3) transforms, written once against simd/vec.h and compiled
// per ISA (see winograd.h for the formulas and layouts). Vectors run along channels (input) and
// filters (output), which are contiguous in NHWC; the scalar tail reuses the same bodies on
// plain T.
#include "kernels/winograd/winograd.h"
#include "simd/vmath.h"

namespace cnnext {
namespace CNNEXT_ISA_NS {
namespace {

// body(i, V{}) at every full vector of lanes in [0, n), then body(i, T{}) for each of the rest:
// one generic body serves the vector loop and its scalar tail.
template <class T, class Body>
CNNEXT_INLINE void over_lanes(int64_t n, const Body& body) {
  constexpr int W = kWidth<T>;
  int64_t i = 0;
  for (; i + W <= n; i += W) body(i, vec_t<T>{});
  for (; i < n; ++i) body(i, T{});
}

// The 1-D transforms of F(m, 3) (winograd.h), each on plain arrays of vectors (or scalars):
// input o = B^T d (n -> n, n = m + 2), output y = A^T m (n -> m), kernel u = G g (3 -> n),
// dy k = A e (m -> n, A e A^T of the kernel gradient) and grad o = G^T m (n -> 3).
template <int M>
struct Wino;

template <>
struct Wino<2> {
  template <class V>
  static CNNEXT_INLINE void input(const V* d, V* o) {
    o[0] = d[0] - d[2];
    o[1] = d[1] + d[2];
    o[2] = d[2] - d[1];
    o[3] = d[1] - d[3];
  }
  template <class V>
  static CNNEXT_INLINE void output(const V* m, V* y) {
    y[0] = m[0] + m[1] + m[2];
    y[1] = m[1] - m[2] - m[3];
  }
  template <class V>
  static CNNEXT_INLINE void kernel(const V* g, V* u) {
    const V h = splat<V>(lane_t<V>(0.5));
    u[0] = g[0];
    u[1] = h * (g[0] + g[1] + g[2]);
    u[2] = h * (g[0] - g[1] + g[2]);
    u[3] = g[2];
  }
  template <class V>
  static CNNEXT_INLINE void dy(const V* e, V* k) {  // A = [1 0; 1 1; 1 -1; 0 -1]
    k[0] = e[0];
    k[1] = e[0] + e[1];
    k[2] = e[0] - e[1];
    k[3] = -e[1];
  }
  template <class V>
  static CNNEXT_INLINE void grad(const V* m, V* o) {  // G^T = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1]
    const V h = splat<V>(lane_t<V>(0.5));
    o[0] = m[0] + h * (m[1] + m[2]);
    o[1] = h * (m[1] - m[2]);
    o[2] = h * (m[1] + m[2]) + m[3];
  }
};

// Points 0, 1, -1, 1/2, -2, inf. G's sixths and fifteenths are products with rounded
// reciprocals (an extra half ulp on U and dW, against 4x the kernel transform's time with
// divisions).
template <>
struct Wino<4> {
  template <class V>
  static CNNEXT_INLINE void input(const V* d, V* o) {
    using T = lane_t<V>;
    const V two = splat<V>(T(2)), five = splat<V>(T(5)), h3 = splat<V>(T(1.5));
    o[0] = d[0] + d[4] - two * d[2] + h3 * (d[3] - d[1]);
    o[1] = two * (d[4] - d[1]) + (d[2] + five * d[3]);
    o[2] = (five * d[2] - d[3]) - two * (d[1] + d[4]);
    o[3] = two * (d[1] - d[3]) + (d[2] - d[4]);
    o[4] = (d[1] - d[3]) + two * (d[4] - d[2]);
    o[5] = d[1] + d[5] - two * d[3] + h3 * (d[4] - d[2]);
  }
  template <class V>
  static CNNEXT_INLINE void output(const V* m, V* y) {
    using T = lane_t<V>;
    const V a = m[1] + m[2], b = m[1] - m[2];
    y[0] = m[0] + a + (m[3] + m[4]);
    y[1] = b + splat<V>(T(0.5)) * m[3] - splat<V>(T(2)) * m[4];
    y[2] = a + splat<V>(T(0.25)) * m[3] + splat<V>(T(4)) * m[4];
    y[3] = b + splat<V>(T(0.125)) * m[3] - splat<V>(T(8)) * m[4] + m[5];
  }
  template <class V>
  static CNNEXT_INLINE void kernel(const V* g, V* u) {
    using T = lane_t<V>;
    const V two = splat<V>(T(2)), four = splat<V>(T(4));
    u[0] = g[0];
    const V sixth = splat<V>(T(1) / T(6));
    u[1] = (g[0] + g[1] + g[2]) * sixth;
    u[2] = (g[0] - g[1] + g[2]) * sixth;
    u[3] = (four * g[0] + two * g[1] + g[2]) * splat<V>(T(4) / T(15));
    u[4] = (g[0] - two * g[1] + four * g[2]) * splat<V>(T(1) / T(30));
    u[5] = g[2];
  }
  template <class V>
  static CNNEXT_INLINE void dy(const V* e, V* k) {
    using T = lane_t<V>;
    const V s = e[0] + e[2], t = e[1] + e[3];
    k[0] = e[0];
    k[1] = s + t;
    k[2] = s - t;
    k[3] = e[0] + splat<V>(T(0.5)) * e[1] + splat<V>(T(0.25)) * e[2] + splat<V>(T(0.125)) * e[3];
    k[4] = e[0] - splat<V>(T(2)) * e[1] + splat<V>(T(4)) * e[2] - splat<V>(T(8)) * e[3];
    k[5] = e[3];
  }
  template <class V>
  static CNNEXT_INLINE void grad(const V* m, V* o) {
    using T = lane_t<V>;
    const V sixth = splat<V>(T(1) / T(6)), fifteenth = splat<V>(T(1) / T(15));
    o[0] = m[0] + (m[1] + m[2]) * sixth +
           (splat<V>(T(16)) * m[3] + splat<V>(T(0.5)) * m[4]) * fifteenth;
    o[1] = (m[1] - m[2]) * sixth + (splat<V>(T(8)) * m[3] - m[4]) * fifteenth;
    o[2] = (m[1] + m[2]) * sixth + (splat<V>(T(4)) * m[3] + splat<V>(T(2)) * m[4]) * fifteenth +
           m[5];
  }
};

// One 2-D transform L e L^T of a 1-D transform L (I -> O values): e[i][j] = ld(I * i + j), L on
// each column, then on each row, and st(O * i + j, result[i][j]).
template <int I, int O, class V, class L, class Ld, class St>
CNNEXT_INLINE void transform_2d(const L& l, const Ld& ld, const St& st) {
  V e[I][I], t[O][I], r[O][O];
#pragma GCC unroll 36
  for (int k = 0; k < I * I; ++k) e[k / I][k % I] = ld(k);
#pragma GCC unroll 6
  for (int j = 0; j < I; ++j) {
    V col[I], res[O];
#pragma GCC unroll 6
    for (int i = 0; i < I; ++i) col[i] = e[i][j];
    l(col, res);
#pragma GCC unroll 6
    for (int i = 0; i < O; ++i) t[i][j] = res[i];
  }
#pragma GCC unroll 6
  for (int i = 0; i < O; ++i) l(t[i], r[i]);
#pragma GCC unroll 36
  for (int k = 0; k < O * O; ++k) st(k, r[k / O][k % O]);
}

struct TileCoord {
  int64_t n, oh, ow;  // image and top-left output pixel of the tile
};

template <int M>
CNNEXT_INLINE TileCoord tile_coord(const ConvGeom& g, int64_t t) {
  const int64_t tw = (g.OW + M - 1) / M, per_image = ((g.OH + M - 1) / M) * tw;
  const int64_t r = t % per_image;
  return {t / per_image, M * (r / tw), M * (r % tw)};
}

// The tile's M x M output pixels (row-major) in a (N, OH, OW, F) array: cell[k] points at pixel
// (oh + k / M, ow + k % M), or is `outside` where the tile runs past the output's edge.
template <int M, class P>
CNNEXT_INLINE void tile_pixels(const ConvGeom& g, const TileCoord& tc, P* base, P* outside,
                               P** cell) {
  for (int k = 0; k < M * M; ++k) {
    const int64_t oh = tc.oh + k / M, ow = tc.ow + k % M;
    cell[k] = oh < g.OH && ow < g.OW ? base + ((tc.n * g.OH + oh) * g.OW + ow) * g.F : outside;
  }
}

// V: for each tile, taps[k] points at input cell (k / n, k % n) of its n x n patch (channel 0),
// or at zeros for a cell outside the input; lanes of channels run through B^T d B.
template <int M, class T>
void transform_input(const ConvGeom& g, const T* x, int64_t t0, int64_t t1, const T* zero,
                     T* Vt) {
  constexpr int n = M + 2;
  const int64_t C = g.C, stride = (t1 - t0) * C;
  const T* taps[n * n];
  for (int64_t t = t0; t < t1; ++t) {
    const TileCoord tc = tile_coord<M>(g, t);
    const int64_t ih0 = tc.oh - g.pt, iw0 = tc.ow - g.pl;
    const T* img = x + tc.n * g.H * g.W * C;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        const int64_t ih = ih0 + i, iw = iw0 + j;
        const bool in = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
        taps[i * n + j] = in ? img + (ih * g.W + iw) * C : zero;
      }
    T* out = Vt + (t - t0) * C;
    over_lanes<T>(C, [&](int64_t c, auto lanes) {
      using V = decltype(lanes);
      transform_2d<n, n, V>([](const V* a, V* b) { Wino<M>::input(a, b); },
                            [&](int k) { return load<V>(taps[k] + c); },
                            [&](int k, V v) { store(out + k * stride + c, v); });
    });
  }
}

// y: for each tile and lanes of filters, act(A^T m A + bias) into the tile's output pixels.
template <int M, Act act, class T>
void output_tiles(const ConvGeom& g, const T* Mx, int64_t t0, int64_t t1, const T* bias, T* y) {
  constexpr int n = M + 2;
  const int64_t F = g.F, stride = (t1 - t0) * F;
  T* dst[M * M];
  for (int64_t t = t0; t < t1; ++t) {
    tile_pixels<M>(g, tile_coord<M>(g, t), y, static_cast<T*>(nullptr), dst);
    const T* m = Mx + (t - t0) * F;
    over_lanes<T>(F, [&](int64_t f, auto lanes) {
      using V = decltype(lanes);
      const V b = bias ? load<V>(bias + f) : splat<V>(T(0));
      transform_2d<n, M, V>([](const V* a, V* r) { Wino<M>::output(a, r); },
                            [&](int k) { return load<V>(m + k * stride + f); },
                            [&](int k, V v) {
                              if (dst[k]) store(dst[k] + f, vactivate(v + b, act));
                            });
    });
  }
}

// The activation as a template constant, so the unrolled output stores carry no switch.
template <int M, class T>
void transform_output(const ConvGeom& g, const T* Mx, int64_t t0, int64_t t1, const T* bias,
                      Act act, T* y) {
  switch (act) {
    case Act::relu: return output_tiles<M, Act::relu>(g, Mx, t0, t1, bias, y);
    case Act::sigmoid: return output_tiles<M, Act::sigmoid>(g, Mx, t0, t1, bias, y);
    case Act::tanh: return output_tiles<M, Act::tanh>(g, Mx, t0, t1, bias, y);
    default: return output_tiles<M, Act::linear>(g, Mx, t0, t1, bias, y);
  }
}

// U = G g G^T. Each (c, f) pair is independent and sits at c * F + f in every tap and every U
// plane alike, so one pass of lanes runs over all C * F of them.
template <int M, class T>
void transform_kernel(int64_t plane, int64_t n, const T* kernel, T* U) {
  over_lanes<T>(n, [&](int64_t i, auto lanes) {
    using V = decltype(lanes);
    transform_2d<3, M + 2, V>([](const V* a, V* b) { Wino<M>::kernel(a, b); },
                              [&](int k) { return load<V>(kernel + k * plane + i); },
                              [&](int k, V v) { store(U + k * plane + i, v); });
  });
}

// Ye = A e A^T, e = the tile's M x M dy block (cells beyond the output's edge point at zeros).
template <int M, class T>
void transform_dy(const ConvGeom& g, const T* dy, int64_t t0, int64_t t1, const T* zero,
                  T* Ye) {
  const int64_t F = g.F, stride = (t1 - t0) * F;
  const T* src[M * M];
  for (int64_t t = t0; t < t1; ++t) {
    tile_pixels<M>(g, tile_coord<M>(g, t), dy, zero, src);
    T* out = Ye + (t - t0) * F;
    over_lanes<T>(F, [&](int64_t f, auto lanes) {
      using V = decltype(lanes);
      transform_2d<M, M + 2, V>([](const V* a, V* b) { Wino<M>::dy(a, b); },
                                [&](int k) { return load<V>(src[k] + f); },
                                [&](int k, V v) { store(out + k * stride + f, v); });
    });
  }
}

// dkernel = G^T m G, one pass over all (c, f) as in transform_kernel.
template <int M, class T>
void transform_grad(int64_t plane, int64_t n, const T* Mx, T* dkernel) {
  over_lanes<T>(n, [&](int64_t i, auto lanes) {
    using V = decltype(lanes);
    transform_2d<M + 2, 3, V>([](const V* a, V* b) { Wino<M>::grad(a, b); },
                              [&](int k) { return load<V>(Mx + k * plane + i); },
                              [&](int k, V v) { store(dkernel + k * plane + i, v); });
  });
}

// x * 0 is 0 for finite x and NaN for NaN or +-inf, so the sum stays 0 exactly when all are finite.
template <class T>
bool all_finite(const T* x, int64_t n) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  V acc = splat<V>(T(0));
  int64_t i = 0;
  for (; i + W <= n; i += W) acc = acc + load<V>(x + i) * splat<V>(T(0));
  T s = hsum(acc);
  for (; i < n; ++i) s = s + x[i] * T(0);
  return s == T(0);
}

template <int M, class T>
constexpr WinogradTransformsT<T> transforms() {
  return {&transform_kernel<M, T>, &transform_input<M, T>, &transform_output<M, T>,
          &transform_dy<M, T>, &transform_grad<M, T>};
}

template <class T>
constexpr WinogradKernelsT<T> table() {
  return {transforms<2, T>(), transforms<4, T>(), &all_finite<T>};
}

}  // namespace
}  // namespace CNNEXT_ISA_NS

extern const WinogradKernels CNNEXT_KERNEL_TABLE(winograd);
const WinogradKernels CNNEXT_KERNEL_TABLE(winograd) = {CNNEXT_ISA_NS::table<float>(),
                                                       CNNEXT_ISA_NS::table<double>()};

}  // namespace cnnext
