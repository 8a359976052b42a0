#include "simd/isa_avx2.h"
#include "kernels/loss/loss_impl.h"
