// Tests kv::attention (and through it ops::attention) against a naive double-precision attention
// over a shadow copy of what each sequence holds: every KV type, GQA ratios, head dims, sliding
// windows with ring wrap-around, rollback, shared layers, bidirectional spans, softcap, threads.
#include "kv/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "kv/kv_cache.h"
#include "quant/quant.h"

namespace kv = fitserve::kv;
namespace ops = fitserve::ops;
namespace quant = fitserve::quant;
using fitserve::core::ThreadPool;

namespace {

// What the cache should return for a row: the value after conversion to the storage type.
std::vector<float> stored(quant::Type t, const float* x, int heads, int d) {
  std::vector<float> out(static_cast<size_t>(heads) * d);
  std::vector<uint8_t> buf(quant::row_bytes(t, d) + 64);
  for (int h = 0; h < heads; ++h) {
    quant::quantize_row(t, x + h * d, buf.data(), d);
    quant::dequantize_row(t, buf.data(), out.data() + h * d, d);
  }
  return out;
}

struct Row {
  std::vector<float> k, v;
};
using Shadow = std::map<int32_t, Row>;  // position -> stored K/V of one (storage layer, seq)

bool visible(int32_t pq, int32_t pk, const ops::AttnMask& m) {
  const bool in_span = pq >= m.span_begin && pq < m.span_end && pk >= m.span_begin && pk < m.span_end;
  const bool order_ok = pk <= pq || !m.causal || in_span;
  const bool window_ok = m.window == 0 || int64_t{pq} - pk < m.window;
  return order_ok && window_ok;
}

// Naive attention in double over the shadow rows.
std::vector<double> reference(const Shadow& sh, const std::vector<float>& q, const std::vector<int32_t>& pos,
                              int n_head, int n_head_kv, int dk, int dv, const ops::AttnParams& p) {
  const int64_t n_q = static_cast<int64_t>(pos.size());
  std::vector<double> out(static_cast<size_t>(n_q) * n_head * dv, 0.0);
  const int G = n_head / n_head_kv;
  for (int64_t r = 0; r < n_q; ++r)
    for (int h = 0; h < n_head; ++h) {
      const int g = h / G;
      const float* qv = q.data() + (r * n_head + h) * dk;
      std::vector<std::pair<double, const Row*>> s;
      double mx = -1e300;
      for (const auto& [pk, row] : sh) {
        if (!visible(pos[r], pk, p.mask)) continue;
        double d = 0;
        for (int i = 0; i < dk; ++i) d += double(qv[i]) * row.k[g * dk + i];
        d *= p.scale;
        if (p.softcap > 0) d = p.softcap * std::tanh(d / p.softcap);
        s.push_back({d, &row});
        mx = std::max(mx, d);
      }
      double den = 0;
      for (auto& e : s) den += std::exp(e.first - mx);
      double* o = out.data() + (r * n_head + h) * dv;
      for (auto& e : s) {
        const double w = std::exp(e.first - mx) / den;
        for (int i = 0; i < dv; ++i) o[i] += w * e.second->v[g * dv + i];
      }
    }
  return out;
}

// A cache plus its shadow; appends random batches, rolls back, and checks attention.
struct Harness {
  kv::CacheConfig cfg;
  std::unique_ptr<kv::KvCache> cache;
  std::map<std::pair<int, int>, Shadow> shadow;  // (storage layer, seq)
  std::mt19937 rng{1234};
  ops::Scratch scratch;

  explicit Harness(kv::CacheConfig c) : cfg(std::move(c)), cache(std::make_unique<kv::KvCache>(cfg)) {}

  std::vector<float> rand(size_t n, float a = 1.0f) {
    std::uniform_real_distribution<float> d(-a, a);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
  }

  // Reserve + write [pos0, pos0+n) for seq in every storage layer.
  void append(int seq, int32_t pos0, int32_t n) {
    cache->reserve(seq, pos0, n);
    for (int il = 0; il < cache->n_layers(); ++il) {
      if (cache->source_layer(il) != il) continue;
      const kv::LayerSpec& l = cfg.layers[il];
      const size_t kw = static_cast<size_t>(l.n_head_kv) * l.head_dim_k, vw = static_cast<size_t>(l.n_head_kv) * l.head_dim_v;
      auto k = rand(kw * n), v = rand(vw * n);
      cache->write(il, seq, pos0, n, k.data(), 0, v.data(), 0);
      Shadow& sh = shadow[{il, seq}];
      for (int32_t i = 0; i < n; ++i)
        sh[pos0 + i] = Row{stored(cfg.type_k, k.data() + i * kw, l.n_head_kv, l.head_dim_k),
                           stored(cfg.type_v, v.data() + i * vw, l.n_head_kv, l.head_dim_v)};
    }
  }

