// dense / matmul bindings: 2-D C-contiguous operands of one dtype (python/cnnext/ops/_dense.py
// reshapes, converts and validates first; the checks here guard direct _core calls).
#include <pybind11/stl.h>

#include <optional>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/dense.h"
#include "ops/gemm.h"

namespace cnnext {
namespace {

void check_2d(const py::array& a, const char* op, const char* name) {
  if (a.ndim() != 2)
    fail(op, ": expected a 2-D `", name, "`, but got shape ", shape_str(shape_of(a)));
}

// C (M, N) = op(a) . op(b); op(x) = x^T when the flag is set (a C-contiguous transposed view).
template <class T>
py::object matmul_py(const carray<T>& a, const carray<T>& b, bool trans_a, bool trans_b,
                     const py::object& out) {
  check_2d(a, "matmul", "a");
  check_2d(b, "matmul", "b");
  const int64_t M = trans_a ? a.shape(1) : a.shape(0), K = trans_a ? a.shape(0) : a.shape(1);
  const int64_t Kb = trans_b ? b.shape(1) : b.shape(0), N = trans_b ? b.shape(0) : b.shape(1);
  CNNEXT_CHECK(K == Kb, "matmul: inner dimensions differ: a has ", K, " columns, b has ", Kb,
               " rows");
  auto c = out_or_new<T>(out, {M, N}, "matmul");
  const T *ap = a.data(), *bp = b.data();
  T* cp = c.mutable_data();
  const int64_t rs_a = trans_a ? 1 : K, cs_a = trans_a ? M : 1;
  const int64_t rs_b = trans_b ? 1 : N, cs_b = trans_b ? K : 1;
  {
    py::gil_scoped_release nogil;
    matmul_threaded<T>(M, N, K, ap, rs_a, cs_a, bp, rs_b, cs_b, cp, N, GemmEpilogue<T>{});
  }
  return std::move(c);
}

template <class T>
py::object dense_py(const carray<T>& x, const carray<T>& kernel,
                    const std::optional<carray<T>>& bias, int act) {
  check_2d(x, "dense", "x");
  check_2d(kernel, "dense", "kernel");
  const int64_t M = x.shape(0), in = x.shape(1), out = kernel.shape(1);
  CNNEXT_CHECK(kernel.shape(0) == in, "dense: kernel shape ", shape_str(shape_of(kernel)),
               " does not match x shape ", shape_str(shape_of(x)));
  if (bias)
    CNNEXT_CHECK(bias->ndim() == 1 && bias->shape(0) == out, "dense: expected bias of shape (",
                 out, ",), but got shape ", shape_str(shape_of(*bias)));
  CNNEXT_CHECK(act >= 0 && act <= 3, "dense: unknown activation code ", act);
  auto y = new_array<T>({M, out});
  const T *xp = x.data(), *kp = kernel.data(), *bp = bias ? bias->data() : nullptr;
  T* yp = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    dense<T>(xp, kp, bp, yp, M, in, out, static_cast<Act>(act));
  }
  return std::move(y);
}

template <class T>
py::object dense_backprop_input_py(const carray<T>& dy, const carray<T>& kernel) {
  check_2d(dy, "dense_backprop_input", "dy");
  check_2d(kernel, "dense_backprop_input", "kernel");
  const int64_t M = dy.shape(0), out = dy.shape(1), in = kernel.shape(0);
  CNNEXT_CHECK(kernel.shape(1) == out, "dense_backprop_input: kernel shape ",
               shape_str(shape_of(kernel)), " does not match dy shape ", shape_str(shape_of(dy)));
  auto dx = new_array<T>({M, in});
  const T *dyp = dy.data(), *kp = kernel.data();
  T* dxp = dx.mutable_data();
  {
    py::gil_scoped_release nogil;
    dense_backprop_input<T>(dyp, kp, dxp, M, in, out);
  }
  return std::move(dx);
}

template <class T>
py::object dense_backprop_kernel_py(const carray<T>& x, const carray<T>& dy) {
  check_2d(x, "dense_backprop_kernel", "x");
  check_2d(dy, "dense_backprop_kernel", "dy");
  const int64_t M = x.shape(0), in = x.shape(1), out = dy.shape(1);
  CNNEXT_CHECK(dy.shape(0) == M, "dense_backprop_kernel: dy shape ", shape_str(shape_of(dy)),
               " does not match x shape ", shape_str(shape_of(x)));
  auto dk = new_array<T>({in, out});
  const T *xp = x.data(), *dyp = dy.data();
  T* dkp = dk.mutable_data();
  {
    py::gil_scoped_release nogil;
    dense_backprop_kernel<T>(xp, dyp, dkp, M, in, out);
  }
  return std::move(dk);
}

template <class T>
py::object dense_backprop_bias_py(const carray<T>& dy) {
  check_2d(dy, "dense_backprop_bias", "dy");
  const int64_t M = dy.shape(0), out = dy.shape(1);
  auto db = new_array<T>({out});
  const T* dyp = dy.data();
  T* dbp = db.mutable_data();
  {
    py::gil_scoped_release nogil;
    dense_backprop_bias<T>(dyp, dbp, M, out);
  }
  return std::move(db);
}

template <class T>
void bind_dtype(py::module_& m) {
  m.def("matmul", &matmul_py<T>, py::arg("a").noconvert(), py::arg("b").noconvert(),
        py::arg("trans_a") = false, py::arg("trans_b") = false, py::arg("out") = py::none());
  m.def("dense", &dense_py<T>, py::arg("x").noconvert(), py::arg("kernel").noconvert(),
        py::arg("bias").noconvert() = py::none(), py::arg("activation") = 0);
  m.def("dense_backprop_input", &dense_backprop_input_py<T>, py::arg("dy").noconvert(),
        py::arg("kernel").noconvert());
  m.def("dense_backprop_kernel", &dense_backprop_kernel_py<T>, py::arg("x").noconvert(),
        py::arg("dy").noconvert());
  m.def("dense_backprop_bias", &dense_backprop_bias_py<T>, py::arg("dy").noconvert());
}

}  // namespace

void bind_dense(py::module_& m) {
  bind_dtype<float>(m);
  bind_dtype<double>(m);
}

}  // namespace cnnext
