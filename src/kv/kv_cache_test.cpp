// Tests kv::KvCache sizing (spec gguf-and-quants §9, gemma4-text §8 worked figures), config
// validation, and the per-sequence position bookkeeping (reserve, remove, clear, copy_prefix).
#include "kv/kv_cache.h"
#include "quant/quant.h"

#include <gtest/gtest.h>

#include <cmath>

#include <vector>

#include "core/error.h"

namespace kv = fitserve::kv;
namespace quant = fitserve::quant;
using fitserve::core::Error;

namespace {

// Gemma 4 31B: (5 SWA, 1 full) × 10; SWA: 16 KV heads × 256, full: 4 KV heads × 512, window 1024.
kv::CacheConfig gemma4_31b(int32_t n_ctx, int32_t n_batch) {
  kv::CacheConfig c;
  for (int i = 0; i < 60; ++i) {
    if (i % 6 == 5) c.layers.push_back(kv::LayerSpec{kv::LayerKind::Full, 4, 512, 512});
    else c.layers.push_back(kv::LayerSpec{kv::LayerKind::Sliding, 16, 256, 256, 1024});
  }
  c.n_ctx = n_ctx;
  c.n_batch = n_batch;
  return c;
}

// Gemma 4 E2B: 35 layers, (4 SWA, 1 full) × 7, 1 KV head, window 512; layers >= 15 share the
// cache of layer 13 (last SWA layer with KV) or 14 (last full layer with KV).
kv::CacheConfig gemma4_e2b(int32_t n_ctx) {
  kv::CacheConfig c;
  for (int i = 0; i < 35; ++i) {
    const bool full = i % 5 == 4;
    if (i >= 15) c.layers.push_back(kv::LayerSpec{kv::LayerKind::Shared, 0, 0, 0, 0, full ? 14 : 13});
    else if (full) c.layers.push_back(kv::LayerSpec{kv::LayerKind::Full, 1, 512, 512});
    else c.layers.push_back(kv::LayerSpec{kv::LayerKind::Sliding, 1, 256, 256, 512});
  }
  c.n_ctx = n_ctx;
  return c;
}

kv::CacheConfig small(int32_t window = 4) {
  kv::CacheConfig c;
  c.layers = {kv::LayerSpec{kv::LayerKind::Sliding, 1, 32, 32, window}, kv::LayerSpec{kv::LayerKind::Full, 1, 32, 32}};
  c.n_ctx = 64;
  c.n_batch = 4;
  c.swa_pad = 1;
  c.n_seq = 2;
  return c;
}

void fill(kv::KvCache& c, int seq, int32_t pos0, int32_t n) {
  c.reserve(seq, pos0, n);
  std::vector<float> rows(static_cast<size_t>(n) * 32, 0.5f);
  for (int il = 0; il < c.n_layers(); ++il)
    if (c.source_layer(il) == il) c.write(il, seq, pos0, n, rows.data(), 0, rows.data(), 0);
}

}  // namespace

TEST(KvCacheSizing, Gemma4_31BWorkedExample) {
  const auto cfg = gemma4_31b(131072, 512);
  // Full layers: 81 920 B per token (f16) × 131 072 = 10 GiB; SWA: pad256(1024 + 512) = 1536 cells
  // × 819 200 B per cell.
  size_t full = 0, swa = 0;
  for (int il = 0; il < 60; ++il) (il % 6 == 5 ? full : swa) += kv::KvCache::layer_bytes(cfg, il);
  EXPECT_EQ(full, size_t{81920} * 131072);
  EXPECT_EQ(full, size_t{10} << 30);
  EXPECT_EQ(kv::KvCache::cells(cfg, 0), 1536);
  EXPECT_EQ(swa, size_t{1536} * 819200);
  EXPECT_EQ(kv::KvCache::total_bytes(cfg), full + swa);
  // Sliding memory does not grow with the context.
  EXPECT_EQ(kv::KvCache::cells(gemma4_31b(262144, 512), 0), 1536);
  EXPECT_EQ(kv::KvCache::cells(gemma4_31b(1000, 512), 0), 1000);  // never more than n_ctx
  auto sf = cfg;
  sf.swa_full = true;
  EXPECT_EQ(kv::KvCache::cells(sf, 0), 131072);
}

