#include "simd/isa_avx512.h"
#include "kernels/conv_pool/conv_pool_impl.h"
