// What the convolution drivers share (ops/conv.cpp and ops/conv_pool.cpp): work sizing, the
// fixed-chunk reductions that keep results independent of the thread count, scratch buffers.
// Internal to ops/, not part of the ops API.
#pragma once
#include <cstdint>
#include <memory>

#include "common/parallel.h"
#include "kernels/conv/conv.h"

namespace cnnext {

constexpr int64_t kMinTaskFlops = 256 * 1024;  // below this per thread a parallel region costs more
constexpr int64_t kChunkPixels = 1024;         // kernel gradients: min output pixels per chunk

template <class T>
std::unique_ptr<T[]> buffer(int64_t n) {
  return std::unique_ptr<T[]>(new T[n > 0 ? n : 1]);
}

// Does some window reach into the zero padding? (Then the im2col path multiplies padding zeros,
// while the direct kernels skip those taps: 0 * inf = NaN tells the two apart.)
bool has_padding(const ConvGeom& g);

// Items per thread so that each thread gets at least kMinTaskFlops of work.
int64_t grain_for(int64_t flops_per_item);

// Fixed chunk size of a kernel-gradient reduction over `items` (a function of the shape only,
// never of the thread count): chunks of at least `min_items`, each keeping `partial_elems`
// partial sums, a bounded number of them, an even number where there are several.
int64_t reduction_chunk(int64_t items, int64_t min_items, int64_t partial_elems);

// out[i] = sum over chunks c in increasing order of partial[c * n + i]; out may be partial itself.
template <class T>
void sum_partials(const T* partial, int64_t nchunks, int64_t n, T* out) {
  parallel_for(0, n, 16 * 1024, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) out[i] = partial[i];
    for (int64_t c = 1; c < nchunks; ++c) {
      const T* src = partial + c * n;
      for (int64_t i = lo; i < hi; ++i) out[i] += src[i];
    }
  });
}

}  // namespace cnnext
