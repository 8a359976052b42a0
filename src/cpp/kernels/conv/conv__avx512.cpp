#include "simd/isa_avx512.h"
#include "kernels/conv/conv_impl.h"
