#include "bindings/bindings.h"

namespace cnnext {

void bind_dense(pybind11::module_& m) {}

}  // namespace cnnext
