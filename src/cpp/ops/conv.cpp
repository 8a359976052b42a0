#include "ops/conv.h"

#include <atomic>
#include <cstring>
#include <memory>

#include "common/check.h"
#include "common/parallel.h"
#include "kernels/gemm/gemm.h"
#include "kernels/winograd/winograd.h"
#include "ops/conv_internal.h"

namespace cnnext {
namespace {

constexpr int64_t kTileBytes = 128 * 1024;    // im2col tile: fits L2 beside the packed weights
constexpr int64_t kMaxChunks = 64;            // ... and at most this many partial buffers
constexpr int64_t kMaxPartialElems = int64_t(8) << 20;  // ... holding at most this many values
constexpr int64_t kBiasChunkRows = 4096;      // backprop_bias: min rows per fixed chunk
constexpr int64_t kIgemmTileStrips = 8;       // forward igemm: register strips per work item
constexpr int64_t kIgemmMaxTaps = 1024;       // igemm: pointer workspace per tap and pixel; larger
                                              // kernels (none in practice) keep im2col + GEMM
// Direct kernels up to this many input channels (measured, f32, avx512 and avx2, 1 thread):
// forward: direct 1.3-2x faster than im2col + register-tiled GEMM up to C=8, slower from C=16;
// backprop_kernel: direct 3x faster at C=1, even at C=3, 1.5x slower at C=8;
// backprop_input: direct 1.7x faster at C=1, 1.2-2.5x slower from C=2 (im2col GEMM with N = K).
constexpr int64_t kDirectMaxC = 8;
constexpr int64_t kDirectDwMaxC = 3;
constexpr int64_t kDirectDxMaxC = 1;
constexpr int64_t kDirectDxFastMaxC = 2;  // ... and its row-streaming path (direct_dx_fast)

template <class T>
std::unique_ptr<T[]> zeros(int64_t n) {
  auto b = buffer<T>(n);
  std::memset(b.get(), 0, sizeof(T) * (n > 0 ? n : 1));
  return b;
}

// Output pixels per im2col tile: a multiple of the GEMM's register-tile rows.
template <class T>
int64_t tile_rows(const ConvGeom& g) {
  const int64_t mr = gemm_kernels_for<T>().mr > 0 ? gemm_kernels_for<T>().mr : 1;
  int64_t tm = kTileBytes / (g.K() * int64_t(sizeof(T)));
  if (tm > 1024) tm = 1024;
  tm = tm / mr * mr;
  return tm < mr ? mr : tm;
}

// A 1x1, stride-1, unpadded convolution is a plain GEMM on x: no im2col needed.
bool is_pointwise(const ConvGeom& g) {
  return g.KH == 1 && g.KW == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 &&
         g.OH == g.H && g.OW == g.W;
}

// Few input channels: the im2col GEMM would have K = KH * KW * C too small to feed its register
// tiles, while the direct kernel keeps KH * KW weight vectors hot and broadcasts inputs.
bool use_direct(const ConvGeom& g) {
  return g.C <= kDirectMaxC;
}
bool use_direct_dw(const ConvGeom& g) {
  return g.C <= kDirectDwMaxC;
}
// The direct kernel's row-streaming path (3-wide kernel, stride 1, F a multiple of two vectors
// on every ISA) also beats the im2col GEMM at C = 2 (1.3x, f32, avx512 and avx2; equal at C = 3, 4).
bool direct_dx_fast(const ConvGeom& g) {
  return g.sh == 1 && g.sw == 1 && g.KW == 3 && g.dw == 1 && g.F % 32 == 0;
}
bool use_direct_dx(const ConvGeom& g) {
  return g.C <= kDirectDxMaxC || (g.C <= kDirectDxFastMaxC && direct_dx_fast(g));
}

// Indirect GEMM (kernels/conv/conv_igemm_impl.h): on every vector ISA, for any stride, dilation
// and padding; 1x1 stride-1 convolutions are a plain GEMM on x already.
template <class T>
bool use_igemm(const ConvKernelsT<T>& ck, const ConvGeom& g) {
  return ck.igemm_conv && !is_pointwise(g) && g.KH * g.KW <= kIgemmMaxTaps;
}

// Stride 1 where the flipped-kernel forward convolution (conv2d_backprop_input) multiplies few
// padding zeros: it computes H * W pixels of K taps where the exact work is OH * OW of them, so
// 'valid' on small images (13x13 -> 11x11: 40 % more) stays on the GEMM + col2im path (measured
// f32 avx512, 32 images: 0.78 vs 1.0 ms there; at 56x56 'same' 35 vs 37.5 ms the other way round,
// both with the im2col forward; the igemm forward does not change the choice).
bool dx_as_forward(const ConvGeom& g) {
  return g.sh == 1 && g.sw == 1 && !is_pointwise(g) && g.H * g.W * 8 <= g.OH * g.OW * 9;
}

// The direct kernels skip the taps that fall in the zero padding, while conv's definition (and the
// im2col path, TF and the NumPy oracle) multiplies them: 0 * inf = NaN. So an inf or NaN operand
// that meets the padding (the kernel in the forward pass, dy for the kernel gradient) takes the
// im2col path; finite operands give the same result either way.
template <class T>
bool padding_meets_nonfinite(const ConvGeom& g, const T* p, int64_t n) {
  return has_padding(g) && !winograd_kernels_for<T>().all_finite(p, n);
}

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }
int64_t clamp(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

// backprop_input: input-row bands per image, enough to give every thread ~2 items when the
// batch is small, but bands at least twice the kernel's reach so recomputation stays < ~50 %.
int64_t input_bands(const ConvGeom& g, int64_t threads) {
  if (g.N >= 2 * threads) return 1;
  const int64_t want = (2 * threads + g.N - 1) / g.N;
  int64_t most = g.H / (2 * ((g.KH - 1) * g.dh + 1));
  if (most < 1) most = 1;
  return want < most ? want : most;
}

// 2 * pixels * K * F multiply-adds of one image, saturating (a cost estimate, not an index).
int64_t image_flops(int64_t pixels, int64_t K, int64_t F) {
  return saturating_mul(saturating_mul(2 * pixels, K), F);
}

// Winograd F(m x m, 3x3) (kernels/winograd/winograd.h) for stride-1 undilated 3x3 convolutions
// with enough channels and filters to feed its P = (m + 2)^2 GEMMs (K = C each).
constexpr int64_t kWinogradMinC = 16;
constexpr int64_t kWinogradMinF = 16;
// V + M of one block of F(2x2) tiles: stays in L2 (F(4x4): 36/16 of it, as many tiles per
// block, whose GEMMs would be too short otherwise: 0.9x the time at 13x13, 32 -> 64 channels).
constexpr int64_t kWinogradBlockBytes = 256 * 1024;
constexpr int64_t kWinogradDwBlockBytes = 512 * 1024;  // kernel gradient: longer GEMM K (tiles)
// Transforms held at once where a small problem spreads over more threads than it has blocks of
// tiles (or kernel-gradient chunks): the per-block workspace then becomes one for all blocks.
constexpr int64_t kWinogradWideBytes = 16 << 20;

// Whether `items` blocks (or chunks) holding `bytes` of transforms at once take the wide schedule.
bool winograd_wide(int64_t items, int64_t bytes) {
  return items < get_num_threads() && bytes <= kWinogradWideBytes;
}

bool use_winograd(const ConvGeom& g) {
  return g.KH == 3 && g.KW == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 &&
         g.C >= kWinogradMinC && g.F >= kWinogradMinF;
}

// Tile size m of the Winograd path (0: none), a function of the shape only. F(4x4, 3x3) spends
// 36 GEMM points per 4x4 tile where F(2x2, 3x3) spends 16 per 2x2 tile, but more transform work
// per point and 2.25x the fixed work per call (kernel transform and packing; the kernel
// gradient's partial sums). Measured (f32, avx512, 1 thread, C and F 16..64, outputs 4..56), it
// is faster where its points over the output (edge tiles included) number at most 3/4 of
// F(2x2)'s, the output is at least 7x7 and there are enough tiles in all (128, the kernel
// gradient 256): 0.6-0.9x the time there; 1.0-1.3x at 4x4 outputs, 1.0x at 9x9 (points 0.81),
// up to 1.8x with 32 tiles.
int winograd_tile(const ConvGeom& g, bool kernel_gradient) {
  if (!use_winograd(g)) return 0;
  const int64_t t4 = ((g.OH + 3) / 4) * ((g.OW + 3) / 4);
  const int64_t t2 = ((g.OH + 1) / 2) * ((g.OW + 1) / 2);
  const bool f4 = g.OH >= 7 && g.OW >= 7 && 4 * 36 * t4 <= 3 * 16 * t2 &&
                  g.N * t4 >= (kernel_gradient ? 256 : 128);
  return f4 ? 4 : 2;
}

// Tiles per block: a multiple of the GEMM's register rows, sized so the block's transformed
// input and product (P x tiles x (C + F) values) fit `bytes`. Fixed by the shape alone, so
// results do not depend on the thread count.
template <class T>
int64_t winograd_block(const ConvGeom& g, int m, int64_t bytes = kWinogradBlockBytes) {
  const int64_t mr = gemm_kernels_for<T>().mr > 0 ? gemm_kernels_for<T>().mr : 1;
  int64_t tb = bytes / (winograd_points(m) * (g.C + g.F) * int64_t(sizeof(T)));
  tb = tb / mr * mr;
  return tb < mr ? mr : tb;
}

// all_finite over threads (it gates every Winograd call, serially it cost ~7 % of a batch-32
// forward at two threads): true when none of p[0, n) is NaN or infinite.
template <class T>
bool all_finite_threaded(const T* p, int64_t n) {
  const auto& wk = winograd_kernels_for<T>();
  std::atomic<bool> finite{true};
  parallel_for(0, n, 64 * 1024, [&](int64_t lo, int64_t hi) {
    if (!wk.all_finite(p + lo, hi - lo)) finite.store(false, std::memory_order_relaxed);
  });
  return finite.load();
}

// The kernel transform (U = G g G^T, or dkernel = G^T M G with `grad`) over threads: the C * F
// (c, f) pairs are independent, so any split gives the same bits.
template <class T>
void transform_pairs(const WinogradTransformsT<T>& wt, bool grad, int64_t C, int64_t F,
                     const T* src, T* dst) {
  const int64_t plane = C * F;
  parallel_for(0, plane, 256, [&](int64_t lo, int64_t hi) {
    (grad ? wt.transform_grad : wt.transform_kernel)(plane, hi - lo, src + lo, dst + lo);
  });
}

// Blocks of Winograd tiles [block_begin(b), block_begin(b + 1)): nblocks, a multiple of 4, of
// near-equal runs of whole register strips (mr tiles), at most `most` tiles each. A function of
// the shape only (the same blocks for any thread count), and even: 7 blocks of 42 tiles (288
// tiles, the seed's second conv) would split 4:3 over two threads, 8 blocks of 36 split evenly.
struct TileBlocks {
  int64_t tiles, strips, mr, nblocks, most;
  TileBlocks(int64_t tiles_, int64_t block, int64_t mr_) : tiles(tiles_), mr(mr_) {
    strips = (tiles + mr - 1) / mr;
    nblocks = (tiles + block - 1) / block;
    if (nblocks > 1) nblocks = (nblocks + 3) / 4 * 4;
    if (nblocks > strips) nblocks = strips;
    most = ((strips + nblocks - 1) / nblocks) * mr;
  }
  int64_t begin(int64_t b) const {
    const int64_t t = strips * b / nblocks * mr;
    return t < tiles ? t : tiles;
  }
};

// y = act(conv(x, kernel) + bias) by Winograd F(m x m, 3x3); false (nothing written) when x or
// the kernel holds NaN or inf, whose spread through the transforms would differ from the direct
// sum.
template <class T>
bool conv2d_winograd(const ConvGeom& g, int m, const T* x, const T* kernel, const T* bias,
                     Act act, T* y) {
  const auto& wk = winograd_kernels_for<T>();
  const auto& wt = wk.tile(m);
  const auto& gk = gemm_kernels_for<T>();
  const int64_t C = g.C, F = g.F, P = winograd_points(m);
  if (!all_finite_threaded(kernel, 9 * C * F) || !all_finite_threaded(x, g.N * g.H * g.W * C))
    return false;
  auto U = buffer<T>(P * C * F);
  transform_pairs(wt, false, C, F, kernel, U.get());
  const int64_t pb = gk.packed_b_size(C, F);
  auto packed = buffer<T>(P * pb);
  parallel_for(0, P, 1 + (16 * 1024) / (C * F + 1), [&](int64_t x0, int64_t x1) {
    for (int64_t xi = x0; xi < x1; ++xi)
      gk.pack_b(C, F, U.get() + xi * C * F, F, 1, packed.get() + xi * pb);
  });
  const int64_t mr = gk.mr > 0 ? gk.mr : 1;
  const TileBlocks blocks(winograd_tiles(g, m),
                          winograd_block<T>(g, m, kWinogradBlockBytes * P / 16), mr);
  const int64_t tb = blocks.most;
  auto zero = zeros<T>(C);
  const GemmEpilogue<T> plain;
  // M[xi] (nt x F) = V[xi] (nt x C) . U[xi] (C x F) for one block's transforms V, M.
  const auto point = [&](const T* V, T* M, int64_t nt, int64_t xi) {
    gk.gemm(nt, F, C, V + xi * nt * C, C, 1, packed.get() + xi * pb, M + xi * nt * F, F, plain);
  };
  const int64_t nb = blocks.nblocks;
  if (!winograd_wide(nb, nb * tb * P * (C + F) * int64_t(sizeof(T)))) {
    parallel_for(0, nb, grain_for(2 * P * tb * C * F), [&](int64_t b0, int64_t b1) {
      auto V = buffer<T>(P * tb * C), M = buffer<T>(P * tb * F);
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t t0 = blocks.begin(b), t1 = blocks.begin(b + 1);
        if (t0 == t1) continue;
        wt.transform_input(g, x, t0, t1, zero.get(), V.get());
        for (int64_t xi = 0; xi < P; ++xi) point(V.get(), M.get(), t1 - t0, xi);
        wt.transform_output(g, M.get(), t0, t1, bias, act, y);
      }
    });
    return true;
  }
  // Fewer blocks than threads (a small batch on many cores): the same calls, scheduled wider:
  // every block's input transform, then every (block, point) product, then every block's output
  // transform, each over all threads, with every block's workspace at b * tb * P * (C or F).
  auto V = buffer<T>(nb * tb * P * C), M = buffer<T>(nb * tb * P * F);
  parallel_for(0, nb, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      if (blocks.begin(b) < blocks.begin(b + 1))
        wt.transform_input(g, x, blocks.begin(b), blocks.begin(b + 1), zero.get(),
                           V.get() + b * tb * P * C);
  });
  parallel_for(0, nb * P, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t b = i / P, nt = blocks.begin(b + 1) - blocks.begin(b);
      if (nt > 0) point(V.get() + b * tb * P * C, M.get() + b * tb * P * F, nt, i % P);
    }
  });
  parallel_for(0, nb, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      if (blocks.begin(b) < blocks.begin(b + 1))
        wt.transform_output(g, M.get() + b * tb * P * F, blocks.begin(b), blocks.begin(b + 1),
                            bias, act, y);
  });
  return true;
}

