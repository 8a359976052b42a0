#include "simd/isa_base.h"
#include "kernels/pooling/pooling_impl.h"
