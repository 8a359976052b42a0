// 2-D direct correlation on a pre-padded input (scipy.signal.convolve2d / correlate2d core).
// Layout: row-major; x rows `xs` elements apart, out rows `os` apart, k dense (kh, kw).
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace cnnext {

// Readable slack every x row must have: kernels load whole vectors, so row i is read up to
// column round_up(ow, kSignalLanes<T>) + kw - 2 (the widest vectors are 64 bytes).
template <class T>
constexpr int64_t kSignalLanes = 64 / sizeof(T);

// Readable slack rows: kernels compute output rows in blocks, so x must hold
// round_up(rows, kSignalRowBlock) + kh - 1 rows (the extra ones any values; their results are dropped).
constexpr int64_t kSignalRowBlock = 4;

template <class T>
struct SignalKernelsT {
  // out[i*os + j] = sum_{a < kh, b < kw} x[(i + a)*xs + j + b] * k[a*kw + b], i < rows, j < ow,
  // summed from 0 in (a, b) order. kh, kw >= 1.
  void (*correlate_valid_rows)(const T* x, int64_t xs, const T* k, int64_t kh, int64_t kw, T* out,
                               int64_t os, int64_t rows, int64_t ow);
};

struct SignalKernels {
  SignalKernelsT<float> f32;
  SignalKernelsT<double> f64;
};

CNNEXT_DECLARE_KERNELS(SignalKernels, signal)

}  // namespace cnnext
