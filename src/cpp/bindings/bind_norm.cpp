// Batch normalization (channels on the last axis) and dropout's masked scale.
#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/norm.h"

namespace cnnext {
namespace {

struct RowsC {
  int64_t rows = 1, c = 1;
};

template <class T>
RowsC split_last(const carray<T>& x, const char* op) {
  CNNEXT_CHECK(x.ndim() >= 1, op, ": expected an input with a channel (last) axis, but got a "
               "0-D array");
  RowsC s;
  s.c = x.shape(x.ndim() - 1);
  for (py::ssize_t i = 0; i + 1 < x.ndim(); ++i) s.rows *= x.shape(i);
  CNNEXT_CHECK(s.c >= 1, op, ": expected at least one channel, but got shape ",
               shape_str(shape_of(x)));
  return s;
}

template <class T>
void check_channel_vec(const carray<T>& v, const char* name, int64_t c, const char* op) {
  CNNEXT_CHECK(v.ndim() == 1 && v.shape(0) == c, op, ": `", name, "` must have shape (", c,
               ",), but got ", shape_str(shape_of(v)));
}

template <class T>
py::tuple forward_train_py(const carray<T>& x, const carray<T>& gamma, const carray<T>& beta,
                           double epsilon) {
  const char* op = "batch_norm_forward_train";
  const RowsC s = split_last(x, op);
  check_channel_vec(gamma, "gamma", s.c, op);
  check_channel_vec(beta, "beta", s.c, op);
  auto y = new_array<T>(shape_of(x));
  auto mean = new_array<T>({s.c}), var = new_array<T>({s.c}), inv = new_array<T>({s.c});
  const T *xp = x.data(), *gp = gamma.data(), *bp = beta.data();
  T *yp = y.mutable_data(), *mp = mean.mutable_data(), *vp = var.mutable_data(),
    *ip = inv.mutable_data();
  {
    py::gil_scoped_release nogil;
    batch_norm_forward_train(xp, s.rows, s.c, gp, bp, epsilon, yp, mp, vp, ip);
  }
  return py::make_tuple(y, mean, var, inv);
}

template <class T>
carray<T> forward_infer_py(const carray<T>& x, const carray<T>& gamma, const carray<T>& beta,
                           const carray<T>& mm, const carray<T>& mv, double epsilon) {
  const char* op = "batch_norm_forward_infer";
  const RowsC s = split_last(x, op);
  check_channel_vec(gamma, "gamma", s.c, op);
  check_channel_vec(beta, "beta", s.c, op);
  check_channel_vec(mm, "moving_mean", s.c, op);
  check_channel_vec(mv, "moving_variance", s.c, op);
  auto y = new_array<T>(shape_of(x));
  const T *xp = x.data(), *gp = gamma.data(), *bp = beta.data(), *mmp = mm.data(),
          *mvp = mv.data();
  T* yp = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    batch_norm_forward_infer(xp, s.rows, s.c, gp, bp, mmp, mvp, epsilon, yp);
  }
  return y;
}

template <class T>
py::tuple backward_py(const carray<T>& dy, const carray<T>& x, const carray<T>& gamma,
                      const carray<T>& mean, const carray<T>& inv_std, bool batch_stats) {
  const char* op = "batch_norm_backward";
  CNNEXT_CHECK(shape_of(dy) == shape_of(x), op, ": dy shape ", shape_str(shape_of(dy)),
               " must equal x shape ", shape_str(shape_of(x)));
  const RowsC s = split_last(x, op);
  check_channel_vec(gamma, "gamma", s.c, op);
  check_channel_vec(mean, "mean", s.c, op);
  check_channel_vec(inv_std, "inv_std", s.c, op);
  auto dx = new_array<T>(shape_of(x));
  auto dgamma = new_array<T>({s.c}), dbeta = new_array<T>({s.c});
  const T *dyp = dy.data(), *xp = x.data(), *gp = gamma.data(), *mp = mean.data(),
          *ip = inv_std.data();
  T *dxp = dx.mutable_data(), *dgp = dgamma.mutable_data(), *dbp = dbeta.mutable_data();
  {
    py::gil_scoped_release nogil;
    batch_norm_backward(dyp, xp, s.rows, s.c, gp, mp, ip, batch_stats, dxp, dgp, dbp);
  }
  return py::make_tuple(dx, dgamma, dbeta);
}

template <class T>
carray<T> dropout_py(const carray<T>& x, const carray<uint8_t>& mask, double scale) {
  CNNEXT_CHECK(shape_of(x) == shape_of(mask), "dropout_apply: mask shape ",
               shape_str(shape_of(mask)), " must equal x shape ", shape_str(shape_of(x)));
  auto y = new_array<T>(shape_of(x));
  const T* xp = x.data();
  const uint8_t* mp = mask.data();
  T* yp = y.mutable_data();
  const int64_t n = x.size();
  {
    py::gil_scoped_release nogil;
    dropout_apply(xp, mp, T(scale), yp, n);
  }
  return y;
}

template <class T>
void bind_dtype(py::module_& m) {
  m.def("batch_norm_forward_train", &forward_train_py<T>, py::arg("x").noconvert(),
        py::arg("gamma").noconvert(), py::arg("beta").noconvert(), py::arg("epsilon"));
  m.def("batch_norm_forward_infer", &forward_infer_py<T>, py::arg("x").noconvert(),
        py::arg("gamma").noconvert(), py::arg("beta").noconvert(),
        py::arg("moving_mean").noconvert(), py::arg("moving_variance").noconvert(),
        py::arg("epsilon"));
  m.def("batch_norm_backward", &backward_py<T>, py::arg("dy").noconvert(),
        py::arg("x").noconvert(), py::arg("gamma").noconvert(), py::arg("mean").noconvert(),
        py::arg("inv_std").noconvert(), py::arg("batch_stats"));
  m.def("dropout_apply", &dropout_py<T>, py::arg("x").noconvert(), py::arg("mask").noconvert(),
        py::arg("scale"));
}

}  // namespace

void bind_norm(py::module_& m) {
  bind_dtype<float>(m);
  bind_dtype<double>(m);
}

}  // namespace cnnext
