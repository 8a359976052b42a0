// Included first by every *__avx2.cpp kernel translation unit: names the ISA namespace and the
// vector width that simd/vec.h builds on.
#pragma once
#define CNNEXT_ISA_NS avx2
#define CNNEXT_VEC_BYTES 32
