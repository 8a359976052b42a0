#include "ops/norm.h"

#include <cmath>
#include <vector>

#include "common/check.h"
#include "common/parallel.h"
#include "kernels/norm/norm.h"

namespace cnnext {
namespace {

// Elements per reduction chunk (the chunk is a whole number of rows, at least one): fixed by c
// alone, never by the thread count. ~16K elements is a few microseconds of work per chunk.
constexpr int64_t kChunkElems = 16 * 1024;
constexpr int64_t kGrain = 64 * 1024;  // elements per thread at least for the elementwise passes

template <class T>
const NormKernelsT<T>& kernels() {
  if constexpr (sizeof(T) == 4) return norm_kernels().f32;
  else return norm_kernels().f64;
}

int64_t chunk_rows(int64_t c) { return kChunkElems / c > 0 ? kChunkElems / c : 1; }

// Per-channel column sums over rows, `nsums` sums per chunk computed by fn(chunk_lo, chunk_hi,
// partials), reduced in chunk order into out[k * c + j].
template <class F>
void chunked_col_sums(int64_t rows, int64_t c, int nsums, std::vector<double>& out, const F& fn) {
  const int64_t cr = chunk_rows(c);
  const int64_t nchunks = (rows + cr - 1) / cr;
  const int64_t width = nsums * c;
  std::vector<double> part(static_cast<size_t>(checked_mul(nchunks, width, "batch_norm")), 0.0);
  parallel_chunks(0, rows, cr, [&](int64_t ci, int64_t lo, int64_t hi) {
    fn(lo, hi, part.data() + ci * width);
  });
  out.assign(static_cast<size_t>(width), 0.0);
  for (int64_t ci = 0; ci < nchunks; ++ci)
    for (int64_t k = 0; k < width; ++k) out[k] += part[ci * width + k];
}

template <class F>
void over_rows(int64_t rows, int64_t c, const F& fn) {
  parallel_for(0, rows, kGrain / c + 1, fn);
}

void check_sizes(int64_t rows, int64_t c, const char* op) {
  CNNEXT_CHECK(rows >= 0 && c >= 1, op, ": expected at least one channel, but got c=", c);
}

}  // namespace

template <class T>
void batch_norm_forward_train(const T* x, int64_t rows, int64_t c, const T* gamma, const T* beta,
                              double epsilon, T* y, T* mean, T* var, T* inv_std) {
  const char* op = "batch_norm_forward_train";
  check_sizes(rows, c, op);
  CNNEXT_CHECK(rows >= 1, op, ": expected at least one row to take batch statistics over");
  CNNEXT_CHECK(epsilon > 0, op, ": epsilon must be positive, but got ", epsilon);
  const auto& k = kernels<T>();
  std::vector<double> s, m(c), q;
  chunked_col_sums(rows, c, 1, s, [&](int64_t lo, int64_t hi, double* p) {
    k.col_sum(x + lo * c, hi - lo, c, p);
  });
  for (int64_t j = 0; j < c; ++j) m[j] = s[j] / double(rows);
  chunked_col_sums(rows, c, 1, q, [&](int64_t lo, int64_t hi, double* p) {
    k.col_sqdev(x + lo * c, m.data(), hi - lo, c, p);
  });
  std::vector<T> shift(c), scale(c);
  for (int64_t j = 0; j < c; ++j) {
    const double v = q[j] / double(rows), inv = 1.0 / std::sqrt(v + epsilon);
    mean[j] = T(m[j]);
    var[j] = T(v);
    inv_std[j] = T(inv);
    shift[j] = T(m[j]);
    scale[j] = T(double(gamma[j]) * inv);
  }
  over_rows(rows, c, [&](int64_t lo, int64_t hi) {
    k.affine(x + lo * c, shift.data(), scale.data(), beta, y + lo * c, hi - lo, c);
  });
}

template <class T>
void batch_norm_forward_infer(const T* x, int64_t rows, int64_t c, const T* gamma, const T* beta,
                              const T* moving_mean, const T* moving_variance, double epsilon,
                              T* y) {
  const char* op = "batch_norm_forward_infer";
  check_sizes(rows, c, op);
  CNNEXT_CHECK(epsilon > 0, op, ": epsilon must be positive, but got ", epsilon);
  std::vector<T> scale(c);
  for (int64_t j = 0; j < c; ++j)
    scale[j] = T(double(gamma[j]) / std::sqrt(double(moving_variance[j]) + epsilon));
  const auto& k = kernels<T>();
  over_rows(rows, c, [&](int64_t lo, int64_t hi) {
    k.affine(x + lo * c, moving_mean, scale.data(), beta, y + lo * c, hi - lo, c);
  });
}

template <class T>
void batch_norm_backward(const T* dy, const T* x, int64_t rows, int64_t c, const T* gamma,
                         const T* mean, const T* inv_std, bool batch_stats, T* dx, T* dgamma,
                         T* dbeta) {
  check_sizes(rows, c, "batch_norm_backward");
  const auto& k = kernels<T>();
  std::vector<double> md(c), sums;
  for (int64_t j = 0; j < c; ++j) md[j] = double(mean[j]);
  chunked_col_sums(rows, c, 2, sums, [&](int64_t lo, int64_t hi, double* p) {
    k.col_backward_sums(dy + lo * c, x + lo * c, md.data(), hi - lo, c, p, p + c);
  });
  std::vector<T> a(c), b(c), d(c);
  const double n = rows > 0 ? double(rows) : 1.0;
  for (int64_t j = 0; j < c; ++j) {
    const double inv = double(inv_std[j]), g = double(gamma[j]);
    const double sdy = sums[j], dg = sums[c + j] * inv;
    dbeta[j] = T(sdy);
    dgamma[j] = T(dg);
    a[j] = T(g * inv);
    b[j] = batch_stats ? T(-g * inv * inv * dg / n) : T(0);
    d[j] = batch_stats ? T(-g * inv * sdy / n) : T(0);
  }
  if (!batch_stats) {  // dx = gamma * inv_std * dy: x and mean take no part (a NaN there stays out)
    const std::vector<T> zero(c, T(0));
    over_rows(rows, c, [&](int64_t lo, int64_t hi) {
      k.affine(dy + lo * c, zero.data(), a.data(), zero.data(), dx + lo * c, hi - lo, c);
    });
  } else {
    over_rows(rows, c, [&](int64_t lo, int64_t hi) {
      k.backward_dx(dy + lo * c, x + lo * c, mean, a.data(), b.data(), d.data(), dx + lo * c,
                    hi - lo, c);
    });
  }
  // The factored form above (inv_std pulled out of the sums) equals the documented formula for
  // finite values only; a channel holding inf or NaN is recomputed term by term as written, so
  // NaN and inf land where NumPy's formula puts them (dgamma = sum(dy * xhat) = 0 for no rows).
  for (int64_t j = 0; j < c; ++j) {
    const double inv = double(inv_std[j]), g = double(gamma[j]);
    if (std::isfinite(inv) && std::isfinite(g) && std::isfinite(md[j]) && std::isfinite(sums[j]) &&
        std::isfinite(sums[c + j]))
      continue;
    double dg = 0.0;
    for (int64_t r = 0; r < rows; ++r)
      dg += double(dy[r * c + j]) * ((double(x[r * c + j]) - md[j]) * inv);
    dgamma[j] = T(dg);
    if (!batch_stats) continue;
    const double sdy = sums[j];
    for (int64_t r = 0; r < rows; ++r) {
      const double xhat = (double(x[r * c + j]) - md[j]) * inv;
      dx[r * c + j] = T(g * inv * (double(dy[r * c + j]) - sdy / n - xhat * dg / n));
    }
  }
}

template <class T>
void dropout_apply(const T* x, const uint8_t* mask, T scale, T* y, int64_t n) {
  const auto& k = kernels<T>();
  parallel_for(0, n, kGrain * 2, [&](int64_t lo, int64_t hi) {
    k.dropout(x + lo, mask + lo, scale, y + lo, hi - lo);
  });
}

#define CNNEXT_INSTANTIATE(T)                                                                      \
  template void batch_norm_forward_train<T>(const T*, int64_t, int64_t, const T*, const T*,       \
                                            double, T*, T*, T*, T*);                               \
  template void batch_norm_forward_infer<T>(const T*, int64_t, int64_t, const T*, const T*,       \
                                            const T*, const T*, double, T*);                       \
  template void batch_norm_backward<T>(const T*, const T*, int64_t, int64_t, const T*, const T*,  \
                                       const T*, bool, T*, T*, T*);                                \
  template void dropout_apply<T>(const T*, const uint8_t*, T, T*, int64_t);
CNNEXT_INSTANTIATE(float)
CNNEXT_INSTANTIATE(double)
#undef CNNEXT_INSTANTIATE

}  // namespace cnnext
