// Pooling bindings: exact dtype and C-contiguous arrays in (python/cnnext/ops/_pooling.py converts
// and validates user arguments first); shapes are re-checked here so a direct _core call cannot
// read or write out of bounds.
#include <pybind11/stl.h>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/pooling.h"

namespace cnnext {
namespace {

using Shape = std::vector<int64_t>;

Shape out_shape(const PoolGeom& g) { return {g.N, g.OH, g.OW, g.C}; }

// dy, the pooled output y or argmax (`name`) must have the pooled shape.
void check_pooled(const py::array& a, const PoolGeom& g, const char* op, const char* name) {
  CNNEXT_CHECK(shape_of(a) == out_shape(g), op, ": ", name, " must have the pooled shape ",
               shape_str(out_shape(g)), ", but got ", shape_str(shape_of(a)));
}

template <class T>
py::object max_pool2d_py(const carray<T>& x, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                         bool same) {
  const PoolGeom g = pool_geometry(shape_of(x), kh, kw, sh, sw, same, "max_pool2d");
  auto y = new_array<T>(out_shape(g));
  const T* xp = x.data();
  T* yp = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    max_pool2d(g, xp, yp);
  }
  return std::move(y);
}

template <class T>
py::object avg_pool2d_py(const carray<T>& x, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                         bool same) {
  const PoolGeom g = pool_geometry(shape_of(x), kh, kw, sh, sw, same, "avg_pool2d");
  auto y = new_array<T>(out_shape(g));
  const T* xp = x.data();
  T* yp = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    avg_pool2d(g, xp, yp);
  }
  return std::move(y);
}

template <class T, class Idx>
py::tuple argmax_impl(const carray<T>& x, const PoolGeom& g, const py::object& out,
                      const py::object& argmax_out) {
  auto y = out_or_new<T>(out, out_shape(g), "max_pool2d_with_argmax");
  auto idx = out_or_new<Idx>(argmax_out, out_shape(g), "max_pool2d_with_argmax (argmax)");
  const T* xp = x.data();
  T* yp = y.mutable_data();
  Idx* ip = idx.mutable_data();
  {
    py::gil_scoped_release nogil;
    max_pool2d_argmax(g, xp, yp, ip);
  }
  return py::make_tuple(std::move(y), std::move(idx));
}

// Window indices are uint8 when the window has at most 256 cells, else int32.
template <class T>
py::tuple max_pool2d_with_argmax_py(const carray<T>& x, int64_t kh, int64_t kw, int64_t sh,
                                    int64_t sw, bool same, const py::object& out,
                                    const py::object& argmax_out) {
  const PoolGeom g = pool_geometry(shape_of(x), kh, kw, sh, sw, same, "max_pool2d_with_argmax");
  if (kh * kw <= 256) return argmax_impl<T, uint8_t>(x, g, out, argmax_out);
  return argmax_impl<T, int32_t>(x, g, out, argmax_out);
}

template <class T>
py::object max_pool2d_backward_py(const carray<T>& dy, const carray<T>& x, int64_t kh, int64_t kw,
                                  int64_t sh, int64_t sw, bool same) {
  const PoolGeom g = pool_geometry(shape_of(x), kh, kw, sh, sw, same, "max_pool2d_backward");
  check_pooled(dy, g, "max_pool2d_backward", "dy");
  auto dx = new_array<T>(shape_of(x));
  const T *dyp = dy.data(), *xp = x.data();
  T* dxp = dx.mutable_data();
  {
    py::gil_scoped_release nogil;
    max_pool2d_backward(g, dyp, xp, dxp);
  }
  return std::move(dx);
}

template <class T, class Idx>
py::object max_pool2d_backward_argmax_py(const carray<T>& dy, const carray<Idx>& idx,
                                         const Shape& input_shape, int64_t kh, int64_t kw,
                                         int64_t sh, int64_t sw, bool same,
                                         const py::object& out) {
  const char* op = "max_pool2d_backward_from_argmax";
  const PoolGeom g = pool_geometry(input_shape, kh, kw, sh, sw, same, op);
  check_pooled(dy, g, op, "dy");
  check_pooled(idx, g, op, "argmax");
  auto dx = out_or_new<T>(out, input_shape, op);
  const T* dyp = dy.data();
  const Idx* ip = idx.data();
  T* dxp = dx.mutable_data();
  {
    py::gil_scoped_release nogil;
    max_pool2d_backward_argmax(g, dyp, ip, dxp);
  }
  return std::move(dx);
}