// dkernel by Winograd F(3x3, m x m) (see winograd.h): fixed chunks of tiles (a function of the
// shape only) accumulate P C x F products V^T . Ye each, reduced in chunk order, then G^T M G.
// False (nothing written) when x or dy holds NaN or inf.
template <class T>
bool conv2d_backprop_kernel_winograd(const ConvGeom& g, int m, const T* x, const T* dy,
                                     T* dkernel) {
  const auto& wk = winograd_kernels_for<T>();
  const auto& wt = wk.tile(m);
  const auto& gk = gemm_kernels_for<T>();
  const int64_t C = g.C, F = g.F, P = winograd_points(m), MF = P * C * F;
  if (!all_finite_threaded(dy, g.N * g.OH * g.OW * F) ||
      !all_finite_threaded(x, g.N * g.H * g.W * C))
    return false;
  const int64_t tiles = winograd_tiles(g, m);
  // Blocks of as many tiles for both sizes (the GEMMs' K); chunks of at least 4 blocks but at
  // most half the tiles, so that two threads share even a small problem.
  const int64_t block = winograd_block<T>(g, m, kWinogradDwBlockBytes * P / 16);
  const int64_t min_chunk = 4 * block < (tiles + 1) / 2 ? 4 * block : (tiles + 1) / 2;
  const int64_t chunk = reduction_chunk(tiles, min_chunk, MF);
  const int64_t nchunks = (tiles + chunk - 1) / chunk;
  const int64_t tb = block < chunk ? block : chunk;
  auto partial = buffer<T>(nchunks * MF);
  auto zero = zeros<T>(C > F ? C : F);
  // One block of tiles' contribution to point xi of a chunk's partial sum: acc[xi] (C x F) (+)=
  // V[xi]^T (C x nt) . Ye[xi] (nt x F), V and Ye the block's transforms (P x nt x C, P x nt x F).
  const auto point = [&](const T* V, const T* Ye, int64_t nt, int64_t xi, T* acc, bool first,
                         T* pb) {
    GemmEpilogue<T> ep;
    ep.accumulate = !first;
    gk.pack_b(nt, F, Ye + xi * nt * F, F, 1, pb);
    gk.gemm(C, F, nt, V + xi * nt * C, 1, C, pb, acc + xi * C * F, F, ep);
  };
  const int64_t bpc = (chunk + tb - 1) / tb;  // blocks per (full) chunk
  const int64_t chunk_bytes = chunk * P * (C + F) * int64_t(sizeof(T));
  if (!winograd_wide(nchunks, chunk_bytes)) {
    // A chunk per thread (or more), its blocks streamed through one block of workspace.
    parallel_chunks(0, tiles, chunk, [&](int64_t ci, int64_t q0, int64_t q1) {
      auto V = buffer<T>(P * tb * C), Ye = buffer<T>(P * tb * F);
      auto pb = buffer<T>(gk.packed_b_size(tb, F));
      for (int64_t t0 = q0; t0 < q1; t0 += tb) {
        const int64_t t1 = t0 + tb < q1 ? t0 + tb : q1;
        wt.transform_input(g, x, t0, t1, zero.get(), V.get());
        wt.transform_dy(g, dy, t0, t1, zero.get(), Ye.get());
        for (int64_t xi = 0; xi < P; ++xi)
          point(V.get(), Ye.get(), t1 - t0, xi, partial.get() + ci * MF, t0 == q0, pb.get());
      }
    });
  } else {
    // Fewer chunks than threads (a small batch on many cores): the same calls, scheduled wider.
    // Slabs of whole chunks have their blocks transformed (threads over blocks), then every
    // (chunk, point) adds its chunk's blocks in order (threads over those pairs), so each partial
    // sum sees exactly the additions of the branch above: the same bits, more workers.
    const int64_t fit = kWinogradWideBytes / chunk_bytes;
    const int64_t per_slab = fit < nchunks ? fit : nchunks;
    auto V = buffer<T>(per_slab * chunk * P * C), Ye = buffer<T>(per_slab * chunk * P * F);
    const auto block_tiles = [&](int64_t c, int64_t b, int64_t* t0, int64_t* t1) {
      const int64_t q1 = (c + 1) * chunk < tiles ? (c + 1) * chunk : tiles;
      *t0 = c * chunk + b * tb;
      *t1 = *t0 + tb < q1 ? *t0 + tb : q1;
      return *t0 < *t1;
    };
    for (int64_t c0 = 0; c0 < nchunks; c0 += per_slab) {
      const int64_t nc = nchunks - c0 < per_slab ? nchunks - c0 : per_slab;
      // Block b of slab chunk j: its transforms at (j * chunk + b * tb) * P * (C or F).
      parallel_for(0, nc * bpc, 1, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const int64_t j = i / bpc, b = i % bpc, at = j * chunk + b * tb;
          int64_t t0, t1;
          if (!block_tiles(c0 + j, b, &t0, &t1)) continue;
          wt.transform_input(g, x, t0, t1, zero.get(), V.get() + at * P * C);
          wt.transform_dy(g, dy, t0, t1, zero.get(), Ye.get() + at * P * F);
        }
      });
      parallel_for(0, nc * P, 1, [&](int64_t i0, int64_t i1) {
        auto pb = buffer<T>(gk.packed_b_size(tb, F));
        for (int64_t i = i0; i < i1; ++i) {
          const int64_t j = i / P, xi = i % P;
          int64_t t0, t1;
          for (int64_t b = 0; block_tiles(c0 + j, b, &t0, &t1); ++b) {
            const int64_t at = j * chunk + b * tb;
            point(V.get() + at * P * C, Ye.get() + at * P * F, t1 - t0, xi,
                  partial.get() + (c0 + j) * MF, b == 0, pb.get());
          }
        }
      });
    }
  }
  sum_partials(partial.get(), nchunks, MF, partial.get());
  transform_pairs(wt, true, C, F, partial.get(), dkernel);
  return true;
}

}  // namespace

