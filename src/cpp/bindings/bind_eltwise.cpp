#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/eltwise.h"

namespace cnnext {

void bind_loss(py::module_& m);  // bind_loss.cpp

namespace {

template <class T>
using UnaryOp = void (*)(const T*, T*, int64_t);
template <class T>
using BinaryOp = void (*)(const T*, const T*, T*, int64_t);

template <class T>
py::object unary_py(UnaryOp<T> op, const char* name, const carray<T>& x, const py::object& out) {
  auto y = out_or_new<T>(out, shape_of(x), name);
  const T* xp = x.data();
  T* yp = y.mutable_data();
  const int64_t n = x.size();
  {
    py::gil_scoped_release nogil;
    op(xp, yp, n);
  }
  return std::move(y);
}

// dx = f(dy, a) elementwise, where a is the forward input (relu) or output (sigmoid, tanh).
template <class T>
py::object binary_py(BinaryOp<T> op, const char* name, const char* aname, const carray<T>& dy,
                     const carray<T>& a, const py::object& out) {
  CNNEXT_CHECK(shape_of(dy) == shape_of(a), name, ": dy shape ", shape_str(shape_of(dy)),
               " must equal ", aname, " shape ", shape_str(shape_of(a)));
  auto dx = out_or_new<T>(out, shape_of(a), name);
  const T *dyp = dy.data(), *ap = a.data();
  T* dxp = dx.mutable_data();
  const int64_t n = a.size();
  {
    py::gil_scoped_release nogil;
    op(dyp, ap, dxp, n);
  }
  return std::move(dx);
}

// Keras's relu with negative_slope / max_value (+inf: none) / threshold.
template <class T>
py::object relu_general_py(const carray<T>& x, T slope, T cap, T thr, const py::object& out) {
  auto y = out_or_new<T>(out, shape_of(x), "relu_general");
  const T* xp = x.data();
  T* yp = y.mutable_data();
  const int64_t n = x.size();
  {
    py::gil_scoped_release nogil;
    relu_general(xp, yp, n, slope, cap, thr);
  }
  return std::move(y);
}

template <class T>
py::object relu_general_backward_py(const carray<T>& dy, const carray<T>& x, T slope, T cap,
                                    T thr) {
  CNNEXT_CHECK(shape_of(dy) == shape_of(x), "relu_general_backward: dy shape ",
               shape_str(shape_of(dy)), " must equal x shape ", shape_str(shape_of(x)));
  auto dx = new_array<T>(shape_of(x));
  const T *dyp = dy.data(), *xp = x.data();
  T* dxp = dx.mutable_data();
  const int64_t n = x.size();
  {
    py::gil_scoped_release nogil;
    relu_general_backward(dyp, xp, dxp, n, slope, cap, thr);
  }
  return std::move(dx);
}

struct AxisSplit {
  int64_t outer = 1, c = 1, inner = 1;
};

AxisSplit split_axis(const std::vector<int64_t>& shape, int64_t axis, const char* name) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  CNNEXT_CHECK(axis >= -nd && axis < nd, name, ": axis ", axis, " is out of range for a ", nd,
               "-D input");
  if (axis < 0) axis += nd;
  AxisSplit s;
  for (int64_t i = 0; i < axis; ++i) s.outer *= shape[i];
  s.c = shape[axis];
  for (int64_t i = axis + 1; i < nd; ++i) s.inner *= shape[i];
  return s;
}

template <class T>
py::object softmax_py(SoftmaxOp op, const char* name, const carray<T>& x, int64_t axis,
                      const py::object& out) {
  const AxisSplit s = split_axis(shape_of(x), axis, name);
  auto y = out_or_new<T>(out, shape_of(x), name);
  const T* xp = x.data();
  T* yp = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    softmax_forward(op, xp, yp, s.outer, s.c, s.inner);
  }
  return std::move(y);
}

template <class T>
py::object softmax_backward_py(SoftmaxOp op, const char* name, const carray<T>& dy,
                               const carray<T>& y, int64_t axis) {
  CNNEXT_CHECK(shape_of(dy) == shape_of(y), name, ": dy shape ", shape_str(shape_of(dy)),
               " must equal y shape ", shape_str(shape_of(y)));
  const AxisSplit s = split_axis(shape_of(y), axis, name);
  auto dx = new_array<T>(shape_of(y));
  const T *dyp = dy.data(), *yp = y.data();
  T* dxp = dx.mutable_data();
  {
    py::gil_scoped_release nogil;
    softmax_backward(op, dyp, yp, dxp, s.outer, s.c, s.inner);
  }
  return std::move(dx);
}

template <class T>
void bind_dtype(py::module_& m) {
  const auto x = py::arg("x").noconvert(), dy = py::arg("dy").noconvert();
  const auto out = py::arg("out") = py::none();
  auto def_unary = [&](const char* name, UnaryOp<T> op) {
    m.def(name, [op, name](const carray<T>& a, const py::object& o) { return unary_py(op, name, a, o); },
          x, out);
  };
  def_unary("relu", &relu<T>);
  def_unary("sigmoid", &sigmoid<T>);
  def_unary("tanh", &tanh_forward<T>);

  auto def_binary = [&](const char* name, const char* aname, BinaryOp<T> op) {
    m.def(name,
          [op, name, aname](const carray<T>& g, const carray<T>& a, const py::object& o) {
            return binary_py(op, name, aname, g, a, o);
          },
          dy, py::arg(aname).noconvert(), out);
  };
  def_binary("relu_backward", "x", &relu_backward<T>);
  const auto slope = py::arg("negative_slope"), cap = py::arg("max_value"),
             thr = py::arg("threshold");
  m.def("relu_general", &relu_general_py<T>, x, slope, cap, thr, out);
  m.def("relu_general_backward", &relu_general_backward_py<T>, dy, py::arg("x").noconvert(), slope,
        cap, thr);
  def_binary("sigmoid_backward", "y", &sigmoid_backward<T>);
  def_binary("tanh_backward", "y", &tanh_backward<T>);

  auto def_softmax = [&](const char* name, const char* bname, SoftmaxOp op) {
    m.def(name,
          [op, name](const carray<T>& a, int64_t axis, const py::object& o) {
            return softmax_py(op, name, a, axis, o);
          },
          x, py::arg("axis") = -1, out);
    m.def(bname,
          [op, bname](const carray<T>& g, const carray<T>& y, int64_t axis) {
            return softmax_backward_py(op, bname, g, y, axis);
          },
          dy, py::arg("y").noconvert(), py::arg("axis") = -1);
  };
  def_softmax("softmax", "softmax_backward", SoftmaxOp::softmax);
  def_softmax("log_softmax", "log_softmax_backward", SoftmaxOp::log_softmax);
}

}  // namespace

void bind_eltwise(py::module_& m) {
  bind_dtype<float>(m);
  bind_dtype<double>(m);
  bind_loss(m);
}

}  // namespace cnnext
