// Transcendental activations on simd/vec.h types (and plain scalars), compiled per ISA.
// Include after simd/vec.h. Accuracy: a few ulp in float32 and float64 over the whole range.
#pragma once
#include "common/activation.h"
#include "simd/vec.h"

namespace cnnext {
namespace CNNEXT_ISA_NS {

// 1 / (1 + exp(-x)) without overflow: with e = exp(-|x|) in (0, 1], s = 1/(1+e) is sigmoid(|x|)
// and e*s = sigmoid(-|x|). Finite and warning-free for every finite x; NaN stays NaN.
template <class V>
CNNEXT_INLINE V vsigmoid(V x) {
  using T = lane_t<V>;
  V e = vexp_nonpos(-vabs(x));
  V s = splat<V>(T(1)) / (splat<V>(T(1)) + e);
  return select(x < splat<V>(T(0)), e * s, s);
}

// tanh(x): a minimax/rational form near 0 (Cephes tanhf / tanh), 1 - 2/(exp(2|x|) + 1) with the
// sign restored elsewhere. +-inf gives +-1, NaN stays NaN.
template <class V>
CNNEXT_INLINE V vtanh(V x) {
  using T = lane_t<V>;
  V a = vabs(x);
  V z = x * x;
  V small;
  if constexpr (sizeof(T) == 4) {
    V p = splat<V>(T(-5.70498872745E-3));
    p = p * z + splat<V>(T(2.06390887954E-2));
    p = p * z + splat<V>(T(-5.37397155531E-2));
    p = p * z + splat<V>(T(1.33314422036E-1));
    p = p * z + splat<V>(T(-3.33332819422E-1));
    small = x * (p * z + splat<V>(T(1)));  // x * (...) keeps the sign of -0.0
  } else {
    V P = splat<V>(T(-9.64399179425052238628E-1));
    P = P * z + splat<V>(T(-9.92877231001918586564E1));
    P = P * z + splat<V>(T(-1.61468768441708447952E3));
    V Q = z + splat<V>(T(1.12811678491632931402E2));
    Q = Q * z + splat<V>(T(2.23548839060100448583E3));
    Q = Q * z + splat<V>(T(4.84406305325125486048E3));
    small = x * (z * P / Q + splat<V>(T(1)));
  }
  V big = splat<V>(T(1)) - splat<V>(T(2)) / (vexp(a + a) + splat<V>(T(1)));
  big = select(x < splat<V>(T(0)), -big, big);
  return select(a < splat<V>(T(0.625)), small, big);  // NaN: compare false -> big, which is NaN
}

// The activation an op fuses into its output stage (see common/activation.h); NaN stays NaN.
template <class V>
CNNEXT_INLINE V vactivate(V x, Act act) {
  using T = lane_t<V>;
  switch (act) {
    case Act::relu: return select(x < splat<V>(T(0)), splat<V>(T(0)), x);
    case Act::sigmoid: return vsigmoid(x);
    case Act::tanh: return vtanh(x);
    default: return x;
  }
}

}  // namespace CNNEXT_ISA_NS
}  // namespace cnnext
