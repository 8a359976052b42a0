#include "simd/isa_avx2.h"
#include "kernels/conv/conv_impl.h"
