#include "simd/isa_avx512.h"
#include "kernels/optim/optim_impl.h"
