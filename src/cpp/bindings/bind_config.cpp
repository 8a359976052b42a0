#include <pybind11/stl.h>

#include "bindings/bindings.h"
#include "common/cpu.h"
#include "common/parallel.h"

namespace cnnext {
namespace py = pybind11;

void bind_config(py::module_& m) {
  m.attr("__version__") = CNNEXT_VERSION;
  m.def("detected_isa", [] { return std::string(isa_name(detected_isa())); },
        "Best kernel ISA level this CPU and build support.");
  m.def("active_isa", [] { return std::string(isa_name(active_isa())); },
        "Kernel ISA level ops dispatch to now.");
  m.def("set_isa", [](const std::string& name) { set_active_isa(isa_from_name(name)); },
        py::arg("name"), "Force an ISA level at or below detected_isa() (tests, benchmarks).");
  m.def("compiled_isas", [] {
    std::vector<std::string> out;
    for (Isa isa : compiled_isas()) out.emplace_back(isa_name(isa));
    return out;
  });
  m.def("supported_isas", [] {
    std::vector<std::string> out;
    for (Isa isa : supported_isas()) out.emplace_back(isa_name(isa));
    return out;
  });
  m.def("get_num_threads", &get_num_threads);
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("openmp_enabled", &openmp_enabled);
}

}  // namespace cnnext