// Backward of maxpool(relu(z)): dx, or (dx, db) with bias_grad (db: per-channel sum of the
// relu-masked pooled gradient, the preceding conv's bias gradient).
template <class T, class Idx>
py::object max_pool2d_relu_backward_argmax_py(const carray<T>& dy, const carray<T>& y,
                                              const carray<Idx>& idx, const Shape& input_shape,
                                              int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                                              bool same, const py::object& out, bool bias_grad,
                                              const py::object& bias_out) {
  const char* op = "max_pool2d_relu_backward_from_argmax";
  const PoolGeom g = pool_geometry(input_shape, kh, kw, sh, sw, same, op);
  check_pooled(dy, g, op, "dy");
  check_pooled(y, g, op, "y");
  check_pooled(idx, g, op, "argmax");
  CNNEXT_CHECK(bias_grad || bias_out.is_none(), op, ": bias_out is given but bias_grad is False");
  auto dx = out_or_new<T>(out, input_shape, op);
  carray<T> db;
  if (bias_grad) db = out_or_new<T>(bias_out, {g.C}, op);
  const T *dyp = dy.data(), *yp = y.data();
  const Idx* ip = idx.data();
  T* dxp = dx.mutable_data();
  T* dbp = bias_grad ? db.mutable_data() : nullptr;
  {
    py::gil_scoped_release nogil;
    max_pool2d_relu_backward_argmax(g, dyp, yp, ip, dxp, dbp);
  }
  if (!bias_grad) return std::move(dx);
  return py::make_tuple(std::move(dx), std::move(db));
}

template <class T>
py::object avg_pool2d_backward_py(const carray<T>& dy, const Shape& input_shape, int64_t kh,
                                  int64_t kw, int64_t sh, int64_t sw, bool same) {
  const PoolGeom g = pool_geometry(input_shape, kh, kw, sh, sw, same, "avg_pool2d_backward");
  check_pooled(dy, g, "avg_pool2d_backward", "dy");
  auto dx = new_array<T>(input_shape);
  const T* dyp = dy.data();
  T* dxp = dx.mutable_data();
  {
    py::gil_scoped_release nogil;
    avg_pool2d_backward(g, dyp, dxp);
  }
  return std::move(dx);
}

template <class T>
void bind_dtype(py::module_& m) {
  // Window (kh, kw), strides (sh, sw), same: padding == "same"; the same five trail every call.
  const auto kh = py::arg("kh"), kw = py::arg("kw"), sh = py::arg("sh"), sw = py::arg("sw"),
             same = py::arg("same");
  m.def("max_pool2d", &max_pool2d_py<T>, py::arg("x").noconvert(), kh, kw, sh, sw, same);
  m.def("avg_pool2d", &avg_pool2d_py<T>, py::arg("x").noconvert(), kh, kw, sh, sw, same);
  m.def("max_pool2d_with_argmax", &max_pool2d_with_argmax_py<T>, py::arg("x").noconvert(), kh, kw,
        sh, sw, same, py::arg("out") = py::none(), py::arg("argmax_out") = py::none());
  m.def("max_pool2d_backward", &max_pool2d_backward_py<T>, py::arg("dy").noconvert(),
        py::arg("x").noconvert(), kh, kw, sh, sw, same);
  m.def("max_pool2d_backward_from_argmax", &max_pool2d_backward_argmax_py<T, uint8_t>,
        py::arg("dy").noconvert(), py::arg("argmax").noconvert(), py::arg("input_shape"), kh, kw,
        sh, sw, same, py::arg("out") = py::none());
  m.def("max_pool2d_backward_from_argmax", &max_pool2d_backward_argmax_py<T, int32_t>,
        py::arg("dy").noconvert(), py::arg("argmax").noconvert(), py::arg("input_shape"), kh, kw,
        sh, sw, same, py::arg("out") = py::none());
  const auto def_relu_pool = [&](auto f) {
    m.def("max_pool2d_relu_backward_from_argmax", f, py::arg("dy").noconvert(),
          py::arg("y").noconvert(), py::arg("argmax").noconvert(), py::arg("input_shape"), kh,
          kw, sh, sw, same, py::arg("out") = py::none(), py::arg("bias_grad") = false,
          py::arg("bias_out") = py::none());
  };
  def_relu_pool(&max_pool2d_relu_backward_argmax_py<T, uint8_t>);
  def_relu_pool(&max_pool2d_relu_backward_argmax_py<T, int32_t>);
  m.def("avg_pool2d_backward", &avg_pool2d_backward_py<T>, py::arg("dy").noconvert(),
        py::arg("input_shape"), kh, kw, sh, sw, same);
}

}  // namespace

void bind_pooling(py::module_& m) {
  bind_dtype<float>(m);
  bind_dtype<double>(m);
}

}  // namespace cnnext
