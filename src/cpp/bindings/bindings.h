// One bind_<group>() per op group, each in its own file, all called from module.cpp.
#pragma once
#include <pybind11/pybind11.h>

namespace cnnext {
void bind_config(pybind11::module_& m);
void bind_eltwise(pybind11::module_& m);
void bind_pooling(pybind11::module_& m);
void bind_conv(pybind11::module_& m);
void bind_conv_pool(pybind11::module_& m);
void bind_dense(pybind11::module_& m);
void bind_signal(pybind11::module_& m);
void bind_optim(pybind11::module_& m);
void bind_norm(pybind11::module_& m);
}  // namespace cnnext
