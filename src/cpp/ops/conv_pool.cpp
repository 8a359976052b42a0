#include "ops/conv_pool.h"

#include <cstring>
#include <memory>

#include "common/check.h"
#include "common/parallel.h"
#include "kernels/conv_pool/conv_pool.h"
#include "kernels/eltwise/eltwise.h"
#include "kernels/pooling/pooling.h"
#include "kernels/winograd/winograd.h"
#include "ops/conv.h"
#include "ops/conv_internal.h"
#include "ops/pooling.h"

namespace cnnext {
namespace {

constexpr int64_t kBandBytes = 16 * 1024;      // backward: masked pooled rows per band (L1)

// The conv rows [oh0, oh0 + rows) x columns [0, ow) of image 0 of a geometry whose input starts
// at image n: the direct kernels then write (or read) exactly a band of rows x ow pixels.
ConvGeom band_geom(const ConvGeom& g, int64_t oh0, int64_t rows, int64_t ow) {
  ConvGeom s = g;
  s.N = 1, s.OH = rows, s.OW = ow;
  s.pt = g.pt - oh0 * g.sh;
  return s;
}

// d_pooled masked by the activation for n pooled pixels from element offset o: relu_backward
// (d_pooled * (pooled > 0), so inf or NaN where pooled <= 0 gives NaN) into m, or d_pooled itself.
template <class T>
const T* masked(Act act, const T* d_pooled, const T* pooled, int64_t o, int64_t n, T* m) {
  if (act == Act::linear) return d_pooled + o;
  eltwise_kernels_for<T>().relu_backward(d_pooled + o, pooled + o, m, n);
  return m;
}

// db[f] += sum over the n rows of a (n, F), row by row.
template <class T>
void add_rows(const T* __restrict a, int64_t n, int64_t F, T* __restrict db) {
  for (int64_t p = 0; p < n; ++p)
    for (int64_t f = 0; f < F; ++f) db[f] += a[p * F + f];
}

// Where d_pooled holds inf or NaN and conv windows reach into the padding: the dense gradient
// in full, then the separate kernel and bias gradients (their own path for non-finite dy).
template <class T>
void backprop_materialised(const ConvGeom& g, Act act, const PoolGeom& pg, const T* x,
                           const T* d_pooled, const T* pooled, const uint8_t* argmax, T* dkernel,
                           T* dbias) {
  const int64_t np = pg.N * pg.OH * pg.OW * pg.C;
  auto m = buffer<T>(act == Act::linear ? 0 : np);
  const T* dm = masked(act, d_pooled, pooled, 0, np, m.get());
  auto dy = buffer<T>(pg.N * pg.H * pg.W * pg.C);
  max_pool2d_backward_argmax(pg, dm, argmax, dy.get());
  conv2d_backprop_kernel(g, x, dy.get(), dkernel);
  conv2d_backprop_bias(dy.get(), g.N * g.OH * g.OW, g.F, dbias);
}

}  // namespace

bool conv_pool_fusable(const ConvGeom& g, int64_t pkh, int64_t pkw, const char** why) {
  const char* reason = nullptr;
  if (!conv2d_uses_direct(g))
    reason = "the convolution does not take the direct (few input channels) path";
  else if (pkh < 1 || pkw < 1 || pkh > 256 || pkw > 256 || pkh * pkw > 256)
    reason = "the pool window must be positive with at most 256 cells";
  else if (g.OH < pkh || g.OW < pkw)
    reason = "the pool window is larger than the convolution output";
  if (why) *why = reason;
  return reason == nullptr;
}

void check_conv_pool(const ConvGeom& g, int64_t pkh, int64_t pkw, const char* op) {
  check_conv_geom(g, op);
  const char* why = nullptr;
  CNNEXT_CHECK(conv_pool_fusable(g, pkh, pkw, &why), op, ": cannot fuse this convolution (C=",
               g.C, ", output ", g.OH, "x", g.OW, ") with pool_size (", pkh, ", ", pkw, "): ", why);
}

template <class T>
void conv2d_max_pool2d(const ConvGeom& g, const T* x, const T* kernel, const T* bias, Act act,
                       int64_t pkh, int64_t pkw, T* pooled, uint8_t* argmax) {
  check_conv_pool(g, pkh, pkw, "conv2d_max_pool2d");
  const int64_t K = g.K(), F = g.F, PH = g.OH / pkh, PW = g.OW / pkw;
  if (g.N == 0 || F == 0) return;
  const PoolGeom pg = pool_geometry({1, pkh, g.OW, F}, pkh, pkw, pkh, pkw, false,
                                    "conv2d_max_pool2d");
  if (!winograd_kernels_for<T>().all_finite(kernel, K * F)) {
    // conv2d_forward may leave the direct path for such a kernel; do exactly what it does.
    auto y = buffer<T>(g.N * g.OH * g.OW * F);
    conv2d_forward(g, x, kernel, bias, act, y.get());
    const PoolGeom full = pool_geometry({g.N, g.OH, g.OW, F}, pkh, pkw, pkh, pkw, false,
                                        "conv2d_max_pool2d");
    if (argmax) max_pool2d_argmax(full, y.get(), pooled, argmax);
    else max_pool2d(full, y.get(), pooled);
    return;
  }
  const auto& ck = conv_kernels_for<T>();
  const auto& pk = pooling_kernels_for<T>();
  auto packed = buffer<T>(ck.direct_packed_size(g));
  ck.direct_pack(g, kernel, bias, packed.get());
  const int64_t band = pkh * g.OW;
  parallel_for(0, g.N * PH, grain_for(saturating_mul(saturating_mul(2 * band, K), F)),
               [&](int64_t i0, int64_t i1) {
    auto rows = buffer<T>(band * F);
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n = i / PH, ph = i % PH, o = i * PW * F;
      ck.direct_conv(band_geom(g, ph * pkh, pkh, g.OW), x + n * g.H * g.W * g.C, packed.get(),
                     act, 0, band, rows.get());
      if (argmax) pk.max_argmax_row_u8(pg, rows.get(), pooled + o, argmax + o, 0);
      else pk.max_row(pg, rows.get(), pooled + o, 0);
    }
  });
}

