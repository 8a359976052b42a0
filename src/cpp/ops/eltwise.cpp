#include "ops/eltwise.h"

#include "common/parallel.h"
#include "kernels/eltwise/eltwise.h"

namespace cnnext {
namespace {

constexpr int64_t kGrain = 32 * 1024;  // elements; below 2x this a thread region costs more than it saves

template <class T>
const EltwiseKernelsT<T>& kernels() {
  if constexpr (sizeof(T) == 4) return eltwise_kernels().f32;
  else return eltwise_kernels().f64;
}

}  // namespace

template <class T>
void relu(const T* x, T* y, int64_t n) {
  const auto& k = kernels<T>();
  parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) { k.relu(x + lo, y + lo, hi - lo); });
}

template <class T>
void relu_backward(const T* dy, const T* x, T* dx, int64_t n) {
  const auto& k = kernels<T>();
  parallel_for(0, n, kGrain,
               [&](int64_t lo, int64_t hi) { k.relu_backward(dy + lo, x + lo, dx + lo, hi - lo); });
}

template void relu<float>(const float*, float*, int64_t);
template void relu<double>(const double*, double*, int64_t);
template void relu_backward<float>(const float*, const float*, float*, int64_t);
template void relu_backward<double>(const double*, const double*, double*, int64_t);

}  // namespace cnnext
