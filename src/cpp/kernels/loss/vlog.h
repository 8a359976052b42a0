// Natural log on simd/vec.h types (and plain scalars), compiled per ISA; include after simd/vec.h.
#pragma once
#include "simd/vec.h"

namespace cnnext {
namespace CNNEXT_ISA_NS {

// log(x), lane-wise, a few ulp (Cephes logf / log). Method: 1. x = m * 2^e with m in [0.5, 1)
// from the exponent bits (subnormals scaled by 2^25 / 2^54 first); 2. if m < sqrt(1/2): m = 2m,
// e -= 1, so f = m - 1 lies in [sqrt(1/2) - 1, sqrt(2) - 1]; 3. log(1 + f) = f - f^2/2 + f^3 P(f)
// (float: degree-8 polynomial; double: P(f)/Q(f) rational); 4. add e*ln2 with ln2 split hi/lo.
// log(0) = -inf, log(x < 0) = NaN, log(+inf) = +inf, NaN stays NaN.
template <class V>
CNNEXT_INLINE V vlog(V x) {
  using T = lane_t<V>;
  using I = int_t<V>;
  constexpr bool f32 = sizeof(T) == 4;
  constexpr int shift = f32 ? 23 : 52;
  const V min_normal = splat<V>(f32 ? T(1.17549435082228750797e-38) : T(2.2250738585072014e-308));
  const auto sub = x < min_normal;
  V xs = select(sub, x * splat<V>(f32 ? T(33554432.0) : T(18014398509481984.0)), x);
  I bits = bit_cast<I>(xs);
  const I mant_mask = splat<I>(f32 ? int32_t(0x007fffff) : int64_t(0x000fffffffffffffLL));
  const I half_bits = splat<I>(f32 ? int32_t(0x3f000000) : int64_t(0x3fe0000000000000LL));
  I ei = ((bits >> shift) & splat<I>(f32 ? 0xff : 0x7ff)) - splat<I>(f32 ? 126 : 1022);
  ei = select(sub, ei - splat<I>(f32 ? 25 : 54), ei);
  V m = bit_cast<V>(I((bits & mant_mask) | half_bits));
  V e = convert<V>(ei);
  const auto lt = m < splat<V>(T(0.70710678118654752440));
  e = select(lt, e - splat<V>(T(1)), e);
  V f = select(lt, m + m - splat<V>(T(1)), m - splat<V>(T(1)));
  V z = f * f;
  V y;
  if constexpr (f32) {
    V p = splat<V>(T(7.0376836292E-2));
    p = p * f + splat<V>(T(-1.1514610310E-1));
    p = p * f + splat<V>(T(1.1676998740E-1));
    p = p * f + splat<V>(T(-1.2420140846E-1));
    p = p * f + splat<V>(T(1.4249322787E-1));
    p = p * f + splat<V>(T(-1.6668057665E-1));
    p = p * f + splat<V>(T(2.0000714765E-1));
    p = p * f + splat<V>(T(-2.4999993993E-1));
    p = p * f + splat<V>(T(3.3333331174E-1));
    y = p * f * z;
  } else {
    V P = splat<V>(T(1.01875663804580931796E-4));
    P = P * f + splat<V>(T(4.97494994976747001425E-1));
    P = P * f + splat<V>(T(4.70579119878881725854E0));
    P = P * f + splat<V>(T(1.44989225341610930846E1));
    P = P * f + splat<V>(T(1.79368678507819816313E1));
    P = P * f + splat<V>(T(7.70838733755885391666E0));
    V Q = f + splat<V>(T(1.12873587189167450590E1));
    Q = Q * f + splat<V>(T(4.52279145837532221105E1));
    Q = Q * f + splat<V>(T(8.29875266912776603211E1));
    Q = Q * f + splat<V>(T(7.11544750618563894466E1));
    Q = Q * f + splat<V>(T(2.31251620126765340583E1));
    y = f * (z * P / Q);
  }
  y = y - e * splat<V>(T(2.121944400546905827679e-4));
  y = y - splat<V>(T(0.5)) * z;
  V r = f + y + e * splat<V>(T(0.693359375));
  const V zero = splat<V>(T(0)), inf = splat<V>(T(__builtin_inf()));
  r = select(x == zero, -inf, r);
  r = select(x == inf, inf, r);
  return select(x < zero, splat<V>(T(__builtin_nan(""))), select(x != x, x, r));
}

// log(1 + e) for e >= 0 (e = exp(-|z|) in the logistic losses), accurate where 1 + e rounds:
// with u = 1 + e, log(u) * e / (u - 1) cancels the rounding of u (Goldberg 1991, thm. 4).
template <class V>
CNNEXT_INLINE V vlog1p_pos(V e) {
  using T = lane_t<V>;
  V u = splat<V>(T(1)) + e;
  V d = u - splat<V>(T(1));
  return select(d == splat<V>(T(0)), e, vlog(u) * (e / select(d == splat<V>(T(0)), splat<V>(T(1)), d)));
}

}  // namespace CNNEXT_ISA_NS
}  // namespace cnnext
