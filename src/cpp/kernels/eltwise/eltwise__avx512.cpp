#include "simd/isa_avx512.h"
#include "kernels/eltwise/eltwise_impl.h"