  void remove(int seq, int32_t p0, int32_t p1) {
    cache->remove(seq, p0, p1);
    for (auto& [key, sh] : shadow)
      if (key.second == seq)
        for (auto it = sh.lower_bound(p0); it != sh.end() && (p1 < 0 || it->first < p1);) it = sh.erase(it);
  }

  // Attention of queries at `pos` on layer il, compared with the reference. Returns max error.
  double check(ThreadPool& pool, int il, int seq, const std::vector<int32_t>& pos, int n_head, ops::AttnParams p,
               std::vector<float>* out_copy = nullptr, const std::vector<float>* q_in = nullptr) {
    const kv::LayerSpec& l = cfg.layers[cache->source_layer(il)];
    const int dk = l.head_dim_k, dv = l.head_dim_v;
    const int64_t n_q = static_cast<int64_t>(pos.size());
    std::vector<float> q = q_in ? *q_in : rand(static_cast<size_t>(n_q) * n_head * dk);
    std::vector<float> out(static_cast<size_t>(n_q) * n_head * dv, -7.0f);
    kv::attention(pool, *cache, il, seq, q.data(), 0, pos.data(), n_q, n_head, out.data(), 0, p, scratch);
    p.mask.window = cache->window(il);
    const auto ref = reference(shadow[{cache->source_layer(il), seq}], q, pos, n_head, l.n_head_kv, dk, dv, p);
    double err = 0;
    for (size_t i = 0; i < out.size(); ++i) err = std::max(err, std::fabs(out[i] - ref[i]));
    if (out_copy) *out_copy = out;
    return err;
  }
};

std::vector<int32_t> range(int32_t a, int32_t n) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = a + i;
  return v;
}

const quant::Type kTypes[] = {quant::Type::F32, quant::Type::F16, quant::Type::BF16, quant::Type::Q8_0,
                              quant::Type::Q4_0};
constexpr double kTol = 2e-5;

}  // namespace

TEST(KvAttention, FullLayerEveryTypeAndGqa) {
  ThreadPool pool1(1), pool3(3);
  for (quant::Type t : kTypes) {
    for (int G : {1, 2, 4}) {
      for (int d : {32, 64}) {
        kv::CacheConfig cfg;
        cfg.layers = {kv::LayerSpec{kv::LayerKind::Full, 2, d, d}};
        cfg.type_k = cfg.type_v = t;
        cfg.n_ctx = 200;
        cfg.n_batch = 64;
        Harness hx(cfg);
        const int n_head = 2 * G;
        ops::AttnParams p;
        p.scale = 1.0f / std::sqrt(float(d));
        int32_t pos = 0;
        for (int32_t n : {37, 1, 1, 50, 3}) {
          hx.append(0, pos, n);
          std::vector<float> q = hx.rand(static_cast<size_t>(n) * n_head * d), o1, o3;
          EXPECT_LT(hx.check(pool1, 0, 0, range(pos, n), n_head, p, &o1, &q), kTol)
              << quant::type_name(t) << " G=" << G << " d=" << d << " pos=" << pos;
          EXPECT_LT(hx.check(pool3, 0, 0, range(pos, n), n_head, p, &o3, &q), kTol)
              << quant::type_name(t) << " G=" << G << " d=" << d << " pos=" << pos << " (3 threads)";
          EXPECT_EQ(o1, o3);
          pos += n;
        }
      }
    }
  }
}

TEST(KvAttention, KeyAndValueDimsAndTypesMayDiffer) {
  ThreadPool pool(2);
  kv::CacheConfig cfg;
  cfg.layers = {kv::LayerSpec{kv::LayerKind::Full, 1, 64, 32}};
  cfg.type_k = quant::Type::Q8_0;
  cfg.type_v = quant::Type::F16;
  cfg.n_ctx = 64;
  Harness hx(cfg);
  hx.append(0, 0, 40);
  ops::AttnParams p;
  p.scale = 0.125f;
  p.softcap = 2.0f;  // with a cap small enough to matter
  EXPECT_LT(hx.check(pool, 0, 0, range(0, 40), 3, p), kTol);
}

