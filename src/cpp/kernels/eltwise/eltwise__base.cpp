#include "simd/isa_base.h"
#include "kernels/eltwise/eltwise_impl.h"
