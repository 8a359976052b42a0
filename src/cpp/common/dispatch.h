// One kernel table per op group, one instance per ISA, chosen at call time from active_isa().
//
//   // kernels/eltwise/eltwise.h -- no ISA code, just the table
//   struct EltwiseKernels { void (*relu_f32)(const float* x, float* y, int64_t n); ... };
//   CNNEXT_DECLARE_KERNELS(EltwiseKernels, eltwise)   // -> eltwise_kernels()
//
//   // kernels/eltwise/eltwise_impl.h -- templates over simd/vec.h, inside CNNEXT_ISA_NS, and
//   const EltwiseKernels CNNEXT_KERNEL_TABLE(eltwise) = {...};   // -> eltwise__avx512 etc.
//
//   // kernels/eltwise/eltwise__avx512.cpp (likewise __avx2, __base, __scalar) -- two lines:
//   #include "simd/isa_avx512.h"
//   #include "kernels/eltwise/eltwise_impl.h"
//
// CMakeLists.txt gives *__avx2.cpp / *__avx512.cpp their ISA flags and builds them on x86-64 only.
#pragma once
#include "common/cpu.h"

#define CNNEXT_CAT2(a, b) a##__##b
#define CNNEXT_CAT(a, b) CNNEXT_CAT2(a, b)
#define CNNEXT_KERNEL_TABLE(group) CNNEXT_CAT(group, CNNEXT_ISA_NS)

#if defined(CNNEXT_X86)
#define CNNEXT_DECLARE_KERNELS(Type, group)                                  \
  extern const Type group##__scalar, group##__base, group##__avx2, group##__avx512; \
  inline const Type& group##_kernels(::cnnext::Isa isa = ::cnnext::active_isa()) { \
    switch (isa) {                                                           \
      case ::cnnext::Isa::avx512: return group##__avx512;                    \
      case ::cnnext::Isa::avx2: return group##__avx2;                        \
      case ::cnnext::Isa::base: return group##__base;                        \
      default: return group##__scalar;                                       \
    }                                                                        \
  }
#else
#define CNNEXT_DECLARE_KERNELS(Type, group)                                  \
  extern const Type group##__scalar, group##__base;                          \
  inline const Type& group##_kernels(::cnnext::Isa isa = ::cnnext::active_isa()) { \
    return isa == ::cnnext::Isa::scalar ? group##__scalar : group##__base;   \
  }
#endif
