#include "simd/isa_scalar.h"
#include "kernels/optim/optim_impl.h"
