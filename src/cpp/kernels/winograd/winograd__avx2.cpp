#include "simd/isa_avx2.h"
#include "kernels/winograd/winograd_impl.h"
