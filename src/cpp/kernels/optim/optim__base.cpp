#include "simd/isa_base.h"
#include "kernels/optim/optim_impl.h"
