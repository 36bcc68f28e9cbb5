// kv/kv_cache.cpp — storage, sizing and per-sequence position bookkeeping of the KV cache.
#include "kv/kv_cache.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"
#include "ops/vec.h"
#include "quant/quant.h"

namespace fitserve::kv {

int stored_dim(quant::Type t, int head_dim) {
  const int b = quant::type_info(t).block;
  return b > 1 ? (head_dim + b - 1) / b * b : head_dim;
}
size_t head_row_bytes(quant::Type t, int head_dim) { return quant::row_bytes(t, stored_dim(t, head_dim)); }


namespace {

[[noreturn]] void fail(const std::string& msg, const std::string& hint = {}) {
  throw core::Error("kv", msg, hint);
}

bool allowed_type(quant::Type t) {
  switch (t) {
    case quant::Type::F32: case quant::Type::F16: case quant::Type::BF16: case quant::Type::Q8_0:
    case quant::Type::Q4_0: case quant::Type::Q4_1: case quant::Type::Q5_0: case quant::Type::Q5_1:
    case quant::Type::IQ4_NL:
      return quant::can_quantize(t) && quant::can_dequantize(t);
    default:
      return false;
  }
}

std::string lname(int il) { return "layer " + std::to_string(il); }

}  // namespace

// Layers whose storage has the same cell geometry share the position bookkeeping.
struct KvCache::Group {
  int64_t cells = 0;
  bool ring = false;
  int32_t window = 0;  // largest window among the group's layers (0 = some layer is full)
  std::vector<std::vector<int32_t>> cell_pos;  // [seq][cell] position held, -1 empty
  std::vector<int32_t> evicted_max;            // [seq] largest position overwritten in the ring
  int64_t cell_of(int32_t pos) const { return ring ? pos % cells : pos; }
};

struct KvCache::Storage {
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> k, v;
  size_t k_row = 0, v_row = 0;            // bytes of one head's row
  size_t k_head = 0, v_head = 0;          // bytes between heads (cells · row)
  size_t k_seq = 0, v_seq = 0;            // bytes between sequences
};

void KvCache::validate(const CacheConfig& cfg) {
  if (cfg.layers.empty()) fail("KV cache config has no layers");
  if (cfg.n_seq < 1) fail("KV cache needs at least one sequence, got " + std::to_string(cfg.n_seq));
  if (cfg.n_ctx < 1) fail("KV cache context must be positive, got " + std::to_string(cfg.n_ctx));
  if (cfg.n_batch < 1) fail("KV cache n_batch must be positive, got " + std::to_string(cfg.n_batch));
  if (cfg.swa_pad < 1) fail("KV cache swa_pad must be positive");
  for (quant::Type t : {cfg.type_k, cfg.type_v})
    if (!allowed_type(t))
      fail(std::string("KV cache type ") + quant::type_name(t) + " is not supported",
           "use f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1 or iq4_nl");
  const int bk = quant::type_info(cfg.type_k).block, bv = quant::type_info(cfg.type_v).block;
  const int n = static_cast<int>(cfg.layers.size());
  for (int il = 0; il < n; ++il) {
    const LayerSpec& l = cfg.layers[static_cast<size_t>(il)];
    if (l.kind == LayerKind::Shared) {
      if (l.shared_with < 0 || l.shared_with >= n || l.shared_with == il)
        fail(lname(il) + " shares the KV of layer " + std::to_string(l.shared_with) + ", which does not exist");
      if (cfg.layers[static_cast<size_t>(l.shared_with)].kind == LayerKind::Shared)
        fail(lname(il) + " shares the KV of layer " + std::to_string(l.shared_with) + ", which has no storage");
      continue;
    }
    if (l.n_head_kv < 1 || l.head_dim_k < 1 || l.head_dim_v < 1)
      fail(lname(il) + ": n_head_kv and head dims must be positive");
    (void)bk;
    (void)bv;  // head rows are padded to the block size (stored_dim) when they are not a multiple
    if (l.kind == LayerKind::Sliding && l.window < 1)
      fail(lname(il) + " is a sliding-window layer with window " + std::to_string(l.window));
  }
  const unsigned __int128 total = [&] {
    unsigned __int128 s = 0;
    for (int il = 0; il < n; ++il) {
      const LayerSpec& l = cfg.layers[static_cast<size_t>(il)];
      if (l.kind == LayerKind::Shared) continue;
      const unsigned __int128 row = head_row_bytes(cfg.type_k, l.head_dim_k) * static_cast<unsigned>(l.n_head_kv) +
                                    head_row_bytes(cfg.type_v, l.head_dim_v) * static_cast<unsigned>(l.n_head_kv);
      s += row * static_cast<unsigned __int128>(cells(cfg, il)) * static_cast<unsigned>(cfg.n_seq);
    }
    return s;
  }();
  if (total > (static_cast<unsigned __int128>(1) << 52)) fail("KV cache size overflows");
}

int64_t KvCache::cells(const CacheConfig& cfg, int layer) {
  const LayerSpec& l = cfg.layers.at(static_cast<size_t>(layer));
  switch (l.kind) {
    case LayerKind::Shared: return 0;
    case LayerKind::Full: return cfg.n_ctx;
    case LayerKind::Sliding: {
      if (cfg.swa_full) return cfg.n_ctx;
      const int64_t pad = std::max<int32_t>(1, cfg.swa_pad);
      const int64_t want = (int64_t{l.window} + cfg.n_batch + pad - 1) / pad * pad;
      return std::min<int64_t>(cfg.n_ctx, want);
    }
  }
  return 0;
}

size_t KvCache::layer_bytes(const CacheConfig& cfg, int layer) {
  const LayerSpec& l = cfg.layers.at(static_cast<size_t>(layer));
  if (l.kind == LayerKind::Shared) return 0;
  const size_t row = head_row_bytes(cfg.type_k, l.head_dim_k) * static_cast<size_t>(l.n_head_kv) +
                     head_row_bytes(cfg.type_v, l.head_dim_v) * static_cast<size_t>(l.n_head_kv);
  return row * static_cast<size_t>(cells(cfg, layer)) * static_cast<size_t>(cfg.n_seq);
}

size_t KvCache::total_bytes(const CacheConfig& cfg) {
  size_t s = 0;
  for (int il = 0; il < static_cast<int>(cfg.layers.size()); ++il) s += layer_bytes(cfg, il);
  return s;
}

KvCache::KvCache(CacheConfig cfg) : cfg_(std::move(cfg)) {
  validate(cfg_);
  const int n = n_layers();
  source_.resize(static_cast<size_t>(n));
  group_of_.assign(static_cast<size_t>(n), -1);
  storage_.resize(static_cast<size_t>(n));
  pos_max_.assign(static_cast<size_t>(cfg_.n_seq), -1);
  for (int il = 0; il < n; ++il) {
    const LayerSpec& l = cfg_.layers[static_cast<size_t>(il)];
    source_[static_cast<size_t>(il)] = l.kind == LayerKind::Shared ? l.shared_with : il;
    if (l.kind == LayerKind::Shared) continue;
    const int64_t C = cells(cfg_, il);
    const bool ring = C < cfg_.n_ctx;
    const int32_t w = l.kind == LayerKind::Sliding ? l.window : 0;
    int g = -1;
    for (size_t i = 0; i < groups_.size(); ++i)
      if (groups_[i].cells == C && groups_[i].ring == ring) g = static_cast<int>(i);
    if (g < 0) {
      Group grp;
      grp.cells = C;
      grp.ring = ring;
      grp.window = w;
      grp.cell_pos.assign(static_cast<size_t>(cfg_.n_seq), std::vector<int32_t>(static_cast<size_t>(C), -1));
      grp.evicted_max.assign(static_cast<size_t>(cfg_.n_seq), -1);
      groups_.push_back(std::move(grp));
      g = static_cast<int>(groups_.size()) - 1;
    } else {
      Group& grp = groups_[static_cast<size_t>(g)];
      grp.window = (grp.window == 0 || w == 0) ? 0 : std::max(grp.window, w);
    }
    group_of_[static_cast<size_t>(il)] = g;

    auto st = std::make_unique<Storage>();
    st->k_row = head_row_bytes(cfg_.type_k, l.head_dim_k);
    st->v_row = head_row_bytes(cfg_.type_v, l.head_dim_v);
    st->k_head = st->k_row * static_cast<size_t>(C);
    st->v_head = st->v_row * static_cast<size_t>(C);
    st->k_seq = st->k_head * static_cast<size_t>(l.n_head_kv);
    st->v_seq = st->v_head * static_cast<size_t>(l.n_head_kv);
    const size_t kb = st->k_seq * static_cast<size_t>(cfg_.n_seq), vb = st->v_seq * static_cast<size_t>(cfg_.n_seq);
    st->k.reset(static_cast<uint8_t*>(std::calloc(kb, 1)));
    st->v.reset(static_cast<uint8_t*>(std::calloc(vb, 1)));
    if (!st->k || !st->v)
      throw core::Error("oom", "cannot allocate " + std::to_string(kb + vb) + " bytes of KV cache for " + lname(il),
                        "lower the context (-c) or use a quantized KV cache (-ctk/-ctv q8_0)");
    bytes_ += kb + vb;
    storage_[static_cast<size_t>(il)] = std::move(st);
  }
}

KvCache::~KvCache() = default;

int KvCache::source_layer(int layer) const {
  if (layer < 0 || layer >= n_layers()) fail("no " + lname(layer) + " in the KV cache");
  return source_[static_cast<size_t>(layer)];
}

int32_t KvCache::window(int layer) const {
  const LayerSpec& l = cfg_.layers[static_cast<size_t>(source_layer(layer))];
  return l.kind == LayerKind::Sliding ? l.window : 0;
}

void KvCache::check_seq(int seq) const {
  if (seq < 0 || seq >= cfg_.n_seq)
    fail("sequence " + std::to_string(seq) + " out of range (the cache has " + std::to_string(cfg_.n_seq) + ")");
}

void KvCache::reserve(int seq, int32_t pos0, int32_t n) {
  check_seq(seq);
  if (n < 1) return;
  if (n > cfg_.n_batch)
    fail("ubatch of " + std::to_string(n) + " tokens exceeds the KV cache's n_batch " + std::to_string(cfg_.n_batch));
  if (pos0 <= pos_max_[static_cast<size_t>(seq)] || pos0 < 0)
    fail("position " + std::to_string(pos0) + " of sequence " + std::to_string(seq) +
             " does not follow its last position " + std::to_string(pos_max_[static_cast<size_t>(seq)]),
         "remove() positions before rewriting them");
  if (int64_t{pos0} + n > cfg_.n_ctx)
    fail("sequence " + std::to_string(seq) + " would reach position " + std::to_string(int64_t{pos0} + n - 1) +
             " but the context holds " + std::to_string(cfg_.n_ctx),
         "raise the context size (-c)");
  // Rings: nothing a query at pos0 or later can see may be overwritten or already lost.
  for (const Group& g : groups_) {
    if (!g.ring) continue;
    const int64_t oldest_needed = int64_t{pos0} - g.window + 1;
    const std::vector<int32_t>& cp = g.cell_pos[static_cast<size_t>(seq)];
    const int32_t ev = g.evicted_max[static_cast<size_t>(seq)];
    bool clash = n > g.cells || (ev >= 0 && ev >= oldest_needed);
    for (int32_t i = 0; i < n && !clash; ++i) {
      const int32_t old = cp[static_cast<size_t>(g.cell_of(pos0 + i))];
      clash = old >= 0 && old >= oldest_needed;
    }
    if (clash)
      fail("the sliding-window cache (" + std::to_string(g.cells) + " cells, window " + std::to_string(g.window) +
               ") cannot take positions " + std::to_string(pos0) + ".." + std::to_string(int64_t{pos0} + n - 1) +
               " of sequence " + std::to_string(seq),
           "ubatches must not exceed n_batch, and rollback may not go back further than one ubatch");
  }
  for (Group& g : groups_) {
    std::vector<int32_t>& cp = g.cell_pos[static_cast<size_t>(seq)];
    int32_t& ev = g.evicted_max[static_cast<size_t>(seq)];
    for (int32_t i = 0; i < n; ++i) {
      int32_t& c = cp[static_cast<size_t>(g.cell_of(pos0 + i))];
      if (c >= 0) ev = std::max(ev, c);
      c = pos0 + i;
    }
  }
  pos_max_[static_cast<size_t>(seq)] = pos0 + n - 1;
}

void KvCache::write(int layer, int seq, int32_t pos0, int32_t n, const float* k, size_t k_stride,
                    const float* v, size_t v_stride) {
  check_seq(seq);
  if (layer < 0 || layer >= n_layers() || !storage_[static_cast<size_t>(layer)])
    fail(lname(layer) + " has no KV storage to write");
  const LayerSpec& l = cfg_.layers[static_cast<size_t>(layer)];
  const Storage& st = *storage_[static_cast<size_t>(layer)];
  const Group& g = groups_[static_cast<size_t>(group_of_[static_cast<size_t>(layer)])];
  const std::vector<int32_t>& cp = g.cell_pos[static_cast<size_t>(seq)];
  if (k_stride == 0) k_stride = static_cast<size_t>(l.n_head_kv) * l.head_dim_k;
  if (v_stride == 0) v_stride = static_cast<size_t>(l.n_head_kv) * l.head_dim_v;
  const ops::VecKernels& vk = ops::vec_kernels();
  std::vector<float> padded;
  auto put = [&](quant::Type t, const float* src, uint8_t* dst, int d) {
    if (t == quant::Type::F32) std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(d));
    else if (t == quant::Type::F16) vk.f32_to_f16(src, reinterpret_cast<uint16_t*>(dst), d);
    else if (stored_dim(t, d) == d) quant::quantize_row(t, src, dst, d);
    else {  // a head row shorter than a block: zero-padded to whole blocks
      padded.assign(static_cast<size_t>(stored_dim(t, d)), 0.0f);
      std::memcpy(padded.data(), src, sizeof(float) * static_cast<size_t>(d));
      quant::quantize_row(t, padded.data(), dst, stored_dim(t, d));
    }
  };
  uint8_t* kseq = st.k.get() + st.k_seq * static_cast<size_t>(seq);
  uint8_t* vseq = st.v.get() + st.v_seq * static_cast<size_t>(seq);
  for (int32_t i = 0; i < n; ++i) {
    const int32_t p = pos0 + i;
    if (p < 0 || p >= cfg_.n_ctx || cp[static_cast<size_t>(g.cell_of(p))] != p)
      fail("write to position " + std::to_string(p) + " of sequence " + std::to_string(seq) + " in " + lname(layer) +
           " that was not reserved");
    const size_t cell = static_cast<size_t>(g.cell_of(p));
    for (int h = 0; h < l.n_head_kv; ++h) {
      put(cfg_.type_k, k + i * k_stride + static_cast<size_t>(h) * l.head_dim_k,
          kseq + st.k_head * static_cast<size_t>(h) + st.k_row * cell, l.head_dim_k);
      put(cfg_.type_v, v + i * v_stride + static_cast<size_t>(h) * l.head_dim_v,
          vseq + st.v_head * static_cast<size_t>(h) + st.v_row * cell, l.head_dim_v);
    }
  }
}

