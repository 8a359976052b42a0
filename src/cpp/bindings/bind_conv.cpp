// conv2d and its gradients. Python (ops/_conv.py) resolves padding into explicit top/left pads
// and checks shapes with Keras wording; these bindings re-check what memory safety depends on.
#include <pybind11/stl.h>

#include <optional>
#include <utility>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/conv.h"

namespace cnnext {
namespace {

using Pair = std::pair<int64_t, int64_t>;

void check_rank(const py::array& a, const char* op, const char* name, const char* layout) {
  if (a.ndim() != 4)
    fail(op, ": expected 4-D ", name, " ", layout, ", but got shape ", shape_str(shape_of(a)));
}

ConvGeom geom(const std::vector<int64_t>& xs, int64_t F, int64_t KH, int64_t KW, Pair s, Pair d,
              Pair pad, int64_t OH, int64_t OW) {
  return ConvGeom{xs[0], xs[1], xs[2], xs[3], F, KH, KW, s.first, s.second, d.first, d.second,
                  pad.first, pad.second, OH, OW};
}

template <class T>
py::object conv2d_py(const carray<T>& x, const carray<T>& kernel, const std::optional<carray<T>>& bias,
                     Pair strides, Pair dilation, Pair pad, Pair out_hw, int act,
                     const py::object& out) {
  const char* op = "conv2d";
  check_rank(x, op, "input", "(N, H, W, C)");
  check_rank(kernel, op, "kernel", "(KH, KW, C, F)");
  const auto xs = shape_of(x), ks = shape_of(kernel);
  CNNEXT_CHECK(ks[2] == xs[3], op, ": kernel has ", ks[2], " input channels but input has ", xs[3]);
  CNNEXT_CHECK(act >= 0 && act <= 3, op, ": unknown activation code ", act);
  const ConvGeom g = geom(xs, ks[3], ks[0], ks[1], strides, dilation, pad, out_hw.first, out_hw.second);
  check_conv_geom(g, op);
  const T* bp = nullptr;
  if (bias) {
    CNNEXT_CHECK(bias->ndim() == 1 && bias->shape(0) == g.F, op, ": expected bias of shape (",
                 g.F, ",), but got ", shape_str(shape_of(*bias)));
    bp = bias->data();
  }
  auto y = out_or_new<T>(out, {g.N, g.OH, g.OW, g.F}, op);
  const T *xp = x.data(), *kp = kernel.data();
  T* yp = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    conv2d_forward(g, xp, kp, bp, static_cast<Act>(act), yp);
  }
  return std::move(y);
}

template <class T>
py::object backprop_input_py(const carray<T>& dy, const carray<T>& kernel,
                             const std::vector<int64_t>& input_shape, Pair strides, Pair dilation,
                             Pair pad, const py::object& out) {
  const char* op = "conv2d_backprop_input";
  check_rank(dy, op, "dy", "(N, OH, OW, F)");
  check_rank(kernel, op, "kernel", "(KH, KW, C, F)");
  CNNEXT_CHECK(input_shape.size() == 4, op, ": input_shape must have 4 entries, got ",
               shape_str(input_shape));
  const auto ds = shape_of(dy), ks = shape_of(kernel);
  CNNEXT_CHECK(ds[0] == input_shape[0] && ks[2] == input_shape[3] && ks[3] == ds[3], op,
               ": dy ", shape_str(ds), ", kernel ", shape_str(ks), " and input_shape ",
               shape_str(input_shape), " are inconsistent");
  const ConvGeom g = geom(input_shape, ks[3], ks[0], ks[1], strides, dilation, pad, ds[1], ds[2]);
  check_conv_geom(g, op);
  auto dx = out_or_new<T>(out, input_shape, op);
  const T *dyp = dy.data(), *kp = kernel.data();
  T* dxp = dx.mutable_data();
  {
    py::gil_scoped_release nogil;
    conv2d_backprop_input(g, dyp, kp, dxp);
  }
  return std::move(dx);
}

template <class T>
py::object backprop_kernel_py(const carray<T>& x, const carray<T>& dy,
                              const std::vector<int64_t>& kernel_shape, Pair strides,
                              Pair dilation, Pair pad, const py::object& out) {
  const char* op = "conv2d_backprop_kernel";
  check_rank(x, op, "input", "(N, H, W, C)");
  check_rank(dy, op, "dy", "(N, OH, OW, F)");
  CNNEXT_CHECK(kernel_shape.size() == 4, op, ": kernel_shape must have 4 entries, got ",
               shape_str(kernel_shape));
  const auto xs = shape_of(x), ds = shape_of(dy);
  CNNEXT_CHECK(xs[0] == ds[0] && kernel_shape[2] == xs[3] && kernel_shape[3] == ds[3], op,
               ": input ", shape_str(xs), ", dy ", shape_str(ds), " and kernel_shape ",
               shape_str(kernel_shape), " are inconsistent");
  const ConvGeom g =
      geom(xs, ds[3], kernel_shape[0], kernel_shape[1], strides, dilation, pad, ds[1], ds[2]);
  check_conv_geom(g, op);
  auto dk = out_or_new<T>(out, kernel_shape, op);
  const T *xp = x.data(), *dyp = dy.data();
  T* dkp = dk.mutable_data();
  {
    py::gil_scoped_release nogil;
    conv2d_backprop_kernel(g, xp, dyp, dkp);
  }
  return std::move(dk);
}

template <class T>
py::object backprop_bias_py(const carray<T>& dy, const py::object& out) {
  check_rank(dy, "conv2d_backprop_bias", "dy", "(N, OH, OW, F)");
  const auto ds = shape_of(dy);
  auto db = out_or_new<T>(out, {ds[3]}, "conv2d_backprop_bias");
  const T* dyp = dy.data();
  T* dbp = db.mutable_data();
  const int64_t M = ds[0] * ds[1] * ds[2], F = ds[3];
  {
    py::gil_scoped_release nogil;
    conv2d_backprop_bias(dyp, M, F, dbp);
  }
  return std::move(db);
}

template <class T>
void bind_dtype(py::module_& m) {
  m.def("conv2d", &conv2d_py<T>, py::arg("x").noconvert(), py::arg("kernel").noconvert(),
        py::arg("bias").none(true).noconvert(), py::arg("strides"), py::arg("dilation"), py::arg("pad"),
        py::arg("out_hw"), py::arg("act"), py::arg("out") = py::none());
  m.def("conv2d_backprop_input", &backprop_input_py<T>, py::arg("dy").noconvert(),
        py::arg("kernel").noconvert(), py::arg("input_shape"), py::arg("strides"),
        py::arg("dilation"), py::arg("pad"), py::arg("out") = py::none());
  m.def("conv2d_backprop_kernel", &backprop_kernel_py<T>, py::arg("x").noconvert(),
        py::arg("dy").noconvert(), py::arg("kernel_shape"), py::arg("strides"),
        py::arg("dilation"), py::arg("pad"), py::arg("out") = py::none());
  m.def("conv2d_backprop_bias", &backprop_bias_py<T>, py::arg("dy").noconvert(),
        py::arg("out") = py::none());
}

}  // namespace

void bind_conv(py::module_& m) {
  bind_dtype<float>(m);
  bind_dtype<double>(m);
}

}  // namespace cnnext
