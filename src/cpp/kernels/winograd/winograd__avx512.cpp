#include "simd/isa_avx512.h"
#include "kernels/winograd/winograd_impl.h"
