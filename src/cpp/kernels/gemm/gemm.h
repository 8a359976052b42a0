// Single-threaded GEMM building blocks, the engine of dense and convolution (ops/ add threads).
//
//   C[M,N] = (accumulate ? C : 0) + A[M,K] . B[K,N] (+ bias[N]), then the activation.
//
// A is read through element strides (rs_a, cs_a): a row-major A has (lda, 1), a transposed one
// (1, lda), so dW = X^T . dY needs no copy. B is packed once with pack_b (also through strides)
// and may be reused by many gemm calls (e.g. every tile of a convolution). C is row-major, ldc.
// Preconditions: M, N, K >= 0; pointers valid for the extents; C does not alias A or B.
//
// Packed B is a sequence of column panels `nr` wide (zero-padded), panel p at p * K * nr, so a
// caller may run gemm on the columns [p * nr, ...) of C with packed_b + p * K * nr (this is how
// ops/gemm.cpp splits N over threads). A packed buffer belongs to the ISA table that filled it.
// Results do not depend on how M and N are split into calls: each C element sees the same
// operations in the same order.
#pragma once
#include <cstdint>

#include "common/activation.h"
#include "common/dispatch.h"

namespace cnnext {

template <class T>
struct GemmEpilogue {
  const T* bias = nullptr;  // N values or null
  bool accumulate = false;  // C += A.B instead of C = A.B (bias/activation still applied if set)
  Act act = Act::linear;
};

template <class T>
struct GemmKernelsT {
  // Elements of the buffer pack_b fills for a K x N matrix (a multiple of the panel width).
  int64_t (*packed_b_size)(int64_t K, int64_t N);
  void (*pack_b)(int64_t K, int64_t N, const T* B, int64_t rs_b, int64_t cs_b, T* packed);
  void (*gemm)(int64_t M, int64_t N, int64_t K, const T* A, int64_t rs_a, int64_t cs_a,
               const T* packed_b, T* C, int64_t ldc, const GemmEpilogue<T>& ep);
  int nr;  // columns per packed B panel
  int mr;  // rows per register tile (split M in multiples of it)
  // gemm with a row-major B (element (k, n) at B[k * ldb + n]) read in place, no pack_b: for few
  // rows of A, where packing B would cost as much as the product. Columns up to the last full
  // panel come from B; the partial last panel (N % nr columns, if any) from packed_tail, filled
  // by pack_b(K, N % nr, B + N / nr * nr, ldb, 1, packed_tail). Bitwise the same as pack_b + gemm.
  void (*gemm_rowb)(int64_t M, int64_t N, int64_t K, const T* A, int64_t rs_a, int64_t cs_a,
                    const T* B, int64_t ldb, const T* packed_tail, T* C, int64_t ldc,
                    const GemmEpilogue<T>& ep);
  // The N == 1 product of a row-major A (cs_a == 1) and a contiguous x (K values):
  // C[m * ldc] = (accumulate ? C[m * ldc] : 0) + dot(A[m, :], x) (+ bias[0]), then the
  // activation. Vector dot products: a register tile would waste all but one of its columns.
  void (*gemv)(int64_t M, int64_t K, const T* A, int64_t rs_a, const T* x, T* C, int64_t ldc,
               const GemmEpilogue<T>& ep);
};

struct GemmKernels {
  GemmKernelsT<float> f32;
  GemmKernelsT<double> f64;
};

CNNEXT_DECLARE_KERNELS(GemmKernels, gemm)

template <class T>
const GemmKernelsT<T>& gemm_kernels_for(Isa isa = active_isa()) {
  if constexpr (sizeof(T) == 4) return gemm_kernels(isa).f32;
  else return gemm_kernels(isa).f64;
}

}  // namespace cnnext
