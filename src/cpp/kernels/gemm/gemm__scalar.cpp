#include "simd/isa_scalar.h"
#include "kernels/gemm/gemm_impl.h"
