#include "simd/isa_scalar.h"
#include "kernels/signal/signal_impl.h"
