#include "simd/isa_avx512.h"
#include "kernels/loss/loss_impl.h"
