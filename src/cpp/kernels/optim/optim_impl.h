// Optimizer kernels, written once against simd/vec.h and compiled per ISA. Each step is one pass
// over (p, g, state...) with the same math in the vector body and the scalar tail.
#include "kernels/optim/optim.h"
#include "kernels/optim/optim_sqrt.h"

namespace cnnext {
namespace CNNEXT_ISA_NS {
namespace {

template <class T>
struct AdamC {
  T alpha, c1, c2, eps;
};

template <class V, bool Ams, class T>
CNNEXT_INLINE void adam_at(T* p, const T* g, T* m, T* v, T* vhat, int64_t i, const AdamC<T>& c) {
  const V gi = load<V>(g + i);
  V mi = load<V>(m + i), vi = load<V>(v + i);
  mi = mi + (gi - mi) * splat<V>(c.c1);
  vi = vi + (gi * gi - vi) * splat<V>(c.c2);
  store(m + i, mi);
  store(v + i, vi);
  if constexpr (Ams) {
    vi = max_nan(load<V>(vhat + i), vi);
    store(vhat + i, vi);
  }
  store(p + i, load<V>(p + i) - (mi * splat<V>(c.alpha)) / (vsqrt(vi) + splat<V>(c.eps)));
}

template <bool Ams, class T>
void adam_loop(T* p, const T* g, T* m, T* v, T* vhat, int64_t n, const AdamC<T>& c) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  int64_t i = 0;
  for (; i + W <= n; i += W) adam_at<V, Ams>(p, g, m, v, vhat, i, c);
  for (; i < n; ++i) adam_at<T, Ams>(p, g, m, v, vhat, i, c);
}

template <class T>
void adam_f(T* p, const T* g, T* m, T* v, T* vhat, int64_t n, const AdamArgs& a) {
  const AdamC<T> c{T(a.alpha), T(a.one_minus_beta_1), T(a.one_minus_beta_2), T(a.epsilon)};
  if (vhat) adam_loop<true>(p, g, m, v, vhat, n, c);
  else adam_loop<false>(p, g, m, v, vhat, n, c);
}

// Mode 0: plain; 1: momentum; 2: nesterov momentum.
template <class V, int Mode, class T>
CNNEXT_INLINE void sgd_at(T* p, const T* g, T* mom, int64_t i, T lr, T mu) {
  const V step = load<V>(g + i) * splat<V>(lr);
  if constexpr (Mode == 0) {
    store(p + i, load<V>(p + i) - step);
  } else {
    const V mi = load<V>(mom + i) * splat<V>(mu) - step;
    store(mom + i, mi);
    if constexpr (Mode == 1) store(p + i, load<V>(p + i) + mi);
    else store(p + i, load<V>(p + i) + (mi * splat<V>(mu) - step));
  }
}

template <int Mode, class T>
void sgd_loop(T* p, const T* g, T* mom, int64_t n, T lr, T mu) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  int64_t i = 0;
  for (; i + W <= n; i += W) sgd_at<V, Mode>(p, g, mom, i, lr, mu);
  for (; i < n; ++i) sgd_at<T, Mode>(p, g, mom, i, lr, mu);
}

template <class T>
void sgd_f(T* p, const T* g, T* mom, int64_t n, const SgdArgs& a) {
  const T lr = T(a.learning_rate), mu = T(a.momentum);
  if (!mom) sgd_loop<0>(p, g, mom, n, lr, mu);
  else if (a.nesterov) sgd_loop<2>(p, g, mom, n, lr, mu);
  else sgd_loop<1>(p, g, mom, n, lr, mu);
}

template <class T>
struct RmsC {
  T lr, rho, c, eps, mu;
};

template <class V, bool Centered, bool Mom, class T>
CNNEXT_INLINE void rms_at(T* p, const T* g, T* v, T* mom, T* avg, int64_t i, const RmsC<T>& c) {
  const V gi = load<V>(g + i);
  const V vi = splat<V>(c.rho) * load<V>(v + i) + splat<V>(c.c) * (gi * gi);
  store(v + i, vi);
  V den;
  if constexpr (Centered) {
    const V ai = splat<V>(c.rho) * load<V>(avg + i) + splat<V>(c.c) * gi;
    store(avg + i, ai);
    den = vi - ai * ai + splat<V>(c.eps);
  } else {
    den = vi + splat<V>(c.eps);
  }
  const V inc = (splat<V>(c.lr) * gi) / vsqrt(den);
  if constexpr (Mom) {
    const V mi = splat<V>(c.mu) * load<V>(mom + i) + inc;
    store(mom + i, mi);
    store(p + i, load<V>(p + i) - mi);
  } else {
    store(p + i, load<V>(p + i) - inc);
  }
}

template <bool Centered, bool Mom, class T>
void rms_loop(T* p, const T* g, T* v, T* mom, T* avg, int64_t n, const RmsC<T>& c) {
  using V = vec_t<T>;
  constexpr int W = kWidth<T>;
  int64_t i = 0;
  for (; i + W <= n; i += W) rms_at<V, Centered, Mom>(p, g, v, mom, avg, i, c);
  for (; i < n; ++i) rms_at<T, Centered, Mom>(p, g, v, mom, avg, i, c);
}

template <class T>
void rmsprop_f(T* p, const T* g, T* v, T* mom, T* avg, int64_t n, const RmspropArgs& a) {
  const RmsC<T> c{T(a.learning_rate), T(a.rho), T(a.one_minus_rho), T(a.epsilon), T(a.momentum)};
  if (avg && mom) rms_loop<true, true>(p, g, v, mom, avg, n, c);
  else if (avg) rms_loop<true, false>(p, g, v, mom, avg, n, c);
  else if (mom) rms_loop<false, true>(p, g, v, mom, avg, n, c);
  else rms_loop<false, false>(p, g, v, mom, avg, n, c);
}

template <class T>
constexpr OptimKernelsT<T> table() {
  return {&adam_f<T>, &sgd_f<T>, &rmsprop_f<T>};
}

}  // namespace
}  // namespace CNNEXT_ISA_NS

extern const OptimKernels CNNEXT_KERNEL_TABLE(optim);
const OptimKernels CNNEXT_KERNEL_TABLE(optim) = {CNNEXT_ISA_NS::table<float>(),
                                                 CNNEXT_ISA_NS::table<double>()};

}  // namespace cnnext
