#include "ops/signal.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/check.h"
#include "common/parallel.h"
#include "kernels/signal/signal.h"

namespace cnnext {
namespace {

constexpr int64_t kGrainMacs = 1 << 18;          // multiply-adds per thread at least
constexpr int64_t kWorkspaceBytes = 192 * 1024;  // padded rows of one block: stays in L2

template <class T>
const SignalKernelsT<T>& kernels() {
  if constexpr (sizeof(T) == 4) return signal_kernels().f32;
  else return signal_kernels().f64;
}

// Index of extended coordinate i in [0, n): -1 means "outside, use the fill value".
int64_t extend(int64_t i, int64_t n, Boundary b) {
  if (i >= 0 && i < n) return i;
  if (b == Boundary::fill) return -1;
  if (b == Boundary::wrap) return ((i % n) + n) % n;
  const int64_t m = ((i % (2 * n)) + 2 * n) % (2 * n);  // symm: period 2n, edge repeated
  return m < n ? m : 2 * n - 1 - m;
}

// Builds padded rows on demand: row r of the extended input, columns [0, pw) = x columns
// [-left, pw - left), the interior copied with memcpy and only the margins mapped one by one.
template <class T>
struct RowPadder {
  const T* x;
  int64_t h, w, pw, top;
  Boundary boundary;
  T fill;
  std::vector<int64_t> colmap;  // extended column -> x column, -1 for fill
  int64_t c0, c1;               // [c0, c1): columns copied straight from x[.][c0 - left]
  int64_t left;

  RowPadder(const T* x_, int64_t h_, int64_t w_, int64_t pw_, int64_t top_, int64_t left_,
            Boundary b, T fill_)
      : x(x_), h(h_), w(w_), pw(pw_), top(top_), boundary(b), fill(fill_), colmap(pw_),
        left(left_) {
    for (int64_t c = 0; c < pw; ++c) colmap[c] = extend(c - left, w, boundary);
    c0 = std::min(pw, std::max<int64_t>(0, left));
    c1 = std::max(c0, std::min(pw, left + w));
  }

  void row(int64_t r, T* dst) const {
    const int64_t src = extend(r - top, h, boundary);
    if (src < 0) {
      std::fill(dst, dst + pw, fill);
      return;
    }
    const T* s = x + src * w;
    for (int64_t c = 0; c < c0; ++c) dst[c] = colmap[c] < 0 ? fill : s[colmap[c]];
    if (c1 > c0) std::memcpy(dst + c0, s + (c0 - left), sizeof(T) * (c1 - c0));
    for (int64_t c = c1; c < pw; ++c) dst[c] = colmap[c] < 0 ? fill : s[colmap[c]];
  }
};

}  // namespace

template <class T>
void correlate2d_padded(const T* x, int64_t h, int64_t w, const T* k, int64_t kh, int64_t kw,
                        bool flip, T* out, int64_t oh, int64_t ow, int64_t top, int64_t left,
                        Boundary boundary, T fill) {
  CNNEXT_CHECK(h >= 0 && w >= 0 && kh >= 0 && kw >= 0 && oh >= 0 && ow >= 0,
               "correlate2d: negative size");
  CNNEXT_CHECK(boundary == Boundary::fill || boundary == Boundary::wrap ||
                   boundary == Boundary::symm,
               "correlate2d: unknown boundary code ", int(boundary));
  const int64_t n_out = checked_mul(oh, ow, "correlate2d output");
  if (n_out == 0) return;
  if (kh == 0 || kw == 0) {
    std::fill(out, out + n_out, T(0));
    return;
  }
  CNNEXT_CHECK(boundary == Boundary::fill || (h > 0 && w > 0),
               "correlate2d: boundary 'wrap'/'symm' cannot extend an empty input of shape (", h,
               ", ", w, ")");

  std::vector<T> kbuf(checked_mul(kh, kw));  // K' in correlation order
  for (int64_t a = 0; a < kh; ++a)
    for (int64_t b = 0; b < kw; ++b)
      kbuf[a * kw + b] = flip ? k[(kh - 1 - a) * kw + (kw - 1 - b)] : k[a * kw + b];

  const int64_t lanes = kSignalLanes<T>;
  const int64_t pw = ow + kw - 1;                                        // padded row width
  const int64_t ps = ((ow + lanes - 1) / lanes * lanes + kw - 1 + lanes - 1) / lanes * lanes;
  const RowPadder<T> pad(x, h, w, pw, top, left, boundary, fill);
  // Output rows per block, a multiple of the kernels' row block so only the last one is ragged.
  int64_t block = kWorkspaceBytes / int64_t(sizeof(T) * ps) - (kh - 1);
  block = std::max<int64_t>(block / kSignalRowBlock, 2) * kSignalRowBlock;
  const int64_t macs_per_row = checked_mul(ow, checked_mul(kh, kw));
  const int64_t grain = std::max<int64_t>(1, kGrainMacs / macs_per_row);
  const auto& kern = kernels<T>();
  const T* kp = kbuf.data();

  parallel_for(0, oh, grain, [&](int64_t i0, int64_t i1) {
    const int64_t rows = std::min(block, i1 - i0);
    // + kSignalRowBlock - 1 slack rows and the slack columns stay 0 (see kernels/signal/signal.h)
    std::vector<T> ws(checked_mul(rows + kh - 1 + kSignalRowBlock - 1, ps), T(0));
    for (int64_t b0 = i0; b0 < i1; b0 += rows) {
      const int64_t b1 = std::min(i1, b0 + rows);
      for (int64_t r = b0; r < b1 + kh - 1; ++r) pad.row(r, ws.data() + (r - b0) * ps);
      kern.correlate_valid_rows(ws.data(), ps, kp, kh, kw, out + b0 * ow, ow, b1 - b0, ow);
    }
  });
}

template void correlate2d_padded<float>(const float*, int64_t, int64_t, const float*, int64_t,
                                        int64_t, bool, float*, int64_t, int64_t, int64_t, int64_t,
                                        Boundary, float);
template void correlate2d_padded<double>(const double*, int64_t, int64_t, const double*, int64_t,
                                         int64_t, bool, double*, int64_t, int64_t, int64_t,
                                         int64_t, Boundary, double);

}  // namespace cnnext