TEST(KvCacheSizing, SharedLayersAllocateNothingAndTypesScaleRows) {
  auto cfg = gemma4_e2b(4096);
  // E2B f16: full layers 6 144 B per token... per own-KV full layer 1·512·2·2 = 2048 (3 layers).
  size_t full = 0, swa = 0, shared = 0;
  for (int il = 0; il < 35; ++il) {
    const size_t b = kv::KvCache::layer_bytes(cfg, il);
    if (il >= 15) shared += b;
    else (il % 5 == 4 ? full : swa) += b;
  }
  EXPECT_EQ(shared, 0u);
  EXPECT_EQ(full, size_t{6144} * 4096);
  EXPECT_EQ(swa, size_t{12288} * kv::KvCache::cells(cfg, 0));
  EXPECT_EQ(kv::KvCache::cells(cfg, 0), 1024);  // pad256(512 + 512)
  cfg.type_k = quant::Type::Q8_0;  // 34 bytes per 32 elements
  cfg.type_v = quant::Type::Q4_0;  // 18 bytes per 32 elements
  EXPECT_EQ(kv::KvCache::layer_bytes(cfg, 4), size_t{4096} * (512 / 32 * 34 + 512 / 32 * 18));
  cfg.n_seq = 3;
  EXPECT_EQ(kv::KvCache::layer_bytes(cfg, 4), size_t{3} * 4096 * (512 / 32 * 34 + 512 / 32 * 18));
  kv::KvCache cache(cfg);
  EXPECT_EQ(cache.bytes(), kv::KvCache::total_bytes(cfg));
  EXPECT_EQ(cache.source_layer(20), 13);
  EXPECT_EQ(cache.source_layer(19), 14);
  EXPECT_EQ(cache.window(20), 512);
  EXPECT_EQ(cache.window(19), 0);
}

TEST(KvCacheConfig, RejectsBadConfigs) {
  auto bad = [](auto mutate) {
    kv::CacheConfig c = small();
    mutate(c);
    EXPECT_THROW(kv::KvCache::validate(c), Error);
    EXPECT_THROW(kv::KvCache{c}, Error);
  };
  bad([](kv::CacheConfig& c) { c.layers.clear(); });
  bad([](kv::CacheConfig& c) { c.n_ctx = 0; });
  bad([](kv::CacheConfig& c) { c.n_seq = 0; });
  bad([](kv::CacheConfig& c) { c.type_k = quant::Type::Q4_K; });
  bad([](kv::CacheConfig& c) { c.type_v = quant::Type::I32; });
  bad([](kv::CacheConfig& c) { c.layers[0].window = 0; });
  bad([](kv::CacheConfig& c) { c.layers[1].n_head_kv = 0; });
  bad([](kv::CacheConfig& c) { c.layers.push_back(kv::LayerSpec{kv::LayerKind::Shared, 0, 0, 0, 0, 7}); });
  bad([](kv::CacheConfig& c) {
    c.layers.push_back(kv::LayerSpec{kv::LayerKind::Shared, 0, 0, 0, 0, 0});
    c.layers.push_back(kv::LayerSpec{kv::LayerKind::Shared, 0, 0, 0, 0, 2});  // shares a sharer
  });
  bad([](kv::CacheConfig& c) { c.n_ctx = 2000000000, c.n_seq = 1000000, c.layers[1].n_head_kv = 1000; });
  kv::CacheConfig ok = small();
  ok.type_k = quant::Type::Q4_0;
  EXPECT_NO_THROW(kv::KvCache::validate(ok));
  // Head rows that are not a whole number of blocks are zero-padded to whole blocks.
  kv::CacheConfig pad = small();
  pad.type_k = quant::Type::Q8_0;
  pad.layers[1].head_dim_k = 48;
  EXPECT_NO_THROW(kv::KvCache::validate(pad));
  EXPECT_EQ(kv::stored_dim(quant::Type::Q8_0, 48), 64);
  EXPECT_EQ(kv::stored_dim(quant::Type::F16, 48), 48);
  EXPECT_EQ(kv::head_row_bytes(quant::Type::Q8_0, 8), 34u);
}

// A q8_0 cache with 8-wide heads (stories260K's shape) stores and returns the rows it was given,
// within q8_0 precision, and the padding never leaks into the attention result.
TEST(KvCacheConfig, PaddedHeadRowsRoundTrip) {
  kv::CacheConfig c;
  c.layers.push_back(kv::LayerSpec{kv::LayerKind::Full, 2, 8, 8, 0, -1});
  c.type_k = c.type_v = quant::Type::Q8_0;
  c.n_ctx = 16;
  c.n_batch = 4;
  kv::KvCache cache(c);
  EXPECT_EQ(cache.bytes(), size_t(16) * 2 * 2 * 34);
  std::vector<float> k(2 * 16), v(2 * 16);
  for (size_t i = 0; i < k.size(); ++i) {
    k[i] = std::sin(float(i));
    v[i] = std::cos(float(i));
  }
  cache.reserve(0, 0, 2);
  cache.write(0, 0, 0, 2, k.data(), 0, v.data(), 0);
  auto view = cache.view(0, 0);
  EXPECT_EQ(view.stored_dim_k, 32);
  std::vector<float> row(32);
  quant::dequantize_row(quant::Type::Q8_0, view.k + view.k_head_stride * 1 + view.k_row_stride * 1, row.data(), 32);
  for (int d = 0; d < 8; ++d) EXPECT_NEAR(row[d], k[16 + 8 + d], 0.01f);
  for (int d = 8; d < 32; ++d) EXPECT_EQ(row[d], 0.0f);
}

