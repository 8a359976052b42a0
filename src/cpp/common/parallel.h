// The one way kernels get threads: parallel_for over the outermost independent dimension.
#pragma once
#include <cstdint>
#include <exception>
#include <mutex>

#if defined(CNNEXT_OPENMP)
#include <omp.h>
#endif

namespace cnnext {

// Threads an op may use: cnnext.set_num_threads() if set, capped by the calling thread's OpenMP
// limit (OMP_NUM_THREADS, threadpoolctl). Always >= 1.
int get_num_threads();
void set_num_threads(int n);  // n <= 0 restores the default (OpenMP's own limit)
bool openmp_enabled();
// Records that this process started an OpenMP team: a child fork()ed after that runs ops serially,
// because GNU libgomp's thread pool does not survive fork (the child's next team would hang).
void note_team_started();

// Calls fn(lo, hi) over [begin, end) split into contiguous chunks, one per worker, each at least
// `grain` long (serial when the range is under 2 * grain or only one thread is allowed). The split
// depends on the thread count, so fn must not reduce across chunks in a thread-dependent way:
// deterministic reductions use fixed-size chunks (parallel_chunks). Exceptions thrown by fn are
// rethrown on the calling thread after the region.
//
// The team is always the full thread count, and threads past the `workers` the range needs sit
// the region out: GNU libgomp ends the pool threads a smaller team leaves out, and creates them
// again for the next larger team, so teams sized per op (16, then 6 for Adam, then 16) cost a
// pthread_create per thread and region. Measured on 16 cores: the seed model's training step at
// 16 threads took 6.4 ms with per-op team sizes, slower than at 1 thread (3.8 ms).
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& fn) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const int64_t team = get_num_threads();
  const int64_t workers = team < n / grain ? team : n / grain;
  if (workers <= 1) {
    fn(begin, end);
    return;
  }
#if defined(CNNEXT_OPENMP)
  note_team_started();
  std::exception_ptr error;
  std::mutex error_mu;
#pragma omp parallel num_threads(static_cast<int>(team))
  {
    const int64_t t = omp_get_thread_num();
    const int64_t W = workers < omp_get_num_threads() ? workers : omp_get_num_threads();
    const int64_t lo = begin + n * t / W, hi = begin + n * (t + 1) / W;
    try {
      if (t < W && lo < hi) fn(lo, hi);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
#else
  fn(begin, end);
#endif
}

// Calls fn(chunk_index, lo, hi) for fixed chunks [begin + i*chunk, ...) of `chunk` items each,
// distributed over threads. Chunk boundaries never depend on the thread count, so per-chunk
// partial results reduced in chunk order are bitwise identical for any number of threads.
template <class F>
void parallel_chunks(int64_t begin, int64_t end, int64_t chunk, const F& fn) {
  if (end <= begin) return;
  if (chunk < 1) chunk = 1;
  const int64_t nchunks = (end - begin + chunk - 1) / chunk;
  parallel_for(0, nchunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t lo = begin + c * chunk;
      fn(c, lo, lo + chunk < end ? lo + chunk : end);
    }
  });
}

}  // namespace cnnext
