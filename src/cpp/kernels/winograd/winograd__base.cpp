#include "simd/isa_base.h"
#include "kernels/winograd/winograd_impl.h"
