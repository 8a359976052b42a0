// Fused optimizer steps: ONE call updates every tensor of a model, in place, threaded over fixed
// chunks of each tensor (elementwise math, so results never depend on the thread count).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/optim/optim.h"

namespace cnnext {

// One tensor's buffers, n elements each. Slots by optimizer (null when unused):
//   adam: s1 = m, s2 = v, s3 = vhat (amsgrad)    sgd: s1 = momentum
//   rmsprop: s1 = velocity, s2 = momentum, s3 = average gradient (centered)
template <class T>
struct OptimTensor {
  T* param;
  const T* grad;
  T* s1;
  T* s2;
  T* s3;
  int64_t n;
};

template <class T>
void adam_update(const std::vector<OptimTensor<T>>& ts, const AdamArgs& a);
template <class T>
void sgd_update(const std::vector<OptimTensor<T>>& ts, const SgdArgs& a);
template <class T>
void rmsprop_update(const std::vector<OptimTensor<T>>& ts, const RmspropArgs& a);

}  // namespace cnnext
