// GEMM kernels per ISA. FIRST VERSION: a straightforward reference (packed B = row-major copy).
// To be replaced by packed-panel register-tiled micro-kernels (see kernels/gemm/gemm.h contract).
#include <cmath>

#include "kernels/gemm/gemm.h"
#include "simd/vec.h"

namespace cnnext {
namespace CNNEXT_ISA_NS {
namespace {

template <class T>
int64_t packed_b_size(int64_t K, int64_t N) {
  return K * N;
}

template <class T>
void pack_b(int64_t K, int64_t N, const T* B, int64_t rs_b, int64_t cs_b, T* packed) {
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) packed[k * N + n] = B[k * rs_b + n * cs_b];
}

template <class T>
T activate(T v, Act act) {
  switch (act) {
    case Act::relu: return v < T(0) ? T(0) : v;
    case Act::sigmoid: return T(1) / (T(1) + std::exp(-v));
    case Act::tanh: return std::tanh(v);
    default: return v;
  }
}

template <class T>
void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t rs_a, int64_t cs_a,
          const T* packed_b, T* C, int64_t ldc, const GemmEpilogue<T>& ep) {
  for (int64_t m = 0; m < M; ++m) {
    T* c = C + m * ldc;
    for (int64_t n = 0; n < N; ++n) c[n] = ep.accumulate ? c[n] : T(0);
    for (int64_t k = 0; k < K; ++k) {
      const T a = A[m * rs_a + k * cs_a];
      const T* b = packed_b + k * N;
      for (int64_t n = 0; n < N; ++n) c[n] += a * b[n];
    }
    for (int64_t n = 0; n < N; ++n) c[n] = activate(c[n] + (ep.bias ? ep.bias[n] : T(0)), ep.act);
  }
}

template <class T>
constexpr GemmKernelsT<T> table() {
  return {&packed_b_size<T>, &pack_b<T>, &gemm<T>};
}

}  // namespace
}  // namespace CNNEXT_ISA_NS

extern const GemmKernels CNNEXT_KERNEL_TABLE(gemm);
const GemmKernels CNNEXT_KERNEL_TABLE(gemm) = {CNNEXT_ISA_NS::table<float>(),
                                               CNNEXT_ISA_NS::table<double>()};

}  // namespace cnnext
