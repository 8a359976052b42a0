// Lane-wise sqrt for simd/vec.h types (correctly rounded, IEEE: sqrt(-x) = NaN, NaN stays NaN).
// GCC vector extensions have no sqrt operator, so each vector width maps to its instruction;
// widths without one (plain C++ builds) fall back to a lane loop. Include after simd/isa_<isa>.h.
#pragma once
#include "simd/vec.h"

#if defined(__SSE2__) || defined(__AVX__) || defined(__AVX512F__)
#include <immintrin.h>
#endif
#if defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace cnnext {
namespace CNNEXT_ISA_NS {
namespace {

template <class V>
CNNEXT_INLINE V vsqrt(V x) {
  using T = lane_t<V>;
  constexpr bool f32 = sizeof(T) == 4;
  if constexpr (width_v<V> == 1) {
    if constexpr (f32) return __builtin_sqrtf(x);
    else return __builtin_sqrt(x);
  }
#if defined(__AVX512F__)
  else if constexpr (sizeof(V) == 64 && f32) return (V)_mm512_maskz_sqrt_ps(0xFFFF, (__m512)x);  // maskz: no undefined-value warning
  else if constexpr (sizeof(V) == 64) return (V)_mm512_maskz_sqrt_pd(0xFF, (__m512d)x);
#endif
#if defined(__AVX__)
  else if constexpr (sizeof(V) == 32 && f32) return (V)_mm256_sqrt_ps((__m256)x);
  else if constexpr (sizeof(V) == 32) return (V)_mm256_sqrt_pd((__m256d)x);
#endif
#if defined(__SSE2__)
  else if constexpr (sizeof(V) == 16 && f32) return (V)_mm_sqrt_ps((__m128)x);
  else if constexpr (sizeof(V) == 16) return (V)_mm_sqrt_pd((__m128d)x);
#elif defined(__ARM_NEON) && defined(__aarch64__)
  else if constexpr (sizeof(V) == 16 && f32) return (V)vsqrtq_f32((float32x4_t)x);
  else if constexpr (sizeof(V) == 16) return (V)vsqrtq_f64((float64x2_t)x);
#endif
  else {
    V r = x;
    for (int i = 0; i < width_v<V>; ++i) r[i] = f32 ? __builtin_sqrtf(x[i]) : __builtin_sqrt(x[i]);
    return r;
  }
}

}  // namespace
}  // namespace CNNEXT_ISA_NS
}  // namespace cnnext
