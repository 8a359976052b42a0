#include "simd/isa_scalar.h"
#include "kernels/conv/conv_impl.h"
