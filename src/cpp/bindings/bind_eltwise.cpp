#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/eltwise.h"

namespace cnnext {
namespace {

template <class T>
py::object relu_py(const carray<T>& x, const py::object& out) {
  auto y = out_or_new<T>(out, shape_of(x), "relu");
  const T* xp = x.data();
  T* yp = y.mutable_data();
  const int64_t n = x.size();
  {
    py::gil_scoped_release nogil;
    relu(xp, yp, n);
  }
  return std::move(y);
}

template <class T>
py::object relu_backward_py(const carray<T>& dy, const carray<T>& x) {
  CNNEXT_CHECK(shape_of(dy) == shape_of(x), "relu_backward: dy shape ", shape_str(shape_of(dy)),
               " must equal x shape ", shape_str(shape_of(x)));
  auto dx = new_array<T>(shape_of(x));
  const T *dyp = dy.data(), *xp = x.data();
  T* dxp = dx.mutable_data();
  const int64_t n = x.size();
  {
    py::gil_scoped_release nogil;
    relu_backward(dyp, xp, dxp, n);
  }
  return std::move(dx);
}

template <class T>
void bind_dtype(py::module_& m) {
  m.def("relu", &relu_py<T>, py::arg("x").noconvert(), py::arg("out") = py::none());
  m.def("relu_backward", &relu_backward_py<T>, py::arg("dy").noconvert(), py::arg("x").noconvert());
}

}  // namespace

void bind_eltwise(py::module_& m) {
  bind_dtype<float>(m);
  bind_dtype<double>(m);
}

}  // namespace cnnext
