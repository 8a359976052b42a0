#include "bindings/bindings.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "cnnext C++ kernels (SIMD + OpenMP). Use the Python API in cnnext.ops / cnnext.layers.";
  cnnext::bind_config(m);
  cnnext::bind_eltwise(m);
  cnnext::bind_pooling(m);
  cnnext::bind_conv(m);
  cnnext::bind_conv_pool(m);
  cnnext::bind_dense(m);
  cnnext::bind_signal(m);
  cnnext::bind_optim(m);
  cnnext::bind_norm(m);
}