void KvCache::recompute_pos_max(int seq) {
  int32_t m = -1;
  for (const Group& g : groups_) {
    const std::vector<int32_t>& cp = g.cell_pos[static_cast<size_t>(seq)];
    if (g.ring) {
      for (int32_t p : cp) m = std::max(m, p);
    } else {  // cell == position: scan down from the old maximum
      for (int64_t c = std::min<int64_t>(pos_max_[static_cast<size_t>(seq)], g.cells - 1); c > m; --c)
        if (cp[static_cast<size_t>(c)] >= 0) {
          m = static_cast<int32_t>(c);
          break;
        }
    }
  }
  pos_max_[static_cast<size_t>(seq)] = m;
}

void KvCache::remove(int seq, int32_t p0, int32_t p1) {
  check_seq(seq);
  if (p1 < 0) p1 = INT32_MAX;
  p0 = std::max(p0, 0);
  if (p0 >= p1) return;
  for (Group& g : groups_) {
    std::vector<int32_t>& cp = g.cell_pos[static_cast<size_t>(seq)];
    if (g.ring) {
      for (int32_t& c : cp)
        if (c >= p0 && c < p1) c = -1;
    } else {
      const int64_t end = std::min<int64_t>({p1, g.cells, int64_t{pos_max_[static_cast<size_t>(seq)]} + 1});
      for (int64_t c = p0; c < end; ++c) cp[static_cast<size_t>(c)] = -1;
    }
    int32_t& ev = g.evicted_max[static_cast<size_t>(seq)];
    if (ev >= p0 && ev < p1) ev = p0 - 1;  // lost positions in the range no longer matter
  }
  recompute_pos_max(seq);
}

