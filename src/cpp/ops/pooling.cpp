#include "ops/pooling.h"

#include "common/check.h"
#include "common/parallel.h"

namespace cnnext {
namespace {

constexpr int64_t kGrain = 16 * 1024;  // elements touched per thread chunk, at least

// Grain in units of `item`-element work items.
int64_t grain_for(int64_t item) { return item >= kGrain ? 1 : kGrain / (item > 0 ? item : 1); }

int64_t out_size(int64_t in, int64_t k, int64_t s, bool same) {
  return same ? (in + s - 1) / s : (in >= k ? (in - k) / s + 1 : 0);
}

int64_t pad_before(int64_t in, int64_t out, int64_t k, int64_t s) {
  const int64_t total = (out - 1) * s + k - in;
  return total > 0 ? total / 2 : 0;
}

// Calls row(n, oh, y_row_offset) for every output row, threaded.
template <class F>
void for_rows(const PoolGeom& g, const F& row) {
  const int64_t rows = g.N * g.OH;
  parallel_for(0, rows, grain_for(saturating_mul(g.OW * g.C, g.KH)), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) row(r / g.OH, r % g.OH, r * g.OW * g.C);
  });
}

template <class F>
void for_images(const PoolGeom& g, const F& image) {
  parallel_for(0, g.N, grain_for(g.H * g.W * g.C), [&](int64_t lo, int64_t hi) {
    for (int64_t n = lo; n < hi; ++n) image(n);
  });
}

}  // namespace

PoolGeom pool_geometry(const std::vector<int64_t>& s, int64_t kh, int64_t kw, int64_t sh,
                       int64_t sw, bool same, const char* op) {
  CNNEXT_CHECK(s.size() == 4, op, ": expected 4-D input (N, H, W, C), but got shape ", shape_str(s));
  for (int64_t d : s) CNNEXT_CHECK(d >= 0, op, ": negative dimension in shape ", shape_str(s));
  CNNEXT_CHECK(kh >= 1 && kw >= 1, op, ": pool size must be positive, but got (", kh, ", ", kw, ")");
  CNNEXT_CHECK(sh >= 1 && sw >= 1, op, ": strides must be positive, but got (", sh, ", ", sw, ")");
  // Window indices (kh * KW + kw) live in int32 lanes; larger windows are not a real use.
  CNNEXT_CHECK(kh <= INT32_MAX / kw && sh <= INT32_MAX && sw <= INT32_MAX, op, ": pool size (", kh,
               ", ", kw, ") or strides (", sh, ", ", sw, ") too large (window cells and strides must "
               "fit in int32)");
  checked_numel(s, op);
  PoolGeom g{};
  g.N = s[0], g.H = s[1], g.W = s[2], g.C = s[3];
  g.KH = kh, g.KW = kw, g.SH = sh, g.SW = sw;
  g.OH = out_size(g.H, kh, sh, same);
  g.OW = out_size(g.W, kw, sw, same);
  CNNEXT_CHECK(g.OH >= 1 && g.OW >= 1, op, ": pool size (", kh, ", ", kw, ") with strides (", sh,
               ", ", sw, ") and padding='", same ? "same" : "valid", "' gives an empty output for input ",
               shape_str(s));
  g.PT = same ? pad_before(g.H, g.OH, kh, sh) : 0;
  g.PL = same ? pad_before(g.W, g.OW, kw, sw) : 0;
  return g;
}

template <class T>
void max_pool2d(const PoolGeom& g, const T* x, T* y) {
  const auto& k = pooling_kernels_for<T>();
  const int64_t img = g.H * g.W * g.C;
  for_rows(g, [&](int64_t n, int64_t oh, int64_t o) { k.max_row(g, x + n * img, y + o, oh); });
}

template <class T>
void avg_pool2d(const PoolGeom& g, const T* x, T* y) {
  const auto& k = pooling_kernels_for<T>();
  const int64_t img = g.H * g.W * g.C;
  for_rows(g, [&](int64_t n, int64_t oh, int64_t o) { k.avg_row(g, x + n * img, y + o, oh); });
}

template <class T, class Idx>
void max_pool2d_argmax(const PoolGeom& g, const T* x, T* y, Idx* idx) {
  const auto& k = pooling_kernels_for<T>();
  const int64_t img = g.H * g.W * g.C;
  for_rows(g, [&](int64_t n, int64_t oh, int64_t o) {
    if constexpr (sizeof(Idx) == 1) k.max_argmax_row_u8(g, x + n * img, y + o, idx + o, oh);
    else k.max_argmax_row_i32(g, x + n * img, y + o, idx + o, oh);
  });
}

