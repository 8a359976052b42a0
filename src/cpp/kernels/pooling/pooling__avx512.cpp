#include "simd/isa_avx512.h"
#include "kernels/pooling/pooling_impl.h"
