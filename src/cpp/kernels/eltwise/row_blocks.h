// Helpers for kernels that reduce short contiguous rows (softmax family, losses), per ISA.
// Include after simd/vec.h; everything lands in CNNEXT_ISA_NS's anonymous namespace.
#pragma once
#include "simd/vec.h"

namespace cnnext {
namespace CNNEXT_ISA_NS {
namespace {

// Short rows (c <= kSmallRow): one vector per row would leave most lanes idle and pay a horizontal
// reduction per row. Instead, a block of whole rows is reduced with the row loop innermost (so the
// per-row accumulations are independent and pipeline, rather than one serial chain per row), each
// row's result is replicated over the row in a small buffer, and the exp/arithmetic runs as flat
// vector passes over the block.
constexpr int64_t kSmallRow = 64;
constexpr int64_t kBlock = 1024;  // elements per block (whole rows)
constexpr bool kUseSmallRows = kWidth<float> > 1;  // the scalar ISA has no idle lanes to fill

// red[r] = max over row r of x (nr rows of c), NaN-propagating.
template <class T>
CNNEXT_INLINE void rows_max(const T* x, T* red, int64_t nr, int64_t c) {
  for (int64_t r = 0; r < nr; ++r) red[r] = x[r * c];
  for (int64_t i = 1; i < c; ++i)
    for (int64_t r = 0; r < nr; ++r) red[r] = max_nan(red[r], x[r * c + i]);
}

// red[r] = sum over row r of f(a, b) (elements in row order, as the vector path's tail).
template <class T, class F>
CNNEXT_INLINE void rows_sum(const T* a, const T* b, T* red, int64_t nr, int64_t c, F f) {
  for (int64_t r = 0; r < nr; ++r) red[r] = f(a[r * c], b[r * c]);
  for (int64_t i = 1; i < c; ++i)
    for (int64_t r = 0; r < nr; ++r) red[r] += f(a[r * c + i], b[r * c + i]);
}

template <class T>
CNNEXT_INLINE void spread(const T* red, T* buf, int64_t nr, int64_t c) {  // buf row r = red[r]
  for (int64_t r = 0; r < nr; ++r)
    for (int64_t i = 0; i < c; ++i) buf[r * c + i] = red[r];
}

// Calls block(offset, nrows) over [0, rows) in blocks of whole rows totalling <= kBlock elements.
template <class F>
CNNEXT_INLINE void row_blocks(int64_t rows, int64_t c, F block) {
  const int64_t rb = kBlock / c;
  for (int64_t r0 = 0; r0 < rows; r0 += rb) block(r0 * c, rows - r0 < rb ? rows - r0 : rb);
}

}  // namespace
}  // namespace CNNEXT_ISA_NS
}  // namespace cnnext
