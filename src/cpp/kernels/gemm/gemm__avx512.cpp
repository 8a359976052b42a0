#include "simd/isa_avx512.h"
#include "kernels/gemm/gemm_impl.h"
