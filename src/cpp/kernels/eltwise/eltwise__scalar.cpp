#include "simd/isa_scalar.h"
#include "kernels/eltwise/eltwise_impl.h"
