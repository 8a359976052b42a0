#include "bindings/bindings.h"

namespace cnnext {

void bind_optim(pybind11::module_& m) {}

}  // namespace cnnext
