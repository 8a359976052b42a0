#include "simd/isa_base.h"
#include "kernels/signal/signal_impl.h"