// Does some window reach into the zero padding? (Then the im2col path multiplies padding zeros.)
bool has_padding(const ConvGeom& g) {
  return g.pt > 0 || g.pl > 0 || (g.OH - 1) * g.sh - g.pt + (g.KH - 1) * g.dh >= g.H ||
         (g.OW - 1) * g.sw - g.pl + (g.KW - 1) * g.dw >= g.W;
}

// Items per thread so that each thread gets at least kMinTaskFlops of work.
int64_t grain_for(int64_t flops_per_item) {
  if (flops_per_item >= kMinTaskFlops) return 1;
  return kMinTaskFlops / (flops_per_item > 0 ? flops_per_item : 1);
}

// Fixed chunk size of a kernel-gradient reduction over `items` (a function of the shape only,
// never of the thread count): chunks of at least `min_items`, each keeping `partial_elems`
// partial sums, at most kMaxChunks of them and kMaxPartialElems values in all. An even number of
// near-equal chunks, so that two threads get the same work (4 chunks of 1080 + 632 pixels, say,
// would leave one thread idle 12 % of the time).
int64_t reduction_chunk(int64_t items, int64_t min_items, int64_t partial_elems) {
  int64_t max_chunks = kMaxPartialElems / partial_elems;
  if (max_chunks > kMaxChunks) max_chunks = kMaxChunks;
  if (max_chunks < 1) max_chunks = 1;
  int64_t want = items / min_items;
  if (want > max_chunks) want = max_chunks;
  if (want > 1 && want % 2 == 1) want += want < max_chunks ? 1 : -1;
  if (want < 1) want = 1;
  return (items + want - 1) / want;
}

