#include "simd/isa_avx2.h"
#include "kernels/pooling/pooling_impl.h"
