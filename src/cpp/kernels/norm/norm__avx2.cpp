#include "simd/isa_avx2.h"
#include "kernels/norm/norm_impl.h"