bool conv2d_uses_direct(const ConvGeom& g) { return use_direct(g); }

void check_conv_geom(const ConvGeom& g, const char* op) {
  CNNEXT_CHECK(g.N >= 0 && g.F >= 0, op, ": batch and filter counts must be >= 0, got N=", g.N,
               ", F=", g.F);
  CNNEXT_CHECK(g.H >= 1 && g.W >= 1 && g.C >= 1, op,
               ": input height, width and channels must be >= 1, got (", g.H, ", ", g.W, ", ",
               g.C, ")");
  CNNEXT_CHECK(g.KH >= 1 && g.KW >= 1, op, ": kernel size must be >= 1, got (", g.KH, ", ", g.KW,
               ")");
  CNNEXT_CHECK(g.sh >= 1 && g.sw >= 1, op, ": strides must be >= 1, got (", g.sh, ", ", g.sw, ")");
  CNNEXT_CHECK(g.dh >= 1 && g.dw >= 1, op, ": dilation must be >= 1, got (", g.dh, ", ", g.dw,
               ")");
  CNNEXT_CHECK(g.OH >= 1 && g.OW >= 1, op, ": output size must be >= 1, got (", g.OH, ", ", g.OW,
               ")");
  // Bounds that keep every index expression of the kernels (oh * sh - pt + kh * dh, ...) in int64.
  const int64_t lim = int64_t(1) << 40;
  CNNEXT_CHECK(g.pt > -lim && g.pt < lim && g.pl > -lim && g.pl < lim, op,
               ": padding out of range");
  CNNEXT_CHECK(g.sh < lim && g.sw < lim && g.dh < lim && g.dw < lim, op,
               ": strides or dilation out of range");
  checked_numel({g.N, g.H, g.W, g.C}, op);
  checked_numel({g.N, g.OH, g.OW, g.F}, op);
  checked_numel({g.KH, g.KW, g.C, g.F, 1024, 8}, op);  // K * F and tile buffers, with headroom
  checked_numel({g.OH + 16, g.sh + (g.KH - 1) * g.dh}, op);
  checked_numel({g.OW + 16, g.sw + (g.KW - 1) * g.dw}, op);
}

