// Threaded GEMM for the ops: C = (accumulate ? C : 0) + A . B (+ bias), then the activation.
//
// A and B are read through element strides (a transposed operand needs no copy); C is row-major
// with leading dimension ldc. B is packed once (threads over panels), then M strips x N panels of
// C are spread over parallel_for. Results are bitwise identical for any thread count: every
// element of C is computed by one micro-kernel in a fixed k order, and the split-K path used when
// K dwarfs M x N (dW = X^T . dY over a large batch) reduces fixed-size K chunks in chunk order.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/gemm/gemm.h"

namespace cnnext {

// B (K x N, strides rs_b, cs_b) packed for the active ISA's gemm kernels.
template <class T>
std::vector<T> pack_b_threaded(int64_t K, int64_t N, const T* B, int64_t rs_b, int64_t cs_b);

// gemm on an already packed B (from pack_b_threaded or the kernels' pack_b, same ISA).
template <class T>
void gemm_packed_threaded(int64_t M, int64_t N, int64_t K, const T* A, int64_t rs_a, int64_t cs_a,
                          const T* packed_b, T* C, int64_t ldc, const GemmEpilogue<T>& ep);

// Packs B and multiplies; splits K into fixed chunks when M x N is too small to feed the threads.
template <class T>
void matmul_threaded(int64_t M, int64_t N, int64_t K, const T* A, int64_t rs_a, int64_t cs_a,
                     const T* B, int64_t rs_b, int64_t cs_b, T* C, int64_t ldc,
                     const GemmEpilogue<T>& ep);

}  // namespace cnnext
