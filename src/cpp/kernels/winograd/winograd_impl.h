// Winograd F(2x2, 3x3) transforms, written once against simd/vec.h and compiled per ISA (see
// winograd.h for the formulas and layouts). Vectors run along channels (input) and filters
// (output), which are contiguous in NHWC; the scalar tail reuses the same bodies on plain T.
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

struct TileCoord {
  int64_t n, oh, ow;  // image and top-left output pixel of the tile
};

CNNEXT_INLINE TileCoord tile_coord(const ConvGeom& g, int64_t t) {
  const int64_t tw = (g.OW + 1) / 2, per_image = ((g.OH + 1) / 2) * tw;
  const int64_t r = t % per_image;
  return {t / per_image, 2 * (r / tw), 2 * (r % tw)};
}

// The tile's 2x2 output pixels (row-major) in a (N, OH, OW, F) array: cell[k] points at pixel
// (oh + k / 2, ow + k % 2), or is null where the tile runs past the output's edge.
template <class P>
CNNEXT_INLINE void tile_pixels(const ConvGeom& g, const TileCoord& tc, P* base, P** cell) {
  for (int k = 0; k < 4; ++k) {
    const int64_t oh = tc.oh + k / 2, ow = tc.ow + k % 2;
    cell[k] = oh < g.OH && ow < g.OW ? base + ((tc.n * g.OH + oh) * g.OW + ow) * g.F : nullptr;
  }
}

// One tile's 16 transformed values for channels [c, c + lanes): taps[k] points at input cell
// (k / 4, k % 4) of the patch (channel 0), or is null for a cell outside the input (zero).
template <class V, bool Full>
CNNEXT_INLINE void input_points(const lane_t<V>* const* taps, int64_t c, lane_t<V>* out,
                                int64_t stride) {
  using T = lane_t<V>;
  V d[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const T* p = taps[i * 4 + j];
      d[i][j] = (Full || p) ? load<V>(p + c) : splat<V>(T(0));
    }
  V t[4][4];  // B^T d
  for (int j = 0; j < 4; ++j) {
    t[0][j] = d[0][j] - d[2][j];
    t[1][j] = d[1][j] + d[2][j];
    t[2][j] = d[2][j] - d[1][j];
    t[3][j] = d[1][j] - d[3][j];
  }
  for (int i = 0; i < 4; ++i) {  // (B^T d) B
    T* o = out + i * 4 * stride + c;
    store(o, t[i][0] - t[i][2]);
    store(o + stride, t[i][1] + t[i][2]);
    store(o + 2 * stride, t[i][2] - t[i][1]);
    store(o + 3 * stride, t[i][1] - t[i][3]);
  }
}

template <class T, bool Full>
CNNEXT_INLINE void input_tile(const T* const* taps, int64_t C, T* out, int64_t stride) {
  over_lanes<T>(C, [&](int64_t c, auto lanes) {
    input_points<decltype(lanes), Full>(taps, c, out, stride);
  });
}

template <class T>
void transform_input(const ConvGeom& g, const T* x, int64_t t0, int64_t t1, T* Vt) {
  const int64_t C = g.C, stride = (t1 - t0) * C;
  const T* taps[16];
  for (int64_t t = t0; t < t1; ++t) {
    const TileCoord tc = tile_coord(g, t);
    const int64_t ih0 = tc.oh - g.pt, iw0 = tc.ow - g.pl;
    const T* img = x + tc.n * g.H * g.W * C;
    bool full = true;
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) {
        const int64_t ih = ih0 + i, iw = iw0 + j;
        const bool in = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
        taps[i * 4 + j] = in ? img + (ih * g.W + iw) * C : nullptr;
        full = full && in;
      }
    T* out = Vt + (t - t0) * C;
    if (full) input_tile<T, true>(taps, C, out, stride);
    else input_tile<T, false>(taps, C, out, stride);
  }
}

// The 2x2 outputs of one tile for filters [f, f + lanes): A^T m A, + bias, activation.
template <class V>
CNNEXT_INLINE void output_points(const lane_t<V>* m, int64_t stride, const lane_t<V>* bias,
                                 Act act, int64_t f, lane_t<V>* const* dst) {
  using T = lane_t<V>;
  V r[4][4];
  for (int k = 0; k < 16; ++k) r[k / 4][k % 4] = load<V>(m + k * stride + f);
  V t[2][4];  // A^T m
  for (int j = 0; j < 4; ++j) {
    t[0][j] = r[0][j] + r[1][j] + r[2][j];
    t[1][j] = r[1][j] - r[2][j] - r[3][j];
  }
  const V b = bias ? load<V>(bias + f) : splat<V>(T(0));
  for (int i = 0; i < 2; ++i) {
    const V y0 = t[i][0] + t[i][1] + t[i][2] + b;
    const V y1 = t[i][1] - t[i][2] - t[i][3] + b;
    if (dst[2 * i]) store(dst[2 * i] + f, vactivate(y0, act));
    if (dst[2 * i + 1]) store(dst[2 * i + 1] + f, vactivate(y1, act));
  }
}

template <class T>
void transform_output(const ConvGeom& g, const T* Mx, int64_t t0, int64_t t1, const T* bias,
                      Act act, T* y) {
  const int64_t F = g.F, stride = (t1 - t0) * F;
  T* dst[4];
  for (int64_t t = t0; t < t1; ++t) {
    tile_pixels(g, tile_coord(g, t), y, dst);
    const T* m = Mx + (t - t0) * F;
    over_lanes<T>(F, [&](int64_t f, auto lanes) {
      output_points<decltype(lanes)>(m, stride, bias, act, f, dst);
    });
  }
}

