// im2col / col2im kernels, written once against simd/vec.h and compiled per ISA (see conv.h),
// and the table of every conv kernel (direct ones in conv_direct_impl.h).
#include "kernels/conv/conv.h"
#include "kernels/conv/conv_direct_impl.h"
#include "kernels/conv/conv_igemm_impl.h"
#include "simd/vec.h"

namespace cnnext {
namespace CNNEXT_ISA_NS {
namespace {

template <class T>
CNNEXT_INLINE void copy_n(const T* src, T* dst, int64_t n) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  int64_t i = 0;
  for (; i + W <= n; i += W) store(dst + i, load<V>(src + i));
  for (; i < n; ++i) dst[i] = src[i];
}

template <class T>
CNNEXT_INLINE void zero_n(T* dst, int64_t n) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  int64_t i = 0;
  for (; i + W <= n; i += W) store(dst + i, splat<V>(T(0)));
  for (; i < n; ++i) dst[i] = T(0);
}

template <class T>
CNNEXT_INLINE void add_n(const T* src, T* dst, int64_t n) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  int64_t i = 0;
  for (; i + W <= n; i += W) store(dst + i, load<V>(dst + i) + load<V>(src + i));
  for (; i < n; ++i) dst[i] += src[i];
}

// Walks output pixels [p0, p1) and calls run(col_offset, x_offset, len) for every contiguous run
// of input values on rows [ih_lo, ih_hi) (within [0, H)), and pad(col_offset, len) for every run
// of taps outside those rows or columns. With dw == 1 the in-bounds taps of one kernel row are
// adjacent in memory and form a single run.
template <class Run, class Pad>
CNNEXT_INLINE void for_each_run(const ConvGeom& g, int64_t p0, int64_t p1, int64_t ih_lo,
                                int64_t ih_hi, Run run, Pad pad) {
  const int64_t C = g.C, K = g.K(), ohw = g.OH * g.OW, rowlen = g.KW * C;
  int64_t n = p0 / ohw, r = p0 % ohw;
  int64_t oh = r / g.OW, ow = r % g.OW;
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t col0 = (p - p0) * K;
    const int64_t img = n * g.H;
    const int64_t iw0 = ow * g.sw - g.pl;
    // kw range whose iw = iw0 + kw * dw lies in [0, W)
    int64_t kw_lo = 0, kw_hi = g.KW;
    if (iw0 < 0) kw_lo = (-iw0 + g.dw - 1) / g.dw;
    if (iw0 + (g.KW - 1) * g.dw >= g.W) kw_hi = iw0 >= g.W ? 0 : (g.W - 1 - iw0) / g.dw + 1;
    if (kw_lo > kw_hi) kw_lo = kw_hi;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const int64_t ih = oh * g.sh - g.pt + kh * g.dh;
      const int64_t c0 = col0 + kh * rowlen;
      if (ih < ih_lo || ih >= ih_hi || kw_lo == kw_hi) {
        pad(c0, rowlen);
        continue;
      }
      if (kw_lo > 0) pad(c0, kw_lo * C);
      const int64_t xrow = ((img + ih) * g.W + iw0) * C;
      if (g.dw == 1) {
        run(c0 + kw_lo * C, xrow + kw_lo * C, (kw_hi - kw_lo) * C);
      } else {
        for (int64_t kw = kw_lo; kw < kw_hi; ++kw) run(c0 + kw * C, xrow + kw * g.dw * C, C);
      }
      if (kw_hi < g.KW) pad(c0 + kw_hi * C, (g.KW - kw_hi) * C);
    }
    if (++ow == g.OW) {
      ow = 0;
      if (++oh == g.OH) oh = 0, ++n;
    }
  }
}

template <class T>
void im2col(const ConvGeom& g, const T* x, int64_t p0, int64_t p1, T* col) {
  for_each_run(
      g, p0, p1, 0, g.H, [&](int64_t c, int64_t xo, int64_t len) { copy_n(x + xo, col + c, len); },
      [&](int64_t c, int64_t len) { zero_n(col + c, len); });
}

template <class T>
void col2im_add(const ConvGeom& g, const T* col, int64_t p0, int64_t p1, int64_t ih_lo,
                int64_t ih_hi, T* dx) {
  if (ih_lo < 0) ih_lo = 0;
  if (ih_hi > g.H) ih_hi = g.H;
  for_each_run(
      g, p0, p1, ih_lo, ih_hi,
      [&](int64_t c, int64_t xo, int64_t len) { add_n(col + c, dx + xo, len); },
      [](int64_t, int64_t) {});
}

template <class T>
constexpr ConvKernelsT<T> table() {
#if CNNEXT_VEC_BYTES > 0
  auto igemm = &igemm_conv<T>;
  auto igemm_w = &igemm_dw<T>;
#else
  decltype(ConvKernelsT<T>::igemm_conv) igemm = nullptr;
  decltype(ConvKernelsT<T>::igemm_dw) igemm_w = nullptr;
#endif
  return {&im2col<T>,     &col2im_add<T>, &direct_packed_size<T>, &direct_pack<T>,
          &direct_conv<T>, &direct_dw<T>,  &direct_dx<T>,          igemm,
          igemm_mr(),      igemm_w,        kIgemmDwTile};
}

}  // namespace
}  // namespace CNNEXT_ISA_NS

extern const ConvKernels CNNEXT_KERNEL_TABLE(conv);
const ConvKernels CNNEXT_KERNEL_TABLE(conv) = {CNNEXT_ISA_NS::table<float>(),
                                               CNNEXT_ISA_NS::table<double>()};

}  // namespace cnnext
