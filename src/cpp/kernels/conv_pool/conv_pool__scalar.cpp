#include "simd/isa_scalar.h"
#include "kernels/conv_pool/conv_pool_impl.h"
