#include "simd/isa_avx2.h"
#include "kernels/optim/optim_impl.h"
