#include "simd/isa_base.h"
#include "kernels/loss/loss_impl.h"
