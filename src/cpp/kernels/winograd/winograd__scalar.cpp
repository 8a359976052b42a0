#include "simd/isa_scalar.h"
#include "kernels/winograd/winograd_impl.h"
