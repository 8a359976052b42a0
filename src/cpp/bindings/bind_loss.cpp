// Loss bindings, registered from bind_eltwise (module.cpp calls bind_eltwise only).
#include "bindings/array.h"
#include "ops/loss.h"

namespace cnnext {
namespace {

// The per-sample loss has y_pred's shape without its last axis.
std::vector<int64_t> batch_shape(const std::vector<int64_t>& pred, const char* name) {
  CNNEXT_CHECK(!pred.empty(), name, ": expected y_pred with at least 1 dimension, but got shape ()");
  return std::vector<int64_t>(pred.begin(), pred.end() - 1);
}

template <class T>
py::object result(carray<T>& loss, carray<T>& grad, bool return_grad) {
  if (!return_grad) return std::move(loss);
  return py::make_tuple(loss, grad);
}

template <class T>
py::object dense_py(Loss kind, const char* name, const carray<T>& y_true, const carray<T>& y_pred,
                    bool from_logits, bool return_grad) {
  const auto shape = shape_of(y_pred);
  CNNEXT_CHECK(shape_of(y_true) == shape, name, ": y_true shape ", shape_str(shape_of(y_true)),
               " must equal y_pred shape ", shape_str(shape));
  auto loss = new_array<T>(batch_shape(shape, name));
  auto grad = return_grad ? new_array<T>(shape) : carray<T>();
  const int64_t k = shape.back(), rows = loss.size();
  const T *yp = y_true.data(), *pp = y_pred.data();
  T* lp = loss.mutable_data();
  T* gp = return_grad ? grad.mutable_data() : nullptr;
  {
    py::gil_scoped_release nogil;
    dense_loss(kind, from_logits, yp, pp, lp, gp, rows, k);
  }
  return result(loss, grad, return_grad);
}

template <class T>
py::object sparse_py(const carray<int64_t>& labels, const carray<T>& y_pred, bool from_logits,
                     bool return_grad) {
  const char* name = "sparse_categorical_crossentropy";
  const auto shape = shape_of(y_pred);
  const auto bshape = batch_shape(shape, name);
  CNNEXT_CHECK(shape_of(labels) == bshape, name, ": y_true shape ", shape_str(shape_of(labels)),
               " must equal y_pred shape without its last axis ", shape_str(bshape));
  auto loss = new_array<T>(bshape);
  auto grad = return_grad ? new_array<T>(shape) : carray<T>();
  const int64_t k = shape.back(), rows = loss.size();
  const int64_t* lab = labels.data();
  const T* pp = y_pred.data();
  T* lp = loss.mutable_data();
  T* gp = return_grad ? grad.mutable_data() : nullptr;
  {
    py::gil_scoped_release nogil;
    sparse_categorical_crossentropy(from_logits, lab, pp, lp, gp, rows, k);
  }
  return result(loss, grad, return_grad);
}

template <class T>
void bind_dtype(py::module_& m) {
  auto def_dense = [&](const char* name, Loss kind) {
    m.def(name,
          [kind, name](const carray<T>& y, const carray<T>& p, bool from_logits, bool return_grad) {
            return dense_py(kind, name, y, p, from_logits, return_grad);
          },
          py::arg("y_true").noconvert(), py::arg("y_pred").noconvert(),
          py::arg("from_logits") = false, py::arg("return_grad") = false);
  };
  def_dense("binary_crossentropy", Loss::binary_crossentropy);
  def_dense("categorical_crossentropy", Loss::categorical_crossentropy);
  def_dense("mean_squared_error", Loss::mean_squared_error);
  m.def("_vlog", [](const carray<T>& x) {  // kernel-test hook, see tests/test_losses_ops.py
    auto y = new_array<T>(shape_of(x));
    loss_vlog(x.data(), y.mutable_data(), x.size());
    return y;
  }, py::arg("x").noconvert());
  m.def("sparse_categorical_crossentropy", &sparse_py<T>, py::arg("y_true").noconvert(),
        py::arg("y_pred").noconvert(), py::arg("from_logits") = false,
        py::arg("return_grad") = false);
}

}  // namespace

void bind_loss(py::module_& m) {
  bind_dtype<float>(m);
  bind_dtype<double>(m);
}

}  // namespace cnnext
