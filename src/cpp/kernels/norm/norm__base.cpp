#include "simd/isa_base.h"
#include "kernels/norm/norm_impl.h"
