// 2-D convolution/correlation of one image with one kernel (scipy.signal.convolve2d semantics):
// the input is extended by a boundary rule, then a direct vectorized correlation runs over it.
#pragma once
#include <cstdint>

namespace cnnext {

enum class Boundary : int { fill = 0, wrap = 1, symm = 2 };

// out (oh, ow) = sum_{a < kh, b < kw} X[i + a - top][j + b - left] * K'[a][b], where
//   K' = k flipped in both axes when `flip` (convolution) else k (correlation), and
//   X[r][c] = x[r][c] inside x (h, w); outside: `fill` (Boundary::fill), x taken periodically
//   (wrap), or x mirrored with the edge sample repeated, period 2h / 2w (symm; np.pad 'symmetric').
// An empty kernel gives zeros. wrap/symm need a non-empty x unless out or k is empty.
// Threads over output rows; the sum order never depends on the thread count.
template <class T>
void correlate2d_padded(const T* x, int64_t h, int64_t w, const T* k, int64_t kh, int64_t kw,
                        bool flip, T* out, int64_t oh, int64_t ow, int64_t top, int64_t left,
                        Boundary boundary, T fill);

}  // namespace cnnext
