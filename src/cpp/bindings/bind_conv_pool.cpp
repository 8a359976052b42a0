// conv2d fused with the max-pool after it (ops/conv_pool.h): internal fast paths of the Keras
// mirror (python/cnnext/_backend.py), not public drop-ins. Arguments as _core.conv2d takes them
// (padding resolved into top/left pads, output size given), plus the pool window, whose strides
// equal it ('valid' padding). Shapes are re-checked here so a direct call cannot read or write
// out of bounds.
#include <pybind11/stl.h>

#include <optional>
#include <utility>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/conv_pool.h"

namespace cnnext {
namespace {

using Pair = std::pair<int64_t, int64_t>;
using Shape = std::vector<int64_t>;

Shape checked_rank4(const py::array& a, const char* op, const char* name, const char* layout) {
  if (a.ndim() != 4)
    fail(op, ": expected 4-D ", name, " ", layout, ", but got shape ", shape_str(shape_of(a)));
  return shape_of(a);
}

ConvGeom geom(const Shape& xs, const Shape& ks, Pair s, Pair d, Pair pad, Pair out_hw,
              const char* op) {
  CNNEXT_CHECK(ks.size() == 4, op, ": kernel shape must have 4 entries (KH, KW, C, F), got ",
               shape_str(ks));
  CNNEXT_CHECK(ks[2] == xs[3], op, ": kernel has ", ks[2], " input channels but input has ",
               xs[3]);
  return ConvGeom{xs[0],    xs[1],     xs[2],     xs[3],     ks[3],        ks[0],        ks[1],
                  s.first,  s.second,  d.first,   d.second,  pad.first,    pad.second,
                  out_hw.first, out_hw.second};
}

Shape pooled_shape(const ConvGeom& g, Pair pool) {
  return {g.N, g.OH / pool.first, g.OW / pool.second, g.F};
}

bool fusable_py(const Shape& x_shape, const Shape& kernel_shape, Pair strides, Pair dilation,
                Pair pad, Pair out_hw, Pair pool_size, Pair pool_strides, bool pool_same) {
  if (x_shape.size() != 4 || kernel_shape.size() != 4 || kernel_shape[2] != x_shape[3])
    return false;
  if (pool_same || pool_size != pool_strides) return false;
  const ConvGeom g = geom(x_shape, kernel_shape, strides, dilation, pad, out_hw, "fusable");
  return conv_pool_fusable(g, pool_size.first, pool_size.second);
}

template <class T>
py::object forward_py(const carray<T>& x, const carray<T>& kernel,
                      const std::optional<carray<T>>& bias, Pair strides, Pair dilation, Pair pad,
                      Pair out_hw, int act, Pair pool_size, bool with_argmax,
                      const py::object& out, const py::object& argmax_out) {
  const char* op = "conv2d_max_pool2d";
  const Shape xs = checked_rank4(x, op, "input", "(N, H, W, C)");
  const Shape ks = checked_rank4(kernel, op, "kernel", "(KH, KW, C, F)");
  CNNEXT_CHECK(act >= 0 && act <= 3, op, ": unknown activation code ", act);
  const ConvGeom g = geom(xs, ks, strides, dilation, pad, out_hw, op);
  check_conv_pool(g, pool_size.first, pool_size.second, op);
  const T* bp = nullptr;
  if (bias) {
    CNNEXT_CHECK(bias->ndim() == 1 && bias->shape(0) == g.F, op, ": expected bias of shape (",
                 g.F, ",), but got ", shape_str(shape_of(*bias)));
    bp = bias->data();
  }
  const Shape ps = pooled_shape(g, pool_size);
  auto y = out_or_new<T>(out, ps, op);
  std::optional<carray<uint8_t>> idx;
  if (with_argmax) idx = out_or_new<uint8_t>(argmax_out, ps, "conv2d_max_pool2d (argmax)");
  else CNNEXT_CHECK(argmax_out.is_none(), op, ": argmax_out given with with_argmax=False");
  const T *xp = x.data(), *kp = kernel.data();
  T* yp = y.mutable_data();
  uint8_t* ip = idx ? idx->mutable_data() : nullptr;
  {
    py::gil_scoped_release nogil;
    conv2d_max_pool2d(g, xp, kp, bp, static_cast<Act>(act), pool_size.first, pool_size.second,
                      yp, ip);
  }
  if (!idx) return std::move(y);
  return py::make_tuple(std::move(y), std::move(*idx));
}

template <class T>
py::tuple backprop_kernel_py(const carray<T>& x, const carray<T>& d_pooled,
                             const std::optional<carray<T>>& pooled, const carray<uint8_t>& argmax,
                             const Shape& kernel_shape, Pair strides, Pair dilation, Pair pad,
                             Pair out_hw, int act, Pair pool_size, const py::object& out,
                             const py::object& bias_out) {
  const char* op = "conv2d_max_pool2d_backprop_kernel";
  const Shape xs = checked_rank4(x, op, "input", "(N, H, W, C)");
  const ConvGeom g = geom(xs, kernel_shape, strides, dilation, pad, out_hw, op);
  check_conv_pool(g, pool_size.first, pool_size.second, op);
  CNNEXT_CHECK(act == 0 || act == 1, op, ": activation must be linear (0) or relu (1), got code ",
               act);
  const Shape ps = pooled_shape(g, pool_size);
  CNNEXT_CHECK(shape_of(d_pooled) == ps, op, ": d_pooled must have the pooled shape ",
               shape_str(ps), ", but got ", shape_str(shape_of(d_pooled)));
  CNNEXT_CHECK(shape_of(argmax) == ps, op, ": argmax must have the pooled shape ", shape_str(ps),
               ", but got ", shape_str(shape_of(argmax)));
  CNNEXT_CHECK(act == 0 || pooled, op, ": relu needs the pooled output `pooled`");
  const T* yp = nullptr;
  if (pooled) {
    CNNEXT_CHECK(shape_of(*pooled) == ps, op, ": pooled must have the pooled shape ",
                 shape_str(ps), ", but got ", shape_str(shape_of(*pooled)));
    yp = pooled->data();
  }
  auto dk = out_or_new<T>(out, kernel_shape, op);
  auto db = out_or_new<T>(bias_out, {g.F}, "conv2d_max_pool2d_backprop_kernel (bias)");
  const T *xp = x.data(), *dp = d_pooled.data();
  const uint8_t* ip = argmax.data();
  T *dkp = dk.mutable_data(), *dbp = db.mutable_data();
  {
    py::gil_scoped_release nogil;
    conv2d_max_pool2d_backprop_kernel(g, static_cast<Act>(act), pool_size.first,
                                      pool_size.second, xp, dp, yp, ip, dkp, dbp);
  }
  return py::make_tuple(std::move(dk), std::move(db));
}

template <class T>
void bind_dtype(py::module_& m) {
  m.def("conv2d_max_pool2d", &forward_py<T>, py::arg("x").noconvert(),
        py::arg("kernel").noconvert(), py::arg("bias").none(true).noconvert(), py::arg("strides"),
        py::arg("dilation"), py::arg("pad"), py::arg("out_hw"), py::arg("act"),
        py::arg("pool_size"), py::arg("with_argmax") = true, py::arg("out") = py::none(),
        py::arg("argmax_out") = py::none());
  m.def("conv2d_max_pool2d_backprop_kernel", &backprop_kernel_py<T>, py::arg("x").noconvert(),
        py::arg("d_pooled").noconvert(), py::arg("pooled").none(true).noconvert(),
        py::arg("argmax").noconvert(), py::arg("kernel_shape"), py::arg("strides"),
        py::arg("dilation"), py::arg("pad"), py::arg("out_hw"), py::arg("act"),
        py::arg("pool_size"), py::arg("out") = py::none(), py::arg("bias_out") = py::none());
}

}  // namespace

void bind_conv_pool(py::module_& m) {
  m.def("conv2d_max_pool2d_fusable", &fusable_py, py::arg("x_shape"), py::arg("kernel_shape"),
        py::arg("strides"), py::arg("dilation"), py::arg("pad"), py::arg("out_hw"),
        py::arg("pool_size"), py::arg("pool_strides"), py::arg("pool_same"),
        "True when conv2d_max_pool2d and its kernel gradient accept this geometry: the conv "
        "takes the direct path (few input channels) and the pool is 'valid' with strides equal "
        "to its window of at most 256 cells, no larger than the conv output.");
  bind_dtype<float>(m);
  bind_dtype<double>(m);
}

}  // namespace cnnext