template <class T>
void conv2d_forward(const ConvGeom& g, const T* x, const T* kernel, const T* bias, Act act, T* y) {
  const int64_t M = g.N * g.OH * g.OW, K = g.K(), F = g.F;
  if (M == 0 || F == 0) return;
  const auto& gk = gemm_kernels_for<T>();
  const auto& ck = conv_kernels_for<T>();
  if (use_direct(g) && !padding_meets_nonfinite(g, kernel, K * F)) {
    auto packed = buffer<T>(ck.direct_packed_size(g));
    ck.direct_pack(g, kernel, bias, packed.get());
    const int64_t tm = 256, ntiles = (M + tm - 1) / tm;
    parallel_for(0, ntiles, grain_for(2 * tm * K * F), [&](int64_t t0, int64_t t1) {
      ck.direct_conv(g, x, packed.get(), act, t0 * tm, t1 * tm < M ? t1 * tm : M, y);
    });
    return;
  }
  if (const int m = winograd_tile(g, false); m && conv2d_winograd(g, m, x, kernel, bias, act, y))
    return;
  auto packed = buffer<T>(gk.packed_b_size(K, F));
  gk.pack_b(K, F, kernel, F, 1, packed.get());
  if (use_igemm(ck, g)) {  // no im2col: the micro-kernel reads x in place
    auto zero = buffer<T>(g.C);
    std::memset(zero.get(), 0, sizeof(T) * g.C);
    // Threads split the register strips evenly (not whole tiles: at 41 tiles one of two threads
    // would do 5 % more), then walk their range in tiles of kIgemmTileStrips strips.
    const int64_t mr = ck.igemm_mr, tm = kIgemmTileStrips * mr, nstrips = (M + mr - 1) / mr;
    parallel_for(0, nstrips, grain_for(2 * mr * K * F), [&](int64_t s0, int64_t s1) {
      auto ind = buffer<const T*>(ck.igemm_ind_size(g, tm));
      for (int64_t p0 = s0 * mr, pend = s1 * mr < M ? s1 * mr : M; p0 < pend; p0 += tm) {
        const int64_t p1 = p0 + tm < pend ? p0 + tm : pend;
        ck.igemm_conv(g, x, packed.get(), bias, act, p0, p1, zero.get(), ind.get(), y);
      }
    });
    return;
  }
  GemmEpilogue<T> ep;
  ep.bias = bias;
  ep.act = act;
  const int64_t tm = tile_rows<T>(g), ntiles = (M + tm - 1) / tm;
  const bool pointwise = is_pointwise(g);
  parallel_for(0, ntiles, grain_for(2 * tm * K * F), [&](int64_t t0, int64_t t1) {
    std::unique_ptr<T[]> col = pointwise ? nullptr : buffer<T>(tm * K);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t p0 = t * tm, rows = p0 + tm < M ? tm : M - p0;
      const T* a = x + p0 * K;
      if (!pointwise) {
        ck.im2col(g, x, p0, p0 + rows, col.get());
        a = col.get();
      }
      gk.gemm(rows, F, K, a, K, 1, packed.get(), y + p0 * F, F, ep);
    }
  });
}

