// Fused loss kernels (Keras formulas): per-sample loss and, optionally, the gradient of the batch
// mean loss w.r.t. y_pred (or the logits).
// Layout: y_true, y_pred and grad are C-contiguous (rows, k); loss is (rows,); labels (rows,) with
// values in [0, k) (checked by the caller). grad may be null (no gradient wanted); otherwise it is
// d(loss) / d(y_pred) times gscale (the caller's 1 / number of loss elements, and 1 / k for the
// losses that average over the last axis).
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace cnnext {

// Keras's epsilon (backend.epsilon()): probabilities are clipped to [eps, 1 - eps] in T.
constexpr double kLossEpsilon = 1e-7;

template <class T>
struct LossKernelsT {
  using Dense = void (*)(const T* y_true, const T* y_pred, T* loss, T* grad, int64_t rows,
                         int64_t k, T gscale);
  using Sparse = void (*)(const int64_t* labels, const T* y_pred, T* loss, T* grad, int64_t rows,
                          int64_t k, T gscale);
  // mean_k -[y log p + (1-y) log(1-p)], p clipped; logits: mean_k (1-y) max(z,0) - y min(z,0)
  // + log1p(exp(-|z|)) (= -y log_sigmoid(z) - (1-y) log_sigmoid(-z)).
  Dense binary_crossentropy, binary_crossentropy_logits;
  // -sum_k y log(clip(p / sum p)); logits: -sum_k y log_softmax(z).
  Dense categorical_crossentropy, categorical_crossentropy_logits;
  // categorical_crossentropy with y = one_hot(label, k).
  Sparse sparse_categorical_crossentropy, sparse_categorical_crossentropy_logits;
  // mean_k (p - y)^2
  Dense mean_squared_error;
  // y = log(x) elementwise with the kernels' vlog (a hook for kernel tests: every ISA vs np.log).
  void (*log)(const T* x, T* y, int64_t n);
};

struct LossKernels {
  LossKernelsT<float> f32;
  LossKernelsT<double> f64;
};

CNNEXT_DECLARE_KERNELS(LossKernels, loss)

}  // namespace cnnext
