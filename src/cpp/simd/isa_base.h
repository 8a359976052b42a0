// Included first by every *__base.cpp kernel translation unit: names the ISA namespace and the
// vector width that simd/vec.h builds on.
// base = SSE2 on x86-64, NEON on aarch64 (both 16-byte vectors), plain C++ elsewhere.
#pragma once
#define CNNEXT_ISA_NS base
#define CNNEXT_VEC_BYTES 16
