#include "simd/isa_avx2.h"
#include "kernels/eltwise/eltwise_impl.h"
