// 2-D pooling ops (NHWC): geometry checks, threads, kernels. See kernels/pooling/pooling.h.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/pooling/pooling.h"

namespace cnnext {

// Output geometry of a (N, H, W, C) input, TF's rule: "valid" OH = (H - KH) / SH + 1,
// "same" OH = ceil(H / SH) with the padding split evenly, the extra cell at the bottom/right.
// Throws std::invalid_argument (naming `op`) for a bad shape, non-positive window or stride,
// or an empty output.
PoolGeom pool_geometry(const std::vector<int64_t>& x_shape, int64_t kh, int64_t kw, int64_t sh,
                       int64_t sw, bool same, const char* op);

// Forward: threads over the N*OH output rows. y: (N, OH, OW, C).
template <class T>
void max_pool2d(const PoolGeom& g, const T* x, T* y);
template <class T>
void avg_pool2d(const PoolGeom& g, const T* x, T* y);
// Max plus the window index (kh * KW + kw) of each first arg-max; Idx is uint8_t or int32_t.
template <class T, class Idx>
void max_pool2d_argmax(const PoolGeom& g, const T* x, T* y, Idx* idx);

// Backward: threads over images (overlapping windows of one image write the same dx cells).
// dx: (N, H, W, C), overwritten.
template <class T>
void max_pool2d_backward(const PoolGeom& g, const T* dy, const T* x, T* dx);
template <class T, class Idx>
void max_pool2d_backward_argmax(const PoolGeom& g, const T* dy, const Idx* idx, T* dx);
template <class T>
void avg_pool2d_backward(const PoolGeom& g, const T* dy, T* dx);
// Backward of maxpool(relu(z)) in one pass, from the pool's arg-max and output y: the pooled
// gradient dy is masked by the relu (dy * (y > 0 ? 1 : 0), bitwise relu_backward's result) and
// scattered to dx (N, H, W, C) as max_pool2d_backward_argmax does. db, if not null, receives the
// per-channel sum of the masked gradient (the preceding conv's bias gradient), added in a fixed
// order that depends on the shape only: over ow per output row, rows in order per image, images
// in order.
template <class T, class Idx>
void max_pool2d_relu_backward_argmax(const PoolGeom& g, const T* dy, const T* y, const Idx* idx,
                                     T* dx, T* db);

}  // namespace cnnext