template <class T>
void conv2d_backprop_input(const ConvGeom& g, const T* dy, const T* kernel, T* dx) {
  const int64_t K = g.K(), F = g.F, ohw = g.OH * g.OW, hwc = g.H * g.W * g.C;
  if (g.N == 0) return;
  if (F == 0) {
    std::memset(dx, 0, sizeof(T) * g.N * hwc);
    return;
  }
  const auto& gk = gemm_kernels_for<T>();
  const auto& ck = conv_kernels_for<T>();
  if (use_direct_dx(g)) {  // bands of input rows, every dx element computed once, no scatter
    auto packed = buffer<T>(ck.direct_packed_size(g));
    ck.direct_pack(g, kernel, nullptr, packed.get());
    const int64_t bands = input_bands(g, get_num_threads()), band_h = (g.H + bands - 1) / bands;
    parallel_for(0, g.N * bands, grain_for(image_flops(ohw, K, F) / bands),
                 [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t n = i / bands, ih0 = i % bands * band_h;
        const int64_t ih1 = ih0 + band_h < g.H ? ih0 + band_h : g.H;
        if (ih0 < ih1) ck.direct_dx(g, dy, packed.get(), n, ih0, ih1, dx);
      }
    });
    return;
  }
  // use_winograd is symmetric in C and F, so the flipped forward below runs by Winograd too,
  // which pays even where the padding zeros would make the GEMM forward lose.
  // (Not for an inf/NaN kernel: the forward would multiply it by dy's padding zeros, 0 * inf =
  // NaN, where dx, a sum over real output pixels only, has none.)
  const bool finite_kernel = all_finite_threaded(kernel, K * F);
  if ((dx_as_forward(g) || use_winograd(g)) && finite_kernel) {
    // Stride 1: dx is the forward convolution of dy with the spatially flipped, I/O-transposed
    // kernel, wt[kh'][kw'][f][c] = kernel[KH-1-kh'][KW-1-kw'][c][f], over dy padded by the kernel's
    // reach minus the forward padding: dx[ih] gathers dy[ih + pt - kh * dh] = dy[ih - pt' + kh' * dh].
    // Every dx element is computed once (no col2im scatter) on the forward's fast path.
    auto wt = buffer<T>(K * F);
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const T* src = kernel + ((g.KH - 1 - kh) * g.KW + (g.KW - 1 - kw)) * g.C * F;
        T* dst = wt.get() + (kh * g.KW + kw) * F * g.C;
        for (int64_t c = 0; c < g.C; ++c)
          for (int64_t f = 0; f < F; ++f) dst[f * g.C + c] = src[c * F + f];
      }
    ConvGeom t = g;
    t.H = g.OH, t.W = g.OW, t.C = F, t.F = g.C, t.OH = g.H, t.OW = g.W;
    t.pt = (g.KH - 1) * g.dh - g.pt, t.pl = (g.KW - 1) * g.dw - g.pl;
    // dx rows (columns) past the last one a tap reaches are zero: when dy covers only part of
    // x (a conv whose output the next max-pool reads only in part), the forward computes the
    // reached block into a scratch and dx is filled from it, so the work shrinks with dy.
    const int64_t reach_h = clamp((g.OH - 1) * g.sh - g.pt + (g.KH - 1) * g.dh + 1, 1, g.H);
    const int64_t reach_w = clamp((g.OW - 1) * g.sw - g.pl + (g.KW - 1) * g.dw + 1, 1, g.W);
    if (reach_h * reach_w * 8 > g.H * g.W * 7) {  // under 1/8 of dx unreached: not worth a copy
      conv2d_forward(t, dy, wt.get(), static_cast<const T*>(nullptr), Act::linear, dx);
      return;
    }
    t.OH = reach_h, t.OW = reach_w;
    const int64_t row = reach_w * g.C, block = reach_h * row;
    auto reached = buffer<T>(g.N * block);
    conv2d_forward(t, dy, wt.get(), static_cast<const T*>(nullptr), Act::linear, reached.get());
    parallel_for(0, g.N, 1 + (64 * 1024) / (hwc + 1), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        T* img = dx + n * hwc;
        for (int64_t ih = 0; ih < reach_h; ++ih) {
          T* dst = img + ih * g.W * g.C;
          std::memcpy(dst, reached.get() + n * block + ih * row, sizeof(T) * row);
          std::memset(dst + row, 0, sizeof(T) * (g.W - reach_w) * g.C);
        }
        std::memset(img + reach_h * g.W * g.C, 0, sizeof(T) * (g.H - reach_h) * g.W * g.C);
      }
    });
    return;
  }
  // dCol = dY (M x F) . W^T (F x K); W^T read from the (K, F) kernel through strides.
  auto packed = buffer<T>(gk.packed_b_size(F, K));
  gk.pack_b(F, K, kernel, 1, F, packed.get());
  const GemmEpilogue<T> ep;
  const int64_t tm = tile_rows<T>(g);
  if (is_pointwise(g)) {  // dx = dY . W^T directly, tiles of pixels
    const int64_t M = g.N * ohw, ntiles = (M + tm - 1) / tm;
    parallel_for(0, ntiles, grain_for(2 * tm * K * F), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t p0 = t * tm, rows = p0 + tm < M ? tm : M - p0;
        gk.gemm(rows, K, F, dy + p0 * F, F, 1, packed.get(), dx + p0 * K, K, ep);
      }
    });
    return;
  }
  // Work items are (image, band of input rows): each owns its slice of dx, so the scatter-adds
  // never race, and recomputes the dCol rows of every output row that touches its band. Every dx
  // element gets the same terms in the same order (increasing output pixel) however the bands
  // are cut, so the result does not depend on the thread count.
  const int64_t bands = input_bands(g, get_num_threads());
  const int64_t band_h = (g.H + bands - 1) / bands, span = (g.KH - 1) * g.dh;
  parallel_for(0, g.N * bands, grain_for(image_flops(ohw, K, F) / bands),
               [&](int64_t i0, int64_t i1) {
    auto dcol = buffer<T>(tm * K);
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n = i / bands, ih0 = i % bands * band_h;
      const int64_t ih1 = ih0 + band_h < g.H ? ih0 + band_h : g.H;
      if (ih0 >= ih1) continue;
      std::memset(dx + (n * g.H + ih0) * g.W * g.C, 0, sizeof(T) * (ih1 - ih0) * g.W * g.C);
      // Output rows whose taps reach [ih0, ih1): oh * sh - pt + [0, span] meets the band.
      const int64_t oh0 = clamp(ceil_div(ih0 + g.pt - span, g.sh), 0, g.OH);
      const int64_t oh1 = clamp(floor_div(ih1 - 1 + g.pt, g.sh) + 1, oh0, g.OH);
      const int64_t pend = n * ohw + oh1 * g.OW;
      for (int64_t p0 = n * ohw + oh0 * g.OW; p0 < pend; p0 += tm) {
        const int64_t rows = p0 + tm < pend ? tm : pend - p0;
        gk.gemm(rows, K, F, dy + p0 * F, F, 1, packed.get(), dcol.get(), K, ep);
        ck.col2im_add(g, dcol.get(), p0, p0 + rows, ih0, ih1, dx);
      }
    }
  });
}

