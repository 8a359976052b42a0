// Helpers shared by the binding files: the only place (with bindings/*.cpp) that sees pybind11.
// Bindings take exactly the dtype and layout they compute on (C-contiguous float32/float64, no
// conversion): python/cnnext/ops/_common.py converts user input once, visibly, before the call.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <vector>

#include "common/check.h"

namespace cnnext {
namespace py = pybind11;

template <class T>
using carray = py::array_t<T, py::array::c_style>;

inline std::vector<int64_t> shape_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

template <class T>
carray<T> new_array(const std::vector<int64_t>& shape) {
  checked_numel(shape, "output");
  return carray<T>(std::vector<py::ssize_t>(shape.begin(), shape.end()));
}

// The `out=` argument: None allocates; otherwise it must be a C-contiguous, writeable array of
// exactly this dtype and shape (never converted: a converted copy would silently drop the write).
template <class T>
carray<T> out_or_new(const py::object& out, const std::vector<int64_t>& shape, const char* op) {
  if (out.is_none()) return new_array<T>(shape);
  if (!py::isinstance<py::array>(out))
    throw py::type_error(std::string(op) + ": `out` must be a numpy.ndarray or None");
  py::array a = py::reinterpret_borrow<py::array>(out);
  if (!a.dtype().is(py::dtype::of<T>()))
    throw py::type_error(std::string(op) + ": `out` must have dtype " +
                         std::string(py::str(py::dtype::of<T>())) + ", but got " +
                         std::string(py::str(a.dtype())));
  if (shape_of(a) != shape)
    fail(op, ": `out` must have shape ", shape_str(shape), ", but got ", shape_str(shape_of(a)));
  if (!(a.flags() & py::array::c_style)) fail(op, ": `out` must be C-contiguous");
  if (!a.writeable()) fail(op, ": `out` is read-only");
  return py::reinterpret_borrow<carray<T>>(out);
}

}  // namespace cnnext
