#include "common/parallel.h"

#include <atomic>

namespace cnnext {
namespace {
std::atomic<int> g_user_threads{0};  // 0: not set, follow OpenMP's limit
#if defined(CNNEXT_OPENMP)
const int g_default_omp_threads = omp_get_max_threads();  // OMP_NUM_THREADS or the core count
#endif
}

bool openmp_enabled() {
#if defined(CNNEXT_OPENMP)
  return true;
#else
  return false;
#endif
}

int get_num_threads() {
#if defined(CNNEXT_OPENMP)
  int omp = omp_get_max_threads();
  int user = g_user_threads.load(std::memory_order_relaxed);
  int n = (user > 0 && user < omp) ? user : omp;
  return n > 0 ? n : 1;
#else
  return 1;
#endif
}

void set_num_threads(int n) {
  g_user_threads.store(n > 0 ? n : 0, std::memory_order_relaxed);
#if defined(CNNEXT_OPENMP)
  // Also raise/lower the calling thread's OpenMP limit, so a request above OMP_NUM_THREADS works
  // and threadpoolctl sees the value (it reads omp_get_max_threads()).
  omp_set_num_threads(n > 0 ? n : g_default_omp_threads);
#endif
}

}  // namespace cnnext
