// Optimizer update kernels (Keras 3 formulas), one contiguous slice of one tensor per call.
// Layout: flat arrays of n elements; the parameter and every state array are updated in place.
// Scalars arrive precomputed in double (bias corrections, 1 - beta) and are rounded to T once.
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace cnnext {

struct AdamArgs {
  double alpha;       // lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
  double one_minus_beta_1, one_minus_beta_2, epsilon;
};
struct SgdArgs {
  double learning_rate, momentum;
  bool nesterov;
};
struct RmspropArgs {
  double learning_rate, rho, one_minus_rho, epsilon, momentum;
};

template <class T>
struct OptimKernelsT {
  // m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); [vhat = max(vhat, v), v := vhat];
  // p -= alpha * m / (sqrt(v) + eps). vhat may be null (no amsgrad).
  void (*adam)(T* p, const T* g, T* m, T* v, T* vhat, int64_t n, const AdamArgs& a);
  // mom null: p -= lr * g. Else mom = mu * mom - lr * g; p += mom (nesterov: p += mu * mom - lr * g).
  void (*sgd)(T* p, const T* g, T* mom, int64_t n, const SgdArgs& a);
  // v = rho v + (1 - rho) g^2; [avg = rho avg + (1 - rho) g; den = v - avg^2 + eps] else den = v + eps;
  // inc = lr g / sqrt(den); mom (may be null): mom = mu mom + inc, p -= mom; else p -= inc.
  void (*rmsprop)(T* p, const T* g, T* v, T* mom, T* avg, int64_t n, const RmspropArgs& a);
};

struct OptimKernels {
  OptimKernelsT<float> f32;
  OptimKernelsT<double> f64;
};

CNNEXT_DECLARE_KERNELS(OptimKernels, optim)

}  // namespace cnnext
