#include "simd/isa_base.h"
#include "kernels/conv/conv_impl.h"
