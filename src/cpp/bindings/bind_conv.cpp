#include "bindings/bindings.h"

namespace cnnext {

void bind_conv(pybind11::module_& m) {}

}  // namespace cnnext
