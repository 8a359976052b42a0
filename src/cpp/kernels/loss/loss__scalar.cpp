#include "simd/isa_scalar.h"
#include "kernels/loss/loss_impl.h"
