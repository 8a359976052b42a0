// Elementwise kernels, written once against simd/vec.h and compiled per ISA.
#include "kernels/eltwise/eltwise.h"
#include "simd/vec.h"

namespace cnnext {
namespace CNNEXT_ISA_NS {
namespace {

template <class T>
void relu(const T* x, T* y, int64_t n) {
  map_unary(x, y, n, [](auto v) {
    using V = decltype(v);
    return select(v < splat<V>(0), splat<V>(0), v);  // NaN < 0 is false: NaN passes through
  });
}

template <class T>
void relu_backward(const T* dy, const T* x, T* dx, int64_t n) {
  map_binary(dy, x, dx, n, [](auto g, auto v) {
    using V = decltype(v);
    return select(v > splat<V>(0), g, splat<V>(0));
  });
}

template <class T>
constexpr EltwiseKernelsT<T> table() {
  return {&relu<T>, &relu_backward<T>};
}

}  // namespace
}  // namespace CNNEXT_ISA_NS

extern const EltwiseKernels CNNEXT_KERNEL_TABLE(eltwise);
const EltwiseKernels CNNEXT_KERNEL_TABLE(eltwise) = {CNNEXT_ISA_NS::table<float>(),
                                                     CNNEXT_ISA_NS::table<double>()};

}  // namespace cnnext
