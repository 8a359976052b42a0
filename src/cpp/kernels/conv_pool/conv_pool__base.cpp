#include "simd/isa_base.h"
#include "kernels/conv_pool/conv_pool_impl.h"
