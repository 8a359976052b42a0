// dense / matmul bindings: 2-D operands of one dtype, C-contiguous except matmul's (strided) (python/cnnext/ops/_dense.py
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

// Element strides of a 2-D array of T (numpy keeps byte strides; views of T are multiples).
template <class T>
void element_strides(const py::array_t<T>& a, const char* name, int64_t* rs, int64_t* cs) {
  const int64_t s0 = a.strides(0), s1 = a.strides(1), w = sizeof(T);
  CNNEXT_CHECK(s0 % w == 0 && s1 % w == 0, "matmul: `", name, "` has strides (", s0, ", ", s1,
               ") bytes, not multiples of its item size ", w);
  *rs = s0 / w;
  *cs = s1 / w;
}

// C (M, N) = a . b for 2-D operands of any strides (transposed, sliced, negative: read in place).
template <class T>
py::object matmul_py(const py::array_t<T>& a, const py::array_t<T>& b, const py::object& out) {
  check_2d(a, "matmul", "a");
  check_2d(b, "matmul", "b");
  const int64_t M = a.shape(0), K = a.shape(1), N = b.shape(1);
  CNNEXT_CHECK(K == b.shape(0), "matmul: inner dimensions differ: a has ", K, " columns, b has ",
               b.shape(0), " rows");
  int64_t rs_a, cs_a, rs_b, cs_b;
  element_strides(a, "a", &rs_a, &cs_a);
  element_strides(b, "b", &rs_b, &cs_b);
  auto c = out_or_new<T>(out, {M, N}, "matmul");
  const T *ap = a.data(), *bp = b.data();
  T* cp = c.mutable_data();
  {
    py::gil_scoped_release nogil;
    matmul_threaded<T>(M, N, K, ap, rs_a, cs_a, bp, rs_b, cs_b, cp, N, GemmEpilogue<T>{});
  }
  return std::move(c);
}

template <class T>
py::object dense_py(const carray<T>& x, const carray<T>& kernel,
                    const std::optional<carray<T>>& bias, int act,
                    const py::object& out_arr) {
  check_2d(x, "dense", "x");
  check_2d(kernel, "dense", "kernel");
  const int64_t M = x.shape(0), in = x.shape(1), out = kernel.shape(1);
  CNNEXT_CHECK(kernel.shape(0) == in, "dense: kernel shape ", shape_str(shape_of(kernel)),
               " does not match x shape ", shape_str(shape_of(x)));
  if (bias)
    CNNEXT_CHECK(bias->ndim() == 1 && bias->shape(0) == out, "dense: expected bias of shape (",
                 out, ",), but got shape ", shape_str(shape_of(*bias)));
  CNNEXT_CHECK(act >= 0 && act <= 3, "dense: unknown activation code ", act);
  auto y = out_or_new<T>(out_arr, {M, out}, "dense");
  const T *xp = x.data(), *kp = kernel.data(), *bp = bias ? bias->data() : nullptr;
  T* yp = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    dense<T>(xp, kp, bp, yp, M, in, out, static_cast<Act>(act));
  }
  return std::move(y);
}

template <class T>
py::object dense_backprop_input_py(const carray<T>& dy, const carray<T>& kernel,
                                   const py::object& out_arr) {
  check_2d(dy, "dense_backprop_input", "dy");
  check_2d(kernel, "dense_backprop_input", "kernel");
  const int64_t M = dy.shape(0), out = dy.shape(1), in = kernel.shape(0);
  CNNEXT_CHECK(kernel.shape(1) == out, "dense_backprop_input: kernel shape ",
               shape_str(shape_of(kernel)), " does not match dy shape ", shape_str(shape_of(dy)));
  auto dx = out_or_new<T>(out_arr, {M, in}, "dense_backprop_input");
  const T *dyp = dy.data(), *kp = kernel.data();
  T* dxp = dx.mutable_data();
  {
    py::gil_scoped_release nogil;
    dense_backprop_input<T>(dyp, kp, dxp, M, in, out);
  }
  return std::move(dx);
}

template <class T>
py::object dense_backprop_kernel_py(const carray<T>& x, const carray<T>& dy,
                                    const py::object& out_arr) {
  check_2d(x, "dense_backprop_kernel", "x");
  check_2d(dy, "dense_backprop_kernel", "dy");
  const int64_t M = x.shape(0), in = x.shape(1), out = dy.shape(1);
  CNNEXT_CHECK(dy.shape(0) == M, "dense_backprop_kernel: dy shape ", shape_str(shape_of(dy)),
               " does not match x shape ", shape_str(shape_of(x)));
  auto dk = out_or_new<T>(out_arr, {in, out}, "dense_backprop_kernel");
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
        py::arg("out") = py::none());
  m.def("dense", &dense_py<T>, py::arg("x").noconvert(), py::arg("kernel").noconvert(),
        py::arg("bias").noconvert() = py::none(), py::arg("activation") = 0,
        py::arg("out") = py::none());
  m.def("dense_backprop_input", &dense_backprop_input_py<T>, py::arg("dy").noconvert(),
        py::arg("kernel").noconvert(), py::arg("out") = py::none());
  m.def("dense_backprop_kernel", &dense_backprop_kernel_py<T>, py::arg("x").noconvert(),
        py::arg("dy").noconvert(), py::arg("out") = py::none());
  m.def("dense_backprop_bias", &dense_backprop_bias_py<T>, py::arg("dy").noconvert());
}

}  // namespace

void bind_dense(py::module_& m) {
  bind_dtype<float>(m);
  bind_dtype<double>(m);
}

}  // namespace cnnext