TEST(KvAttention, SlidingRingWrapsAndRollsBack) {
  ThreadPool pool(3);
  for (quant::Type t : {quant::Type::F16, quant::Type::Q4_0}) {
    kv::CacheConfig cfg;
    cfg.layers = {kv::LayerSpec{kv::LayerKind::Sliding, 2, 32, 32, 16}};
    cfg.type_k = cfg.type_v = t;
    cfg.n_ctx = 1000;
    cfg.n_batch = 8;
    cfg.swa_pad = 1;
    Harness hx(cfg);
    ASSERT_EQ(kv::KvCache::cells(cfg, 0), 24);  // window + n_batch: independent of n_ctx
    ops::AttnParams p;
    p.scale = 0.2f;
    std::uniform_int_distribution<int> bs(1, 8);
    int32_t pos = 0;
    for (int step = 0; step < 60; ++step) {
      const int32_t n = bs(hx.rng);
      hx.append(0, pos, n);
      ASSERT_LT(hx.check(pool, 0, 0, range(pos, n), 4, p), kTol) << "step " << step << " pos " << pos;
      pos += n;
      if (step % 7 == 3) {  // speculative rollback of up to one ubatch, then rewrite
        const int32_t back = std::min<int32_t>(n, 1 + step % 5);
        hx.remove(0, pos - back, -1);
        pos -= back;
        ASSERT_EQ(hx.cache->pos_max(0), pos - 1);
      }
    }
    EXPECT_GT(pos, 3 * 24);  // the ring wrapped several times
  }
}

TEST(KvAttention, SharedLayersReadTheirSourceAndHeadDimsDifferPerLayer) {
  ThreadPool pool(2);
  kv::CacheConfig cfg;
  cfg.layers = {kv::LayerSpec{kv::LayerKind::Sliding, 2, 32, 32, 8}, kv::LayerSpec{kv::LayerKind::Full, 1, 64, 64},
                kv::LayerSpec{kv::LayerKind::Shared, 0, 0, 0, 0, 0}, kv::LayerSpec{kv::LayerKind::Shared, 0, 0, 0, 0, 1}};
  cfg.n_ctx = 128;
  cfg.n_batch = 16;
  cfg.swa_pad = 8;
  Harness hx(cfg);
  EXPECT_EQ(kv::KvCache::layer_bytes(cfg, 2), 0u);
  EXPECT_EQ(kv::KvCache::layer_bytes(cfg, 3), 0u);
  EXPECT_EQ(hx.cache->window(2), 8);
  EXPECT_EQ(hx.cache->window(3), 0);
  ops::AttnParams p;
  int32_t pos = 0;
  for (int32_t n : {16, 5, 1, 16, 16, 2}) {
    hx.append(0, pos, n);
    for (int il = 0; il < 4; ++il) {
      const int d = cfg.layers[hx.cache->source_layer(il)].head_dim_k;
      std::vector<float> q = hx.rand(static_cast<size_t>(n) * 4 * d), o_shared, o_src;
      EXPECT_LT(hx.check(pool, il, 0, range(pos, n), 4, p, &o_shared, &q), kTol) << "layer " << il;
      if (il >= 2) {  // same q on the source layer gives the same output
        hx.check(pool, hx.cache->source_layer(il), 0, range(pos, n), 4, p, &o_src, &q);
        EXPECT_EQ(o_shared, o_src);
      }
    }
    pos += n;
  }
}

TEST(KvAttention, BidirectionalSpanOnSlidingLayer) {
  ThreadPool pool(3);
  kv::CacheConfig cfg;
  cfg.layers = {kv::LayerSpec{kv::LayerKind::Sliding, 1, 32, 32, 12}};
  cfg.n_ctx = 256;
  cfg.n_batch = 32;
  cfg.swa_pad = 1;
  Harness hx(cfg);
  hx.append(0, 0, 20);             // text
  hx.append(0, 20, 10);            // an "image": positions [20, 30) see each other
  ops::AttnParams p;
  p.mask.span_begin = 20;
  p.mask.span_end = 30;
  std::vector<float> out_span, out_causal;
  std::vector<float> q = hx.rand(10 * 2 * 32);
  EXPECT_LT(hx.check(pool, 0, 0, range(20, 10), 2, p, &out_span, &q), kTol);
  ops::AttnParams causal;
  EXPECT_LT(hx.check(pool, 0, 0, range(20, 10), 2, causal, &out_causal, &q), kTol);
  // The first image token sees later ones only with the span: outputs must differ there,
  // and agree for the last token (it sees the same keys either way).
  EXPECT_NE(std::vector<float>(out_span.begin(), out_span.begin() + 64),
            std::vector<float>(out_causal.begin(), out_causal.begin() + 64));
  EXPECT_EQ(std::vector<float>(out_span.end() - 64, out_span.end()),
            std::vector<float>(out_causal.end() - 64, out_causal.end()));
  hx.append(0, 30, 4);  // text after the image is causal again
  EXPECT_LT(hx.check(pool, 0, 0, range(30, 4), 2, p), kTol);
}

