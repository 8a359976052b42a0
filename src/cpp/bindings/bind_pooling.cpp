#include "bindings/bindings.h"

namespace cnnext {

void bind_pooling(pybind11::module_& m) {}

}  // namespace cnnext
