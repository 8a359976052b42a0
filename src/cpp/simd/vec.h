// A tiny vector API written once over GCC/Clang vector extensions, compiled once per ISA (one
// AVX-512 intrinsic, in scale_pow2).
//
// Include "simd/isa_<isa>.h" first: it defines CNNEXT_ISA_NS (the namespace every symbol here goes
// into, so the per-ISA copies never collide at link time -- numpy#25274) and CNNEXT_VEC_BYTES
// (64 for avx512, 32 for avx2, 16 for base, 0 for scalar). Kernels use the raw types directly:
//
//   using V = vec_t<float>;                  // float lanes of this ISA (plain float for scalar)
//   V a = load<V>(p); store(q, a * b + c);   // + - * / and compares are the compiler's own
//   V r = select(a < splat<V>(0.f), splat<V>(0.f), a);
//
// Every helper also accepts the plain scalar type, so a kernel body written as a generic lambda
// serves the vector loop and its scalar tail with the same math (see map_unary below).
// No STL containers or algorithms here: only compile-time traits (ODR safety across ISA flags).
#pragma once
#if !defined(CNNEXT_ISA_NS) || !defined(CNNEXT_VEC_BYTES)
#error "include simd/isa_<isa>.h before simd/vec.h"
#endif

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#if defined(__AVX512F__)
#include <immintrin.h>  // vscalef in scale_pow2, the one intrinsic here
#endif

#define CNNEXT_INLINE inline __attribute__((always_inline))

