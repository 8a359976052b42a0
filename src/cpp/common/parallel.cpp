#include "common/parallel.h"

#include <atomic>

#if defined(CNNEXT_OPENMP) && (defined(__unix__) || defined(__APPLE__))
#include <pthread.h>
#endif

namespace cnnext {
namespace {
std::atomic<int> g_user_threads{0};  // 0: not set, follow OpenMP's limit
#if defined(CNNEXT_OPENMP)
const int g_default_omp_threads = omp_get_max_threads();  // OMP_NUM_THREADS or the core count
std::atomic<bool> g_team_started{false};
std::atomic<bool> g_serial_after_fork{false};
#if defined(__unix__) || defined(__APPLE__)
// GNU libgomp keeps its pool threads across fork() in name only: in the child they do not exist,
// and the next parallel region waits for them forever. A child forked after any team ran therefore
// stays single-threaded (parallel_for never opens a region there), as do its own children.
void on_fork_child() {
  if (g_team_started.load(std::memory_order_relaxed))
    g_serial_after_fork.store(true, std::memory_order_relaxed);
}
[[maybe_unused]] const bool g_atfork_registered =
    pthread_atfork(nullptr, nullptr, on_fork_child) == 0;
#endif
#endif
}

void note_team_started() {
#if defined(CNNEXT_OPENMP)
  if (!g_team_started.load(std::memory_order_relaxed))
    g_team_started.store(true, std::memory_order_relaxed);
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
  if (g_serial_after_fork.load(std::memory_order_relaxed)) return 1;
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
