#include "simd/isa_base.h"
#include "kernels/gemm/gemm_impl.h"
