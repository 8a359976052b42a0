#include "simd/isa_avx2.h"
#include "kernels/gemm/gemm_impl.h"
