#include "ops/loss.h"

#include <limits>

#include "common/check.h"
#include "common/parallel.h"
#include "kernels/loss/loss.h"

namespace cnnext {
namespace {

constexpr int64_t kGrain = 32 * 1024;  // elements per thread at least

template <class T>
const LossKernelsT<T>& kernels() {
  if constexpr (sizeof(T) == 4) return loss_kernels().f32;
  else return loss_kernels().f64;
}

// Rows are independent (each writes its own loss and grad row), so any split is deterministic.
template <class F>
void over_rows(int64_t rows, int64_t k, F fn) {
  parallel_for(0, rows, kGrain / (k > 0 ? k : 1) + 1, fn);
}

}  // namespace

template <class T>
void dense_loss(Loss kind, bool from_logits, const T* y, const T* p, T* loss, T* grad,
                int64_t rows, int64_t k) {
  CNNEXT_CHECK(rows >= 0 && k >= 0, "loss: negative dimension");
  if (rows == 0) return;
  if (k == 0) {  // no classes (the kernels' row blocks divide by k): NumPy's empty mean / sum
    const T v = kind == Loss::categorical_crossentropy ? T(0) : std::numeric_limits<T>::quiet_NaN();
    for (int64_t r = 0; r < rows; ++r) loss[r] = v;
    return;
  }
  const auto& K = kernels<T>();
  typename LossKernelsT<T>::Dense fn = nullptr;
  double gs = 1.0 / static_cast<double>(rows > 0 ? rows : 1);
  switch (kind) {
    case Loss::binary_crossentropy:
      fn = from_logits ? K.binary_crossentropy_logits : K.binary_crossentropy;
      gs /= static_cast<double>(k > 0 ? k : 1);
      break;
    case Loss::categorical_crossentropy:
      fn = from_logits ? K.categorical_crossentropy_logits : K.categorical_crossentropy;
      break;
    case Loss::mean_squared_error:
      fn = K.mean_squared_error;
      gs /= static_cast<double>(k > 0 ? k : 1);
      break;
  }
  const T gscale = static_cast<T>(gs);
  over_rows(rows, k, [&](int64_t lo, int64_t hi) {
    fn(y + lo * k, p + lo * k, loss + lo, grad ? grad + lo * k : nullptr, hi - lo, k, gscale);
  });
}

template <class T>
void sparse_categorical_crossentropy(bool from_logits, const int64_t* labels, const T* p, T* loss,
                                     T* grad, int64_t rows, int64_t k) {
  CNNEXT_CHECK(rows >= 0 && k >= 0, "sparse_categorical_crossentropy: negative dimension");
  for (int64_t r = 0; r < rows; ++r)
    CNNEXT_CHECK(labels[r] >= 0 && labels[r] < k, "sparse_categorical_crossentropy: labels must "
                 "be in [0, ", k, ") for ", k, " classes, but got label ", labels[r], " at index ",
                 r);
  if (rows == 0) return;  // (k == 0 with rows > 0 failed the label check above)
  const auto& K = kernels<T>();
  auto fn = from_logits ? K.sparse_categorical_crossentropy_logits
                        : K.sparse_categorical_crossentropy;
  const T gscale = static_cast<T>(1.0 / static_cast<double>(rows > 0 ? rows : 1));
  over_rows(rows, k, [&](int64_t lo, int64_t hi) {
    fn(labels + lo, p + lo * k, loss + lo, grad ? grad + lo * k : nullptr, hi - lo, k, gscale);
  });
}

template <class T>
void loss_vlog(const T* x, T* y, int64_t n) {
  kernels<T>().log(x, y, n);
}

#define CNNEXT_INSTANTIATE(T)                                                                \
  template void dense_loss<T>(Loss, bool, const T*, const T*, T*, T*, int64_t, int64_t);     \
  template void sparse_categorical_crossentropy<T>(bool, const int64_t*, const T*, T*, T*,   \
                                                   int64_t, int64_t);                    \
  template void loss_vlog<T>(const T*, T*, int64_t);
CNNEXT_INSTANTIATE(float)
CNNEXT_INSTANTIATE(double)
#undef CNNEXT_INSTANTIATE

}  // namespace cnnext
