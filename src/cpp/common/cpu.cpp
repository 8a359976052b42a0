#include "common/cpu.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace cnnext {
namespace {

Isa detect() {
#if defined(CNNEXT_X86) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  // __builtin_cpu_supports also checks that the OS saves the vector state (XCR0).
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2"))
    return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
  return Isa::base;
#else
  return Isa::base;
#endif
}

Isa initial_active() {
  Isa best = detect();
  // CNNEXT_ISA may only lower the level; an unknown or unsupported value is ignored here and
  // reported by the Python layer (cnnext/_config.py), which can raise a clear error.
  if (const char* env = std::getenv("CNNEXT_ISA")) {
    try {
      Isa want = isa_from_name(env);
      if (static_cast<int>(want) <= static_cast<int>(best)) return want;
    } catch (const std::invalid_argument&) {
    }
  }
  return best;
}

std::atomic<int>& active_slot() {
  static std::atomic<int> slot{static_cast<int>(initial_active())};
  return slot;
}

}  // namespace

Isa detected_isa() {
  static const Isa isa = detect();
  return isa;
}

Isa active_isa() { return static_cast<Isa>(active_slot().load(std::memory_order_relaxed)); }

void set_active_isa(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(detected_isa()))
    throw std::invalid_argument(std::string("ISA level '") + isa_name(isa) +
                                "' is not supported by this CPU/build; the best available is '" +
                                isa_name(detected_isa()) + "'");
  active_slot().store(static_cast<int>(isa), std::memory_order_relaxed);
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::base:
#if defined(CNNEXT_X86)
      return "sse2";
#elif defined(__aarch64__)
      return "neon";
#else
      return "generic";
#endif
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "unknown";
}

Isa isa_from_name(const std::string& name) {
  for (Isa isa : {Isa::scalar, Isa::base, Isa::avx2, Isa::avx512})
    if (name == isa_name(isa)) return isa;
  if (name == "base" || name == "portable") return Isa::base;
  throw std::invalid_argument("unknown ISA level '" + name +
                              "'; expected one of scalar, " + isa_name(Isa::base) +
                              ", avx2, avx512");
}

std::vector<Isa> compiled_isas() {
#if defined(CNNEXT_X86)
  return {Isa::scalar, Isa::base, Isa::avx2, Isa::avx512};
#else
  return {Isa::scalar, Isa::base};
#endif
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : compiled_isas())
    if (static_cast<int>(isa) <= static_cast<int>(detected_isa())) out.push_back(isa);
  return out;
}

}  // namespace cnnext
