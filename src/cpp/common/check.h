// Argument checks for ops/: throw std::invalid_argument (-> ValueError in Python), never exit.
// Messages follow ATen: "conv2d: expected 4-D input (N, H, W, C), but got shape (32, 32, 3)".
#pragma once
#include <cstdint>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace cnnext {

template <class... Args>
[[noreturn]] inline void fail(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw std::invalid_argument(os.str());
}

#define CNNEXT_CHECK(cond, ...)          \
  do {                                   \
    if (!(cond)) ::cnnext::fail(__VA_ARGS__); \
  } while (0)

inline std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream os;
  os << '(';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) os << ',';
  os << ')';
  return os.str();
}

// a * b, throwing std::invalid_argument instead of overflowing int64.
inline int64_t checked_mul(int64_t a, int64_t b, const char* what = "size") {
  int64_t r;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r))
    fail(what, ": product of dimensions ", a, " * ", b, " overflows a 64-bit size");
  return r;
}

// Product of the dimensions. Like NumPy, the product of the non-zero dimensions must fit as well,
// so an empty shape such as (0, 2**40, 2**40, 2**40) is refused instead of leaving H * W * C to
// overflow in the index arithmetic that follows.
inline int64_t checked_numel(const std::vector<int64_t>& shape, const char* what = "size") {
  int64_t n = 1, nonzero = 1;
  for (int64_t d : shape) {
    n = checked_mul(n, d, what);
    if (d != 0) nonzero = checked_mul(nonzero, d, what);
  }
  return n;
}

// a * b for cost estimates (work per thread, grain sizes): saturates at INT64_MAX instead of
// overflowing; a, b >= 0.
inline int64_t saturating_mul(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
}

}  // namespace cnnext
