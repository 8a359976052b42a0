#include "simd/isa_scalar.h"
#include "kernels/pooling/pooling_impl.h"
