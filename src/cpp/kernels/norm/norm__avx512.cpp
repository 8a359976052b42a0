#include "simd/isa_avx512.h"
#include "kernels/norm/norm_impl.h"