void KvCache::clear(int seq) {
  check_seq(seq);
  for (Group& g : groups_) {
    std::fill(g.cell_pos[static_cast<size_t>(seq)].begin(), g.cell_pos[static_cast<size_t>(seq)].end(), -1);
    g.evicted_max[static_cast<size_t>(seq)] = -1;
  }
  pos_max_[static_cast<size_t>(seq)] = -1;
}

void KvCache::clear() {
  for (int s = 0; s < cfg_.n_seq; ++s) clear(s);
}

void KvCache::copy_prefix(int src, int dst, int32_t n) {
  check_seq(src);
  check_seq(dst);
  if (src == dst) fail("copy_prefix needs two different sequences");
  clear(dst);
  n = std::min(n, pos_max_[static_cast<size_t>(src)] + 1);
  if (n <= 0) return;
  for (int il = 0; il < n_layers(); ++il) {
    const Storage* st = storage_[static_cast<size_t>(il)].get();
    if (!st) continue;
    const Group& g = groups_[static_cast<size_t>(group_of_[static_cast<size_t>(il)])];
    const size_t ncell = static_cast<size_t>(g.ring ? g.cells : n);  // rings: copy every cell
    const int heads = cfg_.layers[static_cast<size_t>(il)].n_head_kv;
    for (int h = 0; h < heads; ++h) {
      const size_t ko = st->k_head * static_cast<size_t>(h), vo = st->v_head * static_cast<size_t>(h);
      std::memcpy(st->k.get() + st->k_seq * dst + ko, st->k.get() + st->k_seq * src + ko, st->k_row * ncell);
      std::memcpy(st->v.get() + st->v_seq * dst + vo, st->v.get() + st->v_seq * src + vo, st->v_row * ncell);
    }
  }
  for (Group& g : groups_) {
    const std::vector<int32_t>& s = g.cell_pos[static_cast<size_t>(src)];
    std::vector<int32_t>& d = g.cell_pos[static_cast<size_t>(dst)];
    for (size_t c = 0; c < s.size(); ++c) d[c] = s[c] < n ? s[c] : -1;
    g.evicted_max[static_cast<size_t>(dst)] = std::min(g.evicted_max[static_cast<size_t>(src)], n - 1);
  }
  pos_max_[static_cast<size_t>(dst)] = n - 1;
  recompute_pos_max(dst);
}

