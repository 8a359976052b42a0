// Fused optimizer steps over lists of arrays. Every array is used in place, exactly as given
// (float32/float64, C-contiguous, the state arrays writeable): a converted copy would silently
// drop the update, so anything else is an error, never a conversion.
#include <string>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/optim.h"

namespace cnnext {
namespace {

// One list argument: its Python name, the sequence (None when the optimizer does not use it), and
// whether the kernel writes into its arrays.
struct ListArg {
  const char* name;
  py::object seq;
  bool writes;
};

std::string item_name(const ListArg& l, size_t i) {
  return std::string("`") + l.name + "[" + std::to_string(i) + "]`";
}

template <class T>
T* checked_ptr(const char* op, const ListArg& l, size_t i, const py::object& obj,
               const std::vector<int64_t>& shape) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string(op) + ": " + item_name(l, i) + " must be a numpy.ndarray, but got " +
                         std::string(Py_TYPE(obj.ptr())->tp_name));
  py::array a = py::reinterpret_borrow<py::array>(obj);
  if (!a.dtype().is(py::dtype::of<T>()))
    throw py::type_error(std::string(op) + ": " + item_name(l, i) + " must have dtype " +
                         std::string(py::str(py::dtype::of<T>())) + " like `params[0]`, but got " +
                         std::string(py::str(a.dtype())));
  if (shape_of(a) != shape)
    fail(op, ": ", item_name(l, i), " must have shape ", shape_str(shape), " like `params[", i,
         "]`, but got ", shape_str(shape_of(a)));
  if (!(a.flags() & py::array::c_style))
    fail(op, ": ", item_name(l, i), " must be C-contiguous (it is used in place)");
  if (l.writes && !a.writeable()) fail(op, ": ", item_name(l, i), " is read-only");
  // const_cast: read-only grads are fine, the kernels only read them (checked above for the rest).
  return const_cast<T*>(static_cast<const T*>(a.data()));
}

// Checks every list and gathers raw pointers; `keep` holds references to the arrays so they
// outlive the GIL-free update even if the caller's lists change meanwhile.
template <class T>
std::vector<OptimTensor<T>> collect(const char* op, const std::vector<ListArg>& lists,
                                    std::vector<py::object>& keep) {
  const py::sequence params = lists[0].seq;
  const size_t n = params.size();
  std::vector<OptimTensor<T>> ts(n);
  for (size_t i = 0; i < n; ++i) {
    py::object p = params[i];
    const std::vector<int64_t> shape =
        py::isinstance<py::array>(p) ? shape_of(p.cast<py::array>()) : std::vector<int64_t>{};
    T* ptrs[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
    for (size_t l = 0; l < lists.size(); ++l) {
      if (lists[l].seq.is_none()) continue;
      py::object a = l == 0 ? p : py::object(lists[l].seq.cast<py::sequence>()[i]);
      ptrs[l] = checked_ptr<T>(op, lists[l], i, a, shape);
      keep.push_back(std::move(a));
    }
    ts[i] = {ptrs[0], ptrs[1], ptrs[2], ptrs[3], ptrs[4], checked_numel(shape)};
  }
  return ts;
}

// Validates list lengths and the dtype of params[0], then runs update<T>(tensors) without the GIL.
template <class Update>
void run(const char* op, const std::vector<ListArg>& lists, const Update& update) {
  const size_t n = lists[0].seq.cast<py::sequence>().size();
  for (size_t l = 1; l < lists.size(); ++l) {
    if (lists[l].seq.is_none()) continue;
    const size_t m = lists[l].seq.cast<py::sequence>().size();
    if (m != n)
      fail(op, ": `", lists[l].name, "` must hold one array per parameter (", n, "), but got ", m);
  }
  if (n == 0) return;
  py::object p0 = lists[0].seq.cast<py::sequence>()[0];
  std::vector<py::object> keep;
  if (py::isinstance<py::array>(p0) && p0.cast<py::array>().dtype().is(py::dtype::of<float>())) {
    auto ts = collect<float>(op, lists, keep);
    py::gil_scoped_release nogil;
    update(ts);
  } else if (py::isinstance<py::array>(p0) && p0.cast<py::array>().dtype().is(py::dtype::of<double>())) {
    auto ts = collect<double>(op, lists, keep);
    py::gil_scoped_release nogil;
    update(ts);
  } else {
    const std::string got = py::isinstance<py::array>(p0)
                                ? "dtype " + std::string(py::str(p0.cast<py::array>().dtype()))
                                : std::string(Py_TYPE(p0.ptr())->tp_name);
    throw py::type_error(std::string(op) +
                         ": `params[0]` must be a numpy.ndarray of dtype float32 or float64, but got " +
                         got);
  }
}

void adam_py(py::object params, py::object grads, py::object ms, py::object vs, py::object vhats,
             double alpha, double one_minus_beta_1, double one_minus_beta_2, double epsilon) {
  const AdamArgs a{alpha, one_minus_beta_1, one_minus_beta_2, epsilon};
  run("adam_update",
      {{"params", params, true}, {"grads", grads, false}, {"ms", ms, true}, {"vs", vs, true},
       {"vhats", vhats, true}},
      [&](const auto& ts) { adam_update(ts, a); });
}

void sgd_py(py::object params, py::object grads, py::object momentums, double learning_rate,
            double momentum, bool nesterov) {
  const SgdArgs a{learning_rate, momentum, nesterov};
  run("sgd_update", {{"params", params, true}, {"grads", grads, false}, {"momentums", momentums, true}},
      [&](const auto& ts) { sgd_update(ts, a); });
}

void rmsprop_py(py::object params, py::object grads, py::object velocities, py::object momentums,
                py::object average_grads, double learning_rate, double rho, double one_minus_rho,
                double epsilon, double momentum) {
  const RmspropArgs a{learning_rate, rho, one_minus_rho, epsilon, momentum};
  run("rmsprop_update",
      {{"params", params, true}, {"grads", grads, false}, {"velocities", velocities, true},
       {"momentums", momentums, true}, {"average_grads", average_grads, true}},
      [&](const auto& ts) { rmsprop_update(ts, a); });
}

}  // namespace

void bind_optim(py::module_& m) {
  m.def("adam_update", &adam_py, py::arg("params"), py::arg("grads"), py::arg("ms"), py::arg("vs"),
        py::arg("vhats"), py::arg("alpha"), py::arg("one_minus_beta_1"), py::arg("one_minus_beta_2"),
        py::arg("epsilon"));
  m.def("sgd_update", &sgd_py, py::arg("params"), py::arg("grads"), py::arg("momentums"),
        py::arg("learning_rate"), py::arg("momentum"), py::arg("nesterov"));
  m.def("rmsprop_update", &rmsprop_py, py::arg("params"), py::arg("grads"), py::arg("velocities"),
        py::arg("momentums"), py::arg("average_grads"), py::arg("learning_rate"), py::arg("rho"),
        py::arg("one_minus_rho"), py::arg("epsilon"), py::arg("momentum"));
}

}  // namespace cnnext
