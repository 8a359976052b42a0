#include "simd/isa_avx2.h"
#include "kernels/signal/signal_impl.h"