TEST(KvCacheBookkeeping, ReserveIsAppendOnlyAndBounded) {
  kv::KvCache c(small());
  EXPECT_EQ(c.pos_max(0), -1);
  fill(c, 0, 0, 4);
  EXPECT_EQ(c.pos_max(0), 3);
  EXPECT_EQ(c.pos_max(1), -1);
  EXPECT_THROW(c.reserve(0, 3, 1), Error);   // not after the last position
  EXPECT_THROW(c.reserve(0, 4, 5), Error);   // more than n_batch
  EXPECT_THROW(c.reserve(0, 62, 3), Error);  // beyond n_ctx
  EXPECT_THROW(c.reserve(2, 0, 1), Error);   // no such sequence
  EXPECT_THROW(c.reserve(-1, 0, 1), Error);
  EXPECT_EQ(c.pos_max(0), 3);  // failed reserves change nothing
  std::vector<float> rows(32 * 2, 1.0f);
  EXPECT_THROW(c.write(0, 0, 4, 1, rows.data(), 0, rows.data(), 0), Error);  // not reserved
  EXPECT_THROW(c.write(5, 0, 0, 1, rows.data(), 0, rows.data(), 0), Error);  // no such layer
  fill(c, 0, 4, 4);
  EXPECT_TRUE(c.contains(0, 0));  // ring has 8 cells (window 4 + n_batch 4): 0 still present
  fill(c, 0, 8, 2);
  EXPECT_FALSE(c.contains(0, 0));  // evicted from the ring (still in the full layer)
  EXPECT_FALSE(c.contains(0, 1));
  EXPECT_TRUE(c.contains(0, 2));
  EXPECT_EQ(c.min_query_pos(0), 1 + 4);  // a query at 5 needs keys 2..5
  // min_query_pos is also the rollback limit: back to 5 works, back to 4 does not.
  c.remove(0, 5);
  EXPECT_NO_THROW(c.reserve(0, 5, 1));
  c.remove(0, 4);
  EXPECT_THROW(c.reserve(0, 4, 1), Error);
}

TEST(KvCacheBookkeeping, RemoveClearAndRollbackLimits) {
  kv::KvCache c(small());
  for (int32_t p = 0; p < 16; p += 4) fill(c, 0, p, 4);
  c.remove(0, 13);  // roll back 3 positions
  EXPECT_EQ(c.pos_max(0), 12);
  EXPECT_FALSE(c.contains(0, 13));
  EXPECT_TRUE(c.contains(0, 12));
  fill(c, 0, 13, 3);  // rewrite them
  EXPECT_EQ(c.pos_max(0), 15);
  // Rolling back further than the ring keeps: a new query at 6 would need keys 3..6, but
  // positions 3..7 were overwritten by 11..15.
  c.remove(0, 6);
  EXPECT_EQ(c.pos_max(0), 5);
  EXPECT_THROW(c.reserve(0, 6, 1), Error);
  c.clear(0);
  EXPECT_EQ(c.pos_max(0), -1);
  EXPECT_FALSE(c.contains(0, 0));
  EXPECT_NO_THROW(fill(c, 0, 0, 4));
  // Removing a range in the middle leaves a hole; later positions stay.
  fill(c, 1, 0, 4);
  fill(c, 1, 4, 4);
  c.remove(1, 2, 4);
  EXPECT_FALSE(c.contains(1, 2));
  EXPECT_FALSE(c.contains(1, 3));
  EXPECT_TRUE(c.contains(1, 4));
  EXPECT_EQ(c.pos_max(1), 7);
  c.clear();
  EXPECT_EQ(c.pos_max(0), -1);
  EXPECT_EQ(c.pos_max(1), -1);
}

TEST(KvCacheBookkeeping, CopyPrefix) {
  kv::KvCache c(small());
  for (int32_t p = 0; p < 12; p += 4) fill(c, 0, p, 4);
  c.copy_prefix(0, 1, 10);
  EXPECT_EQ(c.pos_max(1), 9);
  for (int32_t p = 0; p < 12; ++p) EXPECT_EQ(c.contains(1, p), p < 10 && c.contains(0, p)) << p;
  EXPECT_NO_THROW(fill(c, 1, 10, 2));
  EXPECT_THROW(c.copy_prefix(0, 0, 3), Error);
  c.copy_prefix(1, 0, 100);  // longer than the source: copies all of it
  EXPECT_EQ(c.pos_max(0), 11);
}
