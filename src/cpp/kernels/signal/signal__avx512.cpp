#include "simd/isa_avx512.h"
#include "kernels/signal/signal_impl.h"
