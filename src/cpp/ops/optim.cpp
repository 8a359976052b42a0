#include "ops/optim.h"

#include "common/parallel.h"

namespace cnnext {
namespace {

// Elements per work item: large enough that a thread's share streams through whole cache lines
// of each array, small enough that a 100k-parameter model still splits across threads.
constexpr int64_t kChunk = 8192;
// Elements per thread at least: below this a parallel region costs more than it saves (a region
// opens in about 0.5 us on 2 cores; one thread streams about 8k Adam elements in ~3 us). Low, so
// that on many cores the update splits as widely as the gradients it reads were produced: with
// 32k (at most 6 of 16 threads for the seed model's 224k parameters) the step's Adam took 481 us
// at 16 threads on a 16-core Xeon, 3x its time at 4.
constexpr int64_t kMinPerThread = 8 * 1024;

template <class T>
const OptimKernelsT<T>& kernels() {
  if constexpr (sizeof(T) == 4) return optim_kernels().f32;
  else return optim_kernels().f64;
}

struct Item {
  int64_t tensor, lo, hi;
};

// Every tensor cut at fixed multiples of kChunk, then fn(tensor, lo, hi) run over the items.
template <class T, class F>
void for_each_chunk(const std::vector<OptimTensor<T>>& ts, const F& fn) {
  std::vector<Item> items;
  int64_t total = 0;
  for (size_t t = 0; t < ts.size(); ++t) {
    total += ts[t].n;
    for (int64_t lo = 0; lo < ts[t].n; lo += kChunk)
      items.push_back({int64_t(t), lo, lo + kChunk < ts[t].n ? lo + kChunk : ts[t].n});
  }
  const int64_t n_items = int64_t(items.size());
  if (n_items == 0) return;
  // Grain in items such that each thread gets about kMinPerThread elements or more.
  const int64_t max_threads = total / kMinPerThread;
  const int64_t grain = max_threads >= 2 ? (n_items + max_threads - 1) / max_threads : n_items;
  parallel_for(0, n_items, grain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) fn(ts[items[i].tensor], items[i].lo, items[i].hi);
  });
}

template <class U>
U* at(U* p, int64_t lo) {
  return p ? p + lo : nullptr;
}

}  // namespace

template <class T>
void adam_update(const std::vector<OptimTensor<T>>& ts, const AdamArgs& a) {
  const auto& k = kernels<T>();
  for_each_chunk(ts, [&](const OptimTensor<T>& t, int64_t lo, int64_t hi) {
    k.adam(t.param + lo, t.grad + lo, t.s1 + lo, t.s2 + lo, at(t.s3, lo), hi - lo, a);
  });
}

template <class T>
void sgd_update(const std::vector<OptimTensor<T>>& ts, const SgdArgs& a) {
  const auto& k = kernels<T>();
  for_each_chunk(ts, [&](const OptimTensor<T>& t, int64_t lo, int64_t hi) {
    k.sgd(t.param + lo, t.grad + lo, at(t.s1, lo), hi - lo, a);
  });
}

template <class T>
void rmsprop_update(const std::vector<OptimTensor<T>>& ts, const RmspropArgs& a) {
  const auto& k = kernels<T>();
  for_each_chunk(ts, [&](const OptimTensor<T>& t, int64_t lo, int64_t hi) {
    k.rmsprop(t.param + lo, t.grad + lo, t.s1 + lo, at(t.s2, lo), at(t.s3, lo), hi - lo, a);
  });
}

#define CNNEXT_INSTANTIATE(T)                                                     \
  template void adam_update<T>(const std::vector<OptimTensor<T>>&, const AdamArgs&); \
  template void sgd_update<T>(const std::vector<OptimTensor<T>>&, const SgdArgs&);   \
  template void rmsprop_update<T>(const std::vector<OptimTensor<T>>&, const RmspropArgs&);
CNNEXT_INSTANTIATE(float)
CNNEXT_INSTANTIATE(double)
#undef CNNEXT_INSTANTIATE

}  // namespace cnnext
