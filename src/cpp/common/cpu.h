// CPU feature detection and the process-wide choice of kernel ISA level.
#pragma once
#include <string>
#include <vector>

namespace cnnext {

// Kernel ISA levels, lowest first. `base` is the portable SIMD path: SSE2 on x86-64 (every
// x86-64 CPU has it), NEON on aarch64, plain C++ elsewhere. `scalar` is the __ref code.
enum class Isa : int { scalar = 0, base = 1, avx2 = 2, avx512 = 3 };

Isa detected_isa();                  // best level this CPU and this build support
Isa active_isa();                    // level kernels dispatch to (cheap: one relaxed atomic load)
void set_active_isa(Isa isa);        // throws std::invalid_argument above detected_isa()
const char* isa_name(Isa isa);       // "scalar", "sse2"/"neon"/"generic", "avx2", "avx512"
Isa isa_from_name(const std::string& name);  // throws std::invalid_argument on unknown names
std::vector<Isa> supported_isas();   // every level <= detected_isa(), lowest first
std::vector<Isa> compiled_isas();    // every level compiled into this build, lowest first

}  // namespace cnnext
