// Batch normalization over the last axis of a C-contiguous (rows, c) array and dropout's masked
// scale. Statistics are reduced in double over fixed row chunks in chunk order, so results are
// bitwise identical for any thread count.
#pragma once
#include <cstdint>

namespace cnnext {

// Training forward: mean and biased variance over rows; inv_std = 1 / sqrt(var + epsilon);
// y = (x - mean) * (gamma * inv_std) + beta. mean, var, inv_std: (c,). rows >= 1, epsilon > 0.
template <class T>
void batch_norm_forward_train(const T* x, int64_t rows, int64_t c, const T* gamma, const T* beta,
                              double epsilon, T* y, T* mean, T* var, T* inv_std);

// Inference forward with the moving statistics.
template <class T>
void batch_norm_forward_infer(const T* x, int64_t rows, int64_t c, const T* gamma, const T* beta,
                              const T* moving_mean, const T* moving_variance, double epsilon,
                              T* y);

// Backward: dbeta = sum dy, dgamma = sum dy * xhat (xhat = (x - mean) * inv_std) and
//   batch_stats:  dx = gamma * inv_std * (dy - dbeta / rows - xhat * dgamma / rows)
//   otherwise (frozen statistics): dx = gamma * inv_std * dy.
template <class T>
void batch_norm_backward(const T* dy, const T* x, int64_t rows, int64_t c, const T* gamma,
                         const T* mean, const T* inv_std, bool batch_stats, T* dx, T* dgamma,
                         T* dbeta);

// y[i] = x[i] * (mask[i] ? scale : 0) over n elements.
template <class T>
void dropout_apply(const T* x, const uint8_t* mask, T scale, T* y, int64_t n);

}  // namespace cnnext