int32_t KvCache::pos_max(int seq) const {
  check_seq(seq);
  return pos_max_[static_cast<size_t>(seq)];
}

bool KvCache::contains(int seq, int32_t pos) const {
  check_seq(seq);
  if (pos < 0 || pos >= cfg_.n_ctx) return false;
  for (const Group& g : groups_)
    if (g.cell_pos[static_cast<size_t>(seq)][static_cast<size_t>(g.cell_of(pos))] != pos) return false;
  return true;
}

int32_t KvCache::min_query_pos(int seq) const {
  check_seq(seq);
  int64_t m = 0;
  for (const Group& g : groups_)
    if (g.ring && g.evicted_max[static_cast<size_t>(seq)] >= 0)
      m = std::max<int64_t>(m, int64_t{g.evicted_max[static_cast<size_t>(seq)]} + g.window);
  return static_cast<int32_t>(std::min<int64_t>(m, INT32_MAX));
}

ops::KvView KvCache::view(int layer, int seq) const {
  check_seq(seq);
  const int src = source_layer(layer);
  const LayerSpec& l = cfg_.layers[static_cast<size_t>(src)];
  const Storage& st = *storage_[static_cast<size_t>(src)];
  const Group& g = groups_[static_cast<size_t>(group_of_[static_cast<size_t>(src)])];
  ops::KvView v;
  v.type_k = cfg_.type_k;
  v.type_v = cfg_.type_v;
  v.n_head_kv = l.n_head_kv;
  v.head_dim_k = l.head_dim_k;
  v.head_dim_v = l.head_dim_v;
  v.stored_dim_k = stored_dim(cfg_.type_k, l.head_dim_k);
  v.stored_dim_v = stored_dim(cfg_.type_v, l.head_dim_v);
  v.k = st.k.get() + st.k_seq * static_cast<size_t>(seq);
  v.k_head_stride = st.k_head;
  v.k_row_stride = st.k_row;
  v.v = st.v.get() + st.v_seq * static_cast<size_t>(seq);
  v.v_head_stride = st.v_head;
  v.v_row_stride = st.v_row;
  v.cell_pos = g.cell_pos[static_cast<size_t>(seq)].data();
  v.n_cells = g.cells;
  v.ring = g.ring;
  v.pos_max = pos_max_[static_cast<size_t>(seq)];
  return v;
}

}  // namespace fitserve::kv
