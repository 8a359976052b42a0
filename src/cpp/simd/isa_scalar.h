// Included first by every *__scalar.cpp kernel translation unit: names the ISA namespace and the
// vector width that simd/vec.h builds on.
// scalar = the __ref path: one lane, no vector types.
#pragma once
#define CNNEXT_ISA_NS scalar
#define CNNEXT_VEC_BYTES 0