namespace cnnext {
namespace CNNEXT_ISA_NS {

// ---- types ------------------------------------------------------------------------------------
template <class T, int Bytes>
struct vec_type {
  typedef T type __attribute__((vector_size(Bytes)));
};
template <class T>
struct vec_type<T, 0> {
  using type = T;
};
template <class T>
using vec_t = typename vec_type<T, CNNEXT_VEC_BYTES>::type;

template <class V>
struct lanes {  // lane type and count of a vector type
  using T = std::remove_cv_t<std::remove_reference_t<decltype(std::declval<V>()[0])>>;
  static constexpr int W = sizeof(V) / sizeof(T);
};
template <>
struct lanes<float> {
  using T = float;
  static constexpr int W = 1;
};
template <>
struct lanes<double> {
  using T = double;
  static constexpr int W = 1;
};
template <>
struct lanes<int32_t> {
  using T = int32_t;
  static constexpr int W = 1;
};
template <>
struct lanes<int64_t> {
  using T = int64_t;
  static constexpr int W = 1;
};
template <class V>
using lane_t = typename lanes<V>::T;
template <class V>
constexpr int width_v = lanes<V>::W;

template <class T>
constexpr int kWidth = width_v<vec_t<T>>;  // lanes of T in this ISA's vectors

// Same-size integer type of V (int32 lanes for float, int64 for double).
template <class V, bool Scalar = (width_v<V> == 1)>
struct int_of {
  using I = std::conditional_t<sizeof(lane_t<V>) == 4, int32_t, int64_t>;
  typedef I type __attribute__((vector_size(sizeof(V))));
};
template <class V>
struct int_of<V, true> {
  using type = std::conditional_t<sizeof(V) == 4, int32_t, int64_t>;
};
template <class V>
using int_t = typename int_of<V>::type;

// ---- memory -----------------------------------------------------------------------------------
template <class V>
CNNEXT_INLINE V load(const lane_t<V>* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <class V>
CNNEXT_INLINE void store(lane_t<V>* p, V v) {
  std::memcpy(p, &v, sizeof(V));
}
// First n (< width) lanes from p, the rest `fill`.
template <class V>
CNNEXT_INLINE V load_partial(const lane_t<V>* p, int n, lane_t<V> fill = 0) {
  lane_t<V> tmp[width_v<V>];
  for (int i = 0; i < width_v<V>; ++i) tmp[i] = i < n ? p[i] : fill;
  return load<V>(tmp);
}
template <class V>
CNNEXT_INLINE void store_partial(lane_t<V>* p, V v, int n) {
  lane_t<V> tmp[width_v<V>];
  store(tmp, v);
  for (int i = 0; i < n; ++i) p[i] = tmp[i];
}

// ---- construction, selection, bit casts --------------------------------------------------------
template <class V>
CNNEXT_INLINE V splat(lane_t<V> s) {
  if constexpr (width_v<V> == 1) {
    return s;
  } else {
    return s - V{};  // s - 0 is exact for every s, -0.0 included, and folds away
  }
}
template <class M, class V>
CNNEXT_INLINE V select(M mask, V a, V b) {  // mask ? a : b, lane by lane
  return mask ? a : b;
}
template <class To, class From>
CNNEXT_INLINE To bit_cast(From f) {
  static_assert(sizeof(To) == sizeof(From), "bit_cast size mismatch");
  To t;
  std::memcpy(&t, &f, sizeof(To));
  return t;
}
template <class To, class From>
CNNEXT_INLINE To convert(From f) {  // lane-wise value conversion (float<->int truncates)
  if constexpr (std::is_arithmetic_v<From>) {
    return static_cast<To>(f);
  } else {
    return __builtin_convertvector(f, To);
  }
}

// ---- arithmetic helpers -----------------------------------------------------------------------
// NaN-propagating max/min, as numpy.maximum/minimum: a NaN in either operand gives NaN.
template <class V>
CNNEXT_INLINE V max_nan(V a, V b) {
  V r = select(a < b, b, a);
  return select(b != b, b, r);
}
template <class V>
CNNEXT_INLINE V min_nan(V a, V b) {
  V r = select(b < a, b, a);
  return select(b != b, b, r);
}
template <class V>
CNNEXT_INLINE V vabs(V a) {
  return select(a < splat<V>(0), -a, a);  // keeps NaN (compare is false)
}
template <class V>
CNNEXT_INLINE lane_t<V> hsum(V v) {
  if constexpr (width_v<V> == 1) {
    return v;
  } else {
    lane_t<V> s = 0;
    for (int i = 0; i < width_v<V>; ++i) s += v[i];
    return s;
  }
}
template <class V>
CNNEXT_INLINE lane_t<V> hmax_nan(V v) {
  if constexpr (width_v<V> == 1) {
    return v;
  } else {
    lane_t<V> m = v[0];
    for (int i = 1; i < width_v<V>; ++i) m = max_nan(m, static_cast<lane_t<V>>(v[i]));
    return m;
  }
}

// exp(x), lane-wise. Method (Cephes expf/exp): 1. n = round(x / ln2) with the 1.5*2^p trick;
// 2. r = x - n*ln2, ln2 split into hi/lo parts so r is exact; 3. exp(r) by a degree-6
// polynomial (float, ~1 ulp) or a Pade approximant (double, ~1 ulp) on |r| <= ln2/2;
// 4. scale by 2^n (scale_pow2: vscalef, or exponent bits in two halves so n may reach the
// overflow edge).
// x > log(MAX) gives +inf, x below the normal range gives 0 (no subnormal results), NaN stays NaN.
//
// Steps 1-3 for a clamped x: returns exp(r) and sets n (a whole number, as a float).
template <class V>
CNNEXT_INLINE V exp_reduced(V xc, V* n_out) {
  using T = lane_t<V>;
  constexpr bool f32 = sizeof(T) == 4;
  const V magic = splat<V>(f32 ? T(12582912.0) : T(6755399441055744.0));  // 1.5 * 2^(mantissa bits)
  V t = xc * splat<V>(T(1.4426950408889634)) + magic;
  V n = t - magic;
  V r = xc - n * splat<V>(f32 ? T(0.693359375) : T(6.93145751953125E-1));
  r = r - n * splat<V>(f32 ? T(-2.12194440e-4) : T(1.42860682030941723212E-6));
  *n_out = n;
  V z = r * r;
  if constexpr (f32) {
    V p = splat<V>(T(1.9875691500E-4));
    p = p * r + splat<V>(T(1.3981999507E-3));
    p = p * r + splat<V>(T(8.3334519073E-3));
    p = p * r + splat<V>(T(4.1665795894E-2));
    p = p * r + splat<V>(T(1.6666665459E-1));
    p = p * r + splat<V>(T(5.0000001201E-1));
    return p * z + r + splat<V>(T(1));
  } else {
    V P = splat<V>(T(1.26177193074810590878E-4));
    P = P * z + splat<V>(T(3.02994407707441961300E-2));
    P = P * z + splat<V>(T(9.99999999999999999910E-1));
    V Q = splat<V>(T(3.00198505138664455042E-6));
    Q = Q * z + splat<V>(T(2.52448340349684104192E-3));
    Q = Q * z + splat<V>(T(2.27265548208155028766E-1));
    Q = Q * z + splat<V>(T(2.00000000000000000009E0));
    V px = r * P;
    return splat<V>(T(1)) + splat<V>(T(2)) * px / (Q - px);
  }
}

// 2^n for whole n (as floats) in the normal exponent range, from exponent bits.
template <class V>
CNNEXT_INLINE V exp2_whole(int_t<V> n) {
  constexpr bool f32 = sizeof(lane_t<V>) == 4;
  return bit_cast<V>(int_t<V>((n + splat<int_t<V>>(f32 ? 127 : 1023)) << (f32 ? 23 : 52)));
}

// p * 2^n for whole n (as floats): one AVX-512 vscalef, which rounds once like the exact
// power-of-two products below (the same bits); `wide` allows n up to the overflow edge (two
// factors, each in the normal range), else n must be in [min exponent, 0].
template <bool wide, class V>
CNNEXT_INLINE V scale_pow2(V p, V n) {
#if defined(__AVX512F__)
  // (The zero-masking forms with every lane selected: GCC 12's plain _mm512_scalef_* start from
  // an undefined vector and warn -Wmaybe-uninitialized at every use.)
  if constexpr (sizeof(V) == 64 && sizeof(lane_t<V>) == 4)
    return (V)_mm512_maskz_scalef_ps(__mmask16(0xFFFF), (__m512)p, (__m512)n);
  if constexpr (sizeof(V) == 64 && sizeof(lane_t<V>) == 8)
    return (V)_mm512_maskz_scalef_pd(__mmask8(0xFF), (__m512d)p, (__m512d)n);
#endif
  using I = int_t<V>;
  const I ni = convert<I>(n);
  if constexpr (!wide) {
    return p * exp2_whole<V>(ni);
  } else {
    // 2^n = 2^(n - n/2) * 2^(n/2): each half stays inside the normal exponent range.
    const I h1 = ni >> 1;
    return p * exp2_whole<V>(h1) * exp2_whole<V>(I(ni - h1));
  }
}

// The smallest x whose exp is normal (below it exp gives 0).
template <class T>
constexpr T exp_lo() {
  return sizeof(T) == 4 ? T(-87.33654475) : T(-708.3964185322641);
}

template <class V>
CNNEXT_INLINE V vexp(V x) {
  using T = lane_t<V>;
  const V hi = splat<V>(sizeof(T) == 4 ? T(88.72283905206835) : T(709.782712893384));
  const V lo = splat<V>(exp_lo<T>());
  V xc = select(x > hi, hi, x);
  xc = select(xc >= lo, xc, lo);  // NaN -> lo too: n stays small, no UB in the int conversion/shift
  V n;
  const V p = exp_reduced(xc, &n);
  V res = scale_pow2<true>(p, n);
  res = select(x > hi, splat<V>(T(__builtin_inf())), res);
  res = select(x < lo, splat<V>(T(0)), res);
  return select(x != x, x, res);
}

// exp(x) for x <= 0 (or NaN), as vexp gives it there, with less work: no overflow edge, so 2^n
// (n in [-126, 0], or [-1022, 0]) is one scale. Softmax's exp(x - max) and sigmoid's exp(-|x|)
// take this form.
template <class V>
CNNEXT_INLINE V vexp_nonpos(V x) {
  using T = lane_t<V>;
  const V lo = splat<V>(exp_lo<T>());
  const V xc = select(x >= lo, x, lo);  // NaN -> lo too (see vexp)
  V n;
  const V p = exp_reduced(xc, &n);
  V res = scale_pow2<false>(p, n);
  res = select(x < lo, splat<V>(T(0)), res);
  return select(x != x, x, res);
}

// ---- loops ------------------------------------------------------------------------------------
// y[i] = f(x[i]) for i < n: full vectors, then a scalar tail through the same generic lambda.
template <class T, class F>
CNNEXT_INLINE void map_unary(const T* x, T* y, int64_t n, F f) {
  using V = vec_t<T>;
  constexpr int W = width_v<V>;
  int64_t i = 0;
  for (; i + W <= n; i += W) store(y + i, f(load<V>(x + i)));
  for (; i < n; ++i) y[i] = f(x[i]);
}
// z[i] = f(x[i], y[i]).
template <class T, class F>
CNNEXT_INLINE void map_binary(const T* x, const T* y, T* z, int64_t n, F f) {
  using V = vec_t<T>;
  constexpr int W = width_v<V>;
  int64_t i = 0;
  for (; i + W <= n; i += W) store(z + i, f(load<V>(x + i), load<V>(y + i)));
  for (; i < n; ++i) z[i] = f(x[i], y[i]);
}

}  // namespace CNNEXT_ISA_NS
}  // namespace cnnext