template <class T>
void conv2d_max_pool2d_backprop_kernel(const ConvGeom& g, Act act, int64_t pkh, int64_t pkw,
                                       const T* x, const T* d_pooled, const T* pooled,
                                       const uint8_t* argmax, T* dkernel, T* dbias) {
  const char* op = "conv2d_max_pool2d_backprop_kernel";
  check_conv_pool(g, pkh, pkw, op);
  CNNEXT_CHECK(act == Act::linear || act == Act::relu, op,
               ": only linear and relu activations are supported, got code ", int(act));
  CNNEXT_CHECK(act == Act::linear || pooled, op, ": relu needs the pooled output");
  const int64_t K = g.K(), F = g.F, KF = K * F, PH = g.OH / pkh, PW = g.OW / pkw;
  if (F == 0) return;
  if (g.N == 0) {
    std::memset(dkernel, 0, sizeof(T) * KF);
    std::memset(dbias, 0, sizeof(T) * F);
    return;
  }
  if (has_padding(g) && !winograd_kernels_for<T>().all_finite(d_pooled, g.N * PH * PW * F)) {
    const PoolGeom full = pool_geometry({g.N, g.OH, g.OW, F}, pkh, pkw, pkh, pkw, false, op);
    return backprop_materialised(g, act, full, x, d_pooled, pooled, argmax, dkernel, dbias);
  }
  const auto& cpk = conv_pool_kernels_for<T>();
  // Bands of band_ph pooled rows share one buffer of masked gradients (relu).
  int64_t band_ph = kBandBytes / (PW * F * int64_t(sizeof(T)));
  band_ph = band_ph < 1 ? 1 : band_ph > PH ? PH : band_ph;
  // Fixed chunks of images, at least kChunkPixels conv output pixels each.
  const int64_t pixels = PH * pkh * PW * pkw;
  const int64_t chunk = reduction_chunk(g.N, (kChunkPixels + pixels - 1) / pixels, KF + F);
  const int64_t nchunks = (g.N + chunk - 1) / chunk, part = KF + F;
  auto partial = buffer<T>(nchunks * part);
  parallel_chunks(0, g.N, chunk, [&](int64_t c, int64_t n0, int64_t n1) {
    T* acc = partial.get() + c * part;
    T* db = acc + KF;
    std::memset(acc, 0, sizeof(T) * part);
    auto m = buffer<T>(act == Act::linear ? 0 : band_ph * PW * F);
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t ph0 = 0; ph0 < PH; ph0 += band_ph) {
        const int64_t ph1 = ph0 + band_ph < PH ? ph0 + band_ph : PH;
        const int64_t o = (n * PH + ph0) * PW * F;
        const T* dm = masked(act, d_pooled, pooled, o, (ph1 - ph0) * PW * F, m.get());
        add_rows(dm, (ph1 - ph0) * PW, F, db);
        cpk.pool_dw(g, pkh, pkw, x + n * g.H * g.W * g.C, dm, argmax + o, ph0, ph1, acc);
      }
    }
  });
  sum_partials(partial.get(), nchunks, part, partial.get());
  std::memcpy(dkernel, partial.get(), sizeof(T) * KF);
  std::memcpy(dbias, partial.get() + KF, sizeof(T) * F);
}

#define CNNEXT_INSTANTIATE(T)                                                                  \
  template void conv2d_max_pool2d<T>(const ConvGeom&, const T*, const T*, const T*, Act,       \
                                     int64_t, int64_t, T*, uint8_t*);                          \
  template void conv2d_max_pool2d_backprop_kernel<T>(const ConvGeom&, Act, int64_t, int64_t,   \
                                                     const T*, const T*, const T*,             \
                                                     const uint8_t*, T*, T*);
CNNEXT_INSTANTIATE(float)
CNNEXT_INSTANTIATE(double)
#undef CNNEXT_INSTANTIATE

}  // namespace cnnext
