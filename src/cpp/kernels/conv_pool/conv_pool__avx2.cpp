#include "simd/isa_avx2.h"
#include "kernels/conv_pool/conv_pool_impl.h"
