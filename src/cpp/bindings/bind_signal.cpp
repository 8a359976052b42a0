#include "bindings/bindings.h"

namespace cnnext {

void bind_signal(pybind11::module_& m) {}

}  // namespace cnnext