TEST(KvAttention, DecodeSplitsLongKeyRanges) {
  // One KV head and one query row: the only way to use several threads is splitting the keys.
  ThreadPool pool1(1), pool4(4);
  for (quant::Type t : {quant::Type::F16, quant::Type::Q8_0}) {
    kv::CacheConfig cfg;
    const int d = t == quant::Type::F16 ? 256 : 512;  // 512: Gemma 4 full layers (smaller tiles)
    cfg.layers = {kv::LayerSpec{kv::LayerKind::Full, 1, d, d}};
    cfg.type_k = cfg.type_v = t;
    cfg.n_ctx = 3100;
    Harness hx(cfg);
    int32_t pos = 0;
    while (pos < 2600) {
      hx.append(0, pos, 512);
      pos += 512;
    }
    hx.append(0, pos, 1);
    ops::AttnParams p;
    p.scale = 0.0625f;
    std::vector<float> q = hx.rand(8 * d), o1, o4;
    EXPECT_LT(hx.check(pool1, 0, 0, {pos}, 8, p, &o1, &q), kTol);
    EXPECT_LT(hx.check(pool4, 0, 0, {pos}, 8, p, &o4, &q), kTol);
    EXPECT_EQ(o1, o4);  // the split does not depend on the thread count
    // Queries in the middle of the context (causal mask cuts the range) also split correctly.
    EXPECT_LT(hx.check(pool4, 0, 0, {1000, 2999, 5}, 8, p), kTol);
  }
}

TEST(KvAttention, SequencesAreIndependentAndPrefixCopiesMatch) {
  ThreadPool pool(2);
  kv::CacheConfig cfg;
  cfg.layers = {kv::LayerSpec{kv::LayerKind::Sliding, 1, 32, 32, 6}, kv::LayerSpec{kv::LayerKind::Full, 1, 32, 32}};
  cfg.n_seq = 3;
  cfg.n_ctx = 64;
  cfg.n_batch = 4;
  cfg.swa_pad = 1;
  Harness hx(cfg);
  int32_t pos = 0;
  for (int32_t n : {4, 4, 3, 4}) {
    hx.append(0, pos, n);
    hx.append(1, pos, n);  // different random data in sequence 1
    pos += n;
  }
  // copy the first 13 positions of seq 0 to seq 2: attention of a query at 12 on seq 2 equals seq 0's
  hx.cache->copy_prefix(0, 2, 13);
  EXPECT_EQ(hx.cache->pos_max(2), 12);
  EXPECT_TRUE(hx.cache->contains(2, 12));
  EXPECT_FALSE(hx.cache->contains(2, 13));
  for (int il = 0; il < 2; ++il) {
    std::vector<float> q = hx.rand(2 * 32), a, b, c;
    ops::AttnParams p;
    hx.check(pool, il, 0, {12}, 2, p, &a, &q);
    hx.shadow[{il, 2}] = {};
    for (auto& [ps, row] : hx.shadow[{il, 0}])
      if (ps < 13) hx.shadow[{il, 2}][ps] = row;
    EXPECT_LT(hx.check(pool, il, 2, {12}, 2, p, &b, &q), kTol);
    EXPECT_EQ(a, b) << "layer " << il;
    EXPECT_LT(hx.check(pool, il, 1, {12}, 2, p, &c, &q), kTol);
    EXPECT_NE(a, c);
  }
  // the copy continues independently
  hx.append(2, 13, 2);
  EXPECT_LT(hx.check(pool, 0, 2, {13, 14}, 2, ops::AttnParams{}), kTol);
}

TEST(KvAttention, QueryOutsideTheRingIsRefused) {
  ThreadPool pool(1);
  kv::CacheConfig cfg;
  cfg.layers = {kv::LayerSpec{kv::LayerKind::Sliding, 1, 32, 32, 4}};
  cfg.n_ctx = 100;
  cfg.n_batch = 4;
  cfg.swa_pad = 1;
  Harness hx(cfg);
  for (int32_t p = 0; p < 40; p += 4) hx.append(0, p, 4);
  EXPECT_LT(hx.check(pool, 0, 0, {39}, 1, ops::AttnParams{}), kTol);
  EXPECT_THROW(hx.check(pool, 0, 0, {10}, 1, ops::AttnParams{}), fitserve::core::Error);
}

TEST(KvAttention, PositionGapsInARingNeverExposeOlderCells) {
  // Skipping positions leaves ring cells holding older positions with the same residue; those
  // must not be taken for the missing ones.
  ThreadPool pool(1);
  kv::CacheConfig cfg;
  cfg.layers = {kv::LayerSpec{kv::LayerKind::Sliding, 1, 32, 32, 6}};
  cfg.n_ctx = 100;
  cfg.n_batch = 4;
  cfg.swa_pad = 1;
  Harness hx(cfg);
  ASSERT_EQ(kv::KvCache::cells(cfg, 0), 10);
  for (int32_t p = 0; p < 12; p += 4) hx.append(0, p, 4);
  hx.append(0, 14, 2);  // positions 12 and 13 never exist; cells 2 and 3 still hold 2 and 3
  EXPECT_FALSE(hx.cache->contains(0, 12));
  EXPECT_LT(hx.check(pool, 0, 0, {14, 15}, 2, ops::AttnParams{}), kTol);
}
