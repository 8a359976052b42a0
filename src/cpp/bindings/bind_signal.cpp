#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/signal.h"

namespace cnnext {
namespace {

// The padded-correlation core behind cnnext.ops.convolve2d / correlate2d (python/cnnext/ops/
// _signal.py turns SciPy's mode/boundary/swap rules into oh, ow, top, left and flip).
template <class T>
py::object correlate2d_padded_py(const carray<T>& x, const carray<T>& k, int64_t oh, int64_t ow,
                                 int64_t top, int64_t left, int boundary, double fill, bool flip) {
  CNNEXT_CHECK(x.ndim() == 2 && k.ndim() == 2, "correlate2d: expected 2-D x and k, but got shapes ",
               shape_str(shape_of(x)), " and ", shape_str(shape_of(k)));
  CNNEXT_CHECK(boundary >= 0 && boundary <= 2, "correlate2d: unknown boundary code ", boundary);
  auto y = new_array<T>({oh, ow});
  const T *xp = x.data(), *kp = k.data();
  T* yp = y.mutable_data();
  const int64_t h = x.shape(0), w = x.shape(1), kh = k.shape(0), kw = k.shape(1);
  {
    py::gil_scoped_release nogil;
    correlate2d_padded(xp, h, w, kp, kh, kw, flip, yp, oh, ow, top, left,
                       static_cast<Boundary>(boundary), static_cast<T>(fill));
  }
  return std::move(y);
}

template <class T>
void bind_dtype(py::module_& m) {
  m.def("correlate2d_padded", &correlate2d_padded_py<T>, py::arg("x").noconvert(),
        py::arg("k").noconvert(), py::arg("oh"), py::arg("ow"), py::arg("top"), py::arg("left"),
        py::arg("boundary"), py::arg("fill"), py::arg("flip"));
}

}  // namespace

void bind_signal(py::module_& m) {
  bind_dtype<float>(m);
  bind_dtype<double>(m);
}

}  // namespace cnnext