template <class T>
void conv2d_backprop_kernel(const ConvGeom& g, const T* x, const T* dy, T* dkernel) {
  const int64_t K = g.K(), F = g.F, ohw = g.OH * g.OW, KF = K * F;
  if (KF == 0) return;
  if (g.N == 0) {
    std::memset(dkernel, 0, sizeof(T) * KF);
    return;
  }
  if (const int m = winograd_tile(g, true);
      m && conv2d_backprop_kernel_winograd(g, m, x, dy, dkernel))
    return;
  const auto& gk = gemm_kernels_for<T>();
  const auto& ck = conv_kernels_for<T>();
  const bool pointwise = is_pointwise(g);
  // Fixed chunks of output pixels (a function of the shape only, never of the thread count), so
  // even one large image is split; chunks may span images (im2col handles any pixel range).
  const int64_t M = g.N * ohw, tm = tile_rows<T>(g);
  const int64_t chunk = reduction_chunk(M, kChunkPixels, KF);
  const int64_t nchunks = (M + chunk - 1) / chunk;
  auto partial = buffer<T>(nchunks == 1 ? 0 : nchunks * KF);
  if (use_direct_dw(g) && !padding_meets_nonfinite(g, dy, M * F)) {
    parallel_chunks(0, M, chunk, [&](int64_t c, int64_t q0, int64_t q1) {
      ck.direct_dw(g, x, dy, q0, q1, false, nchunks == 1 ? dkernel : partial.get() + c * KF);
    });
  } else if (ck.igemm_dw && use_igemm(ck, g)) {  // no im2col: the micro-kernel reads x in place
    auto zero = buffer<T>(g.C);
    std::memset(zero.get(), 0, sizeof(T) * g.C);
    parallel_chunks(0, M, chunk, [&](int64_t c, int64_t q0, int64_t q1) {
      auto ind = buffer<const T*>(ck.igemm_dw_tile * g.KH * g.KW);
      ck.igemm_dw(g, x, dy, q0, q1, false, zero.get(), ind.get(),
                  nchunks == 1 ? dkernel : partial.get() + c * KF);
    });
  } else {
    parallel_chunks(0, M, chunk, [&](int64_t c, int64_t q0, int64_t q1) {
      // Workspace once per chunk (chunks are few and large): im2col tile and packed dY tile.
      std::unique_ptr<T[]> col = pointwise ? nullptr : buffer<T>(tm * K);
      auto pdy = buffer<T>(gk.packed_b_size(tm, F));
      T* acc = nchunks == 1 ? dkernel : partial.get() + c * KF;
      GemmEpilogue<T> ep;
      for (int64_t p0 = q0; p0 < q1; p0 += tm) {
        const int64_t rows = p0 + tm < q1 ? tm : q1 - p0;
        const T* a = x + p0 * K;  // pointwise: x itself is the (pixels x C) col matrix
        if (!pointwise) {
          ck.im2col(g, x, p0, p0 + rows, col.get());
          a = col.get();
        }
        gk.pack_b(rows, F, dy + p0 * F, F, 1, pdy.get());
        // acc (K x F) += col^T (K x rows) . dY (rows x F)
        gk.gemm(K, F, rows, a, 1, K, pdy.get(), acc, F, ep);
        ep.accumulate = true;
      }
    });
  }
  if (nchunks > 1) sum_partials(partial.get(), nchunks, KF, dkernel);
}

