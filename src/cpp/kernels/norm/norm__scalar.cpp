#include "simd/isa_scalar.h"
#include "kernels/norm/norm_impl.h"