// U = G g G^T for a run of lanes of (c, f) pairs: w points at tap 0, the 9 taps tap_stride apart;
// the 16 results go plane apart from u.
template <class V>
CNNEXT_INLINE void kernel_points(const lane_t<V>* w, int64_t tap_stride, lane_t<V>* u,
                                 int64_t plane) {
  using T = lane_t<V>;
  const V h = splat<V>(T(0.5));
  V g[3][3];
  for (int k = 0; k < 9; ++k) g[k / 3][k % 3] = load<V>(w + k * tap_stride);
  V t[4][3];  // G g
  for (int j = 0; j < 3; ++j) {
    t[0][j] = g[0][j];
    t[1][j] = h * (g[0][j] + g[1][j] + g[2][j]);
    t[2][j] = h * (g[0][j] - g[1][j] + g[2][j]);
    t[3][j] = g[2][j];
  }
  for (int i = 0; i < 4; ++i) {  // (G g) G^T
    store(u + (i * 4 + 0) * plane, t[i][0]);
    store(u + (i * 4 + 1) * plane, h * (t[i][0] + t[i][1] + t[i][2]));
    store(u + (i * 4 + 2) * plane, h * (t[i][0] - t[i][1] + t[i][2]));
    store(u + (i * 4 + 3) * plane, t[i][2]);
  }
}

template <class T>
void transform_kernel(int64_t C, int64_t F, const T* kernel, T* U) {
  // Each (c, f) pair is independent and sits at c * F + f in every tap and every U plane alike,
  // so one pass runs over all C * F of them.
  const int64_t plane = C * F;
  over_lanes<T>(plane, [&](int64_t i, auto lanes) {
    kernel_points<decltype(lanes)>(kernel + i, plane, U + i, plane);
  });
}

// A e A^T for filters [f, f + lanes): e = the tile's 2x2 dy block (null rows/cells are zero).
template <class V>
CNNEXT_INLINE void dy_points(const lane_t<V>* const* src, int64_t f, lane_t<V>* out,
                             int64_t stride) {
  using T = lane_t<V>;
  V e[2][2];
  for (int k = 0; k < 4; ++k)
    e[k / 2][k % 2] = src[k] ? load<V>(src[k] + f) : splat<V>(T(0));
  V t[4][2];  // A e, A = [1 0; 1 1; 1 -1; 0 -1]
  for (int j = 0; j < 2; ++j) {
    t[0][j] = e[0][j];
    t[1][j] = e[0][j] + e[1][j];
    t[2][j] = e[0][j] - e[1][j];
    t[3][j] = -e[1][j];
  }
  for (int i = 0; i < 4; ++i) {  // (A e) A^T
    T* o = out + i * 4 * stride + f;
    store(o, t[i][0]);
    store(o + stride, t[i][0] + t[i][1]);
    store(o + 2 * stride, t[i][0] - t[i][1]);
    store(o + 3 * stride, -t[i][1]);
  }
}

template <class T>
void transform_dy(const ConvGeom& g, const T* dy, int64_t t0, int64_t t1, T* Ye) {
  const int64_t F = g.F, stride = (t1 - t0) * F;
  const T* src[4];
  for (int64_t t = t0; t < t1; ++t) {
    tile_pixels(g, tile_coord(g, t), dy, src);
    T* out = Ye + (t - t0) * F;
    over_lanes<T>(F, [&](int64_t f, auto lanes) { dy_points<decltype(lanes)>(src, f, out, stride); });
  }
}

// G^T m G for a run of lanes of (c, f) pairs (the 16 points plane apart, the 9 taps tap apart):
// G^T = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1].
template <class V>
CNNEXT_INLINE void grad_points(const lane_t<V>* m, int64_t plane, lane_t<V>* dk, int64_t tap) {
  using T = lane_t<V>;
  const V h = splat<V>(T(0.5));
  V r[4][4];
  for (int k = 0; k < 16; ++k) r[k / 4][k % 4] = load<V>(m + k * plane);
  V t[3][4];  // G^T m
  for (int j = 0; j < 4; ++j) {
    t[0][j] = r[0][j] + h * (r[1][j] + r[2][j]);
    t[1][j] = h * (r[1][j] - r[2][j]);
    t[2][j] = h * (r[1][j] + r[2][j]) + r[3][j];
  }
  for (int i = 0; i < 3; ++i) {  // (G^T m) G
    store(dk + (i * 3 + 0) * tap, t[i][0] + h * (t[i][1] + t[i][2]));
    store(dk + (i * 3 + 1) * tap, h * (t[i][1] - t[i][2]));
    store(dk + (i * 3 + 2) * tap, h * (t[i][1] + t[i][2]) + t[i][3]);
  }
}

template <class T>
void transform_grad(int64_t C, int64_t F, const T* Mx, T* dkernel) {
  const int64_t plane = C * F;  // one pass over all (c, f), as in transform_kernel
  over_lanes<T>(plane, [&](int64_t i, auto lanes) {
    grad_points<decltype(lanes)>(Mx + i, plane, dkernel + i, plane);
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

template <class T>
constexpr WinogradKernelsT<T> table() {
  return {&transform_kernel<T>, &transform_input<T>, &transform_output<T>, &transform_dy<T>,
          &transform_grad<T>, &all_finite<T>};
}

}  // namespace
}  // namespace CNNEXT_ISA_NS

extern const WinogradKernels CNNEXT_KERNEL_TABLE(winograd);
const WinogradKernels CNNEXT_KERNEL_TABLE(winograd) = {CNNEXT_ISA_NS::table<float>(),
                                                       CNNEXT_ISA_NS::table<double>()};

}  // namespace cnnext