template <class T>
void conv2d_backprop_bias(const T* dy, int64_t M, int64_t F, T* db) {
  if (F == 0) return;
  int64_t chunk = (M + kMaxChunks - 1) / kMaxChunks;
  if (chunk < kBiasChunkRows) chunk = kBiasChunkRows;
  const int64_t nchunks = M == 0 ? 1 : (M + chunk - 1) / chunk;
  auto partial = buffer<T>(nchunks * F);
  std::memset(partial.get(), 0, sizeof(T) * nchunks * F);
  parallel_chunks(0, M, chunk, [&](int64_t c, int64_t lo, int64_t hi) {
    T* acc = partial.get() + c * F;
    for (int64_t m = lo; m < hi; ++m)
      for (int64_t f = 0; f < F; ++f) acc[f] += dy[m * F + f];
  });
  for (int64_t f = 0; f < F; ++f) db[f] = partial[f];
  for (int64_t c = 1; c < nchunks; ++c)
    for (int64_t f = 0; f < F; ++f) db[f] += partial[c * F + f];
}

#define CNNEXT_INSTANTIATE(T)                                                                  \
  template void conv2d_forward<T>(const ConvGeom&, const T*, const T*, const T*, Act, T*);     \
  template void conv2d_backprop_input<T>(const ConvGeom&, const T*, const T*, T*);             \
  template void conv2d_backprop_kernel<T>(const ConvGeom&, const T*, const T*, T*);            \
  template void conv2d_backprop_bias<T>(const T*, int64_t, int64_t, T*);
CNNEXT_INSTANTIATE(float)
CNNEXT_INSTANTIATE(double)
#undef CNNEXT_INSTANTIATE

}  // namespace cnnext