template <class T>
void max_pool2d_backward(const PoolGeom& g, const T* dy, const T* x, T* dx) {
  const auto& k = pooling_kernels_for<T>();
  const int64_t img = g.H * g.W * g.C, oimg = g.OH * g.OW * g.C;
  for_images(g, [&](int64_t n) { k.max_backward_image(g, dy + n * oimg, x + n * img, dx + n * img); });
}

template <class T, class Idx>
void max_pool2d_backward_argmax(const PoolGeom& g, const T* dy, const Idx* idx, T* dx) {
  const auto& k = pooling_kernels_for<T>();
  const int64_t img = g.H * g.W * g.C, oimg = g.OH * g.OW * g.C;
  for_images(g, [&](int64_t n) {
    if constexpr (sizeof(Idx) == 1)
      k.max_backward_argmax_u8_image(g, dy + n * oimg, idx + n * oimg, dx + n * img);
    else
      k.max_backward_argmax_i32_image(g, dy + n * oimg, idx + n * oimg, dx + n * img);
  });
}

template <class T, class Idx>
void max_pool2d_relu_backward_argmax(const PoolGeom& g, const T* dy, const T* y, const Idx* idx,
                                     T* dx, T* db) {
  const auto& k = pooling_kernels_for<T>();
  const int64_t C = g.C, img = g.H * g.W * C, oimg = g.OH * g.OW * C;
  // Per-row sums of each image, reduced in row order into the image's first row by the thread
  // that ran the image; the images are then added in order.
  std::vector<T> rows(db ? static_cast<size_t>(g.N * g.OH * C) : 0);
  for_images(g, [&](int64_t n) {
    T* r = db ? rows.data() + n * g.OH * C : nullptr;
    if constexpr (sizeof(Idx) == 1)
      k.max_relu_backward_argmax_u8_image(g, dy + n * oimg, y + n * oimg, idx + n * oimg,
                                          dx + n * img, r);
    else
      k.max_relu_backward_argmax_i32_image(g, dy + n * oimg, y + n * oimg, idx + n * oimg,
                                           dx + n * img, r);
    for (int64_t oh = 1; r && oh < g.OH; ++oh)
      for (int64_t c = 0; c < C; ++c) r[c] += r[oh * C + c];
  });
  if (!db) return;
  for (int64_t c = 0; c < C; ++c) db[c] = T(0);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < C; ++c) db[c] += rows[n * g.OH * C + c];
}

template <class T>
void avg_pool2d_backward(const PoolGeom& g, const T* dy, T* dx) {
  const auto& k = pooling_kernels_for<T>();
  const int64_t img = g.H * g.W * g.C, oimg = g.OH * g.OW * g.C;
  for_images(g, [&](int64_t n) { k.avg_backward_image(g, dy + n * oimg, dx + n * img); });
}

#define CNNEXT_INSTANTIATE(T)                                                               \
  template void max_pool2d<T>(const PoolGeom&, const T*, T*);                               \
  template void avg_pool2d<T>(const PoolGeom&, const T*, T*);                               \
  template void max_pool2d_argmax<T, uint8_t>(const PoolGeom&, const T*, T*, uint8_t*);     \
  template void max_pool2d_argmax<T, int32_t>(const PoolGeom&, const T*, T*, int32_t*);     \
  template void max_pool2d_backward<T>(const PoolGeom&, const T*, const T*, T*);            \
  template void max_pool2d_backward_argmax<T, uint8_t>(const PoolGeom&, const T*, const uint8_t*, T*); \
  template void max_pool2d_backward_argmax<T, int32_t>(const PoolGeom&, const T*, const int32_t*, T*); \
  template void avg_pool2d_backward<T>(const PoolGeom&, const T*, T*);                      \
  template void max_pool2d_relu_backward_argmax<T, uint8_t>(const PoolGeom&, const T*, const T*, \
                                                            const uint8_t*, T*, T*);           \
  template void max_pool2d_relu_backward_argmax<T, int32_t>(const PoolGeom&, const T*, const T*, \
                                                            const int32_t*, T*, T*);
CNNEXT_INSTANTIATE(float)
CNNEXT_INSTANTIATE(double)
#undef CNNEXT_INSTANTIATE

}  // namespace cnnext
