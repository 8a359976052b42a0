// Fused losses over a batch viewed as (rows, k): per-sample loss (rows,) and, when grad is not
// null, the gradient of the mean of the loss vector w.r.t. y_pred (or the logits), shape (rows, k).
#pragma once
#include <cstdint>

namespace cnnext {

enum class Loss { binary_crossentropy, categorical_crossentropy, mean_squared_error };

// y_true, y_pred: (rows, k) C-contiguous; the batch mean divides by rows (and by k for the losses
// that average over the last axis: binary_crossentropy, mean_squared_error).
template <class T>
void dense_loss(Loss kind, bool from_logits, const T* y_true, const T* y_pred, T* loss, T* grad,
                int64_t rows, int64_t k);

// labels: (rows,) integers in [0, k) (checked: std::invalid_argument otherwise).
template <class T>
void sparse_categorical_crossentropy(bool from_logits, const int64_t* labels, const T* y_pred,
                                     T* loss, T* grad, int64_t rows, int64_t k);

// y = log(x) through the loss kernels' vector log (a kernel-test hook, single-threaded).
template <class T>
void loss_vlog(const T* x, T* y, int64_t n);

}  // namespace cnnext
