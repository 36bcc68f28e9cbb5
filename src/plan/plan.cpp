// plan/plan.cpp — KV layout, compute/output buffers, the plan table, fitting under a cap.
#include "plan/plan.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <cstdio>

#include "core/error.h"

namespace fitserve::plan {

namespace {

constexpr int64_t kCellPad = 256;

int64_t pad(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

// Products and sums of sizes; absurd header values must give an error, not wrapped numbers.
uint64_t mul(std::initializer_list<uint64_t> xs) {
  uint64_t r = 1;
  for (uint64_t x : xs)
    if (__builtin_mul_overflow(r, x, &r) || r > (uint64_t(1) << 62))
      throw core::Error("model", "buffer sizes overflow 64 bits", "the model header has absurd dimensions");
  return r;
}

int64_t eff_ubatch(const RunSettings& s, int64_t n_ctx) {
  int64_t n = std::min(s.n_batch, s.n_ubatch);
  if (n_ctx > 0) n = std::min(n, n_ctx);
  return std::max<int64_t>(n, 1);
}

bool allowed_cache_type(quant::Type t) {
  using quant::Type;
  switch (t) {
    case Type::F32: case Type::F16: case Type::BF16: case Type::Q8_0: case Type::Q4_0:
    case Type::Q4_1: case Type::IQ4_NL: case Type::Q5_0: case Type::Q5_1: return true;
    default: return false;
  }
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string tname(quant::Type t) { return lower(quant::type_name(t)); }

std::string fmt_int(int64_t v) { return std::to_string(v); }

std::string params_str(int64_t n) {
  char b[32];
  if (n >= 1000000000) std::snprintf(b, sizeof b, "%.2f B", n / 1e9);
  else if (n >= 1000000) std::snprintf(b, sizeof b, "%.1f M", n / 1e6);
  else if (n >= 1000) std::snprintf(b, sizeof b, "%.1f K", n / 1e3);
  else std::snprintf(b, sizeof b, "%lld", static_cast<long long>(n));
  return b;
}

int64_t resolve_ctx(const ModelHeaders& m, const RunSettings& s) {
  if (s.n_ctx > 0) return s.n_ctx;
  int64_t train = m.n_ctx_train > 0 ? m.n_ctx_train : 4096;
  return train * s.n_seq;
}

}  // namespace

void check_settings(const RunSettings& s) {
  auto bad = [](const std::string& m, const std::string& h = {}) { throw core::Error("usage", m, h); };
  if (s.n_ctx < 0 || s.n_ctx > (int64_t(1) << 32)) bad("context size " + fmt_int(s.n_ctx) + " is out of range");
  if (s.n_seq < 1 || s.n_seq > 4096) bad("number of parallel sequences " + fmt_int(s.n_seq) + " is out of range [1, 4096]");
  if (s.n_batch < 1 || s.n_batch > (1 << 20)) bad("batch size " + fmt_int(s.n_batch) + " is out of range");
  if (s.n_ubatch < 1 || s.n_ubatch > (1 << 20)) bad("micro-batch size " + fmt_int(s.n_ubatch) + " is out of range");
  if (s.n_draft < 0 || s.n_draft > 256) bad("draft length " + fmt_int(s.n_draft) + " is out of range [0, 256]");
  if (s.n_outputs_max < 0 || s.n_outputs_max > (1 << 20)) bad("n_outputs_max " + fmt_int(s.n_outputs_max) + " is out of range");
  if (s.image_max_tokens < 0 || s.image_max_tokens > (1 << 20)) bad("image token limit is out of range");
  for (auto [t, opt] : {std::pair{s.type_k, "-ctk"}, std::pair{s.type_v, "-ctv"}})
    if (!allowed_cache_type(t))
      bad(std::string(opt) + " " + tname(t) + " is not a KV cache type",
          "use one of f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1");
}

KvLayout kv_layer_layout(const ModelHeaders& m, const RunSettings& s) {
  KvLayout kv;
  kv.type_k = s.type_k;
  kv.type_v = s.type_v;
  if (m.kind == ModelKind::Mmproj) return kv;
  int64_t n_ctx = pad(resolve_ctx(m, s), kCellPad);
  if (s.kv_unified || s.n_seq == 1) {
    kv.n_stream = 1;
    kv.n_ctx_seq = n_ctx;
  } else {
    kv.n_stream = s.n_seq;
    kv.n_ctx_seq = pad(std::max<int64_t>(n_ctx / s.n_seq, 1), kCellPad);
    n_ctx = kv.n_ctx_seq * s.n_seq;
  }
  kv.n_ctx = n_ctx;
  const int64_t n_ub = eff_ubatch(s, n_ctx);
  kv.cells_full = kv.n_ctx_seq;
  if (s.swa_full || m.n_swa == 0) {
    kv.cells_swa = kv.n_ctx_seq;
  } else {
    int64_t want = m.n_swa * (s.kv_unified ? s.n_seq : 1) + n_ub;
    kv.cells_swa = pad(std::min(kv.n_ctx_seq, want), kCellPad);
  }
  const auto& tk = quant::type_info(s.type_k);
  const auto& tv = quant::type_info(s.type_v);
  kv.layers.resize(m.layers.size());
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const LayerShape& ls = m.layers[l];
    KvLayer& o = kv.layers[l];
    o.layer = static_cast<int>(l);
    o.swa = ls.swa;
    o.owns = ls.owns_kv;
    o.source = ls.kv_source;
    o.k_width = ls.k_width();
    o.v_width = ls.v_width();
    if (ls.kv_source >= 0) o.cells = ls.swa ? kv.cells_swa : kv.cells_full;
    if (!ls.owns_kv) {
      kv.n_shared += 1;
      continue;
    }
    if (o.k_width % tk.block != 0 || o.v_width % tv.block != 0) {
      bool kbad = o.k_width % tk.block != 0;
      throw core::Error("usage",
                        std::string(kbad ? "-ctk " : "-ctv ") + tname(kbad ? s.type_k : s.type_v) + " needs cache rows that are a multiple of " +
                            std::to_string(kbad ? tk.block : tv.block) + " elements, but layer " + std::to_string(l) +
                            " of " + m.name + " has " + std::to_string(kbad ? o.k_width : o.v_width) + " (n_head_kv x head dim)",
                        "use f16 (or another type whose block divides the row) for this model");
    }
    o.k_row = quant::row_bytes(s.type_k, o.k_width);
    o.v_row = quant::row_bytes(s.type_v, o.v_width);
    o.bytes = mul({static_cast<uint64_t>(kv.n_stream), static_cast<uint64_t>(o.cells), o.k_row + o.v_row});
    if (ls.swa) {
      kv.bytes_swa += o.bytes;
      kv.n_swa += 1;
    } else {
      kv.bytes_full += o.bytes;
      kv.n_full += 1;
    }
  }
  return kv;
}

ComputeBuffers compute_buffers(const ModelHeaders& m, const RunSettings& s, const KvLayout& kv) {
  ComputeBuffers c;
  const bool assistant = m.kind == ModelKind::Assistant;
  const uint64_t n = static_cast<uint64_t>(assistant ? s.n_seq : eff_ubatch(s, kv.n_ctx));
  c.n_tokens = static_cast<int64_t>(n);
  const uint64_t E = m.n_embd, H = m.max_n_head(), Hkv = m.max_n_head_kv(), d = m.max_head_dim();
  const uint64_t ff = m.max_n_ff();
  c.hidden = mul({3, n, E, 4});
  c.attention = mul({n, 4, 2 * H * d + 2 * Hkv * d});
  c.ffn = mul({2, n, ff, 4});
  if (m.n_expert > 0) {
    uint64_t k = std::max<int64_t>(m.n_expert_used, 1);
    c.moe = mul({n, 4, m.n_expert + mul({2, k, static_cast<uint64_t>(m.n_ff_exp)}) + mul({k, E})});
  }
  if (m.n_embd_per_layer > 0) c.ple = mul({2, n, static_cast<uint64_t>(m.n_embd_per_layer), static_cast<uint64_t>(m.n_layer), 4});
  uint64_t max_in = std::max({E, ff, H * d, static_cast<uint64_t>(m.n_ff_exp)});
  c.quant_work = mul({n, max_in, 2});
  bool any_full = false, any_swa = false;
  for (const auto& l : kv.layers)
    if (l.cells > 0 || assistant) (l.swa ? any_swa : any_full) = true;
  if (assistant) {
    // The assistant attends over the target's caches (its full and SWA ones).
    any_full = kv.cells_full > 0;
    any_swa = kv.cells_swa > 0 && kv.n_swa > 0;
    c.other = mul({n, 4, 3 * static_cast<uint64_t>(m.n_embd_out) + static_cast<uint64_t>(m.n_vocab)});  // rows, logits
  }
  // fitserve's attention applies the causal / window / span mask on the fly while it scans the
  // cache, so no KQ-mask buffer exists (the reference allocates f16 masks of cells x n_tok; the
  // plan-accuracy test measured compute flat from 4K to 64K context). any_full/any_swa stay for
  // the day a kernel needs one.
  (void)any_full;
  (void)any_swa;
  c.masks = 0;
  return c;
}

ComputeBuffers mmproj_compute(const ModelHeaders& mm, const RunSettings& s, int64_t n_embd_text) {
  ComputeBuffers c;
  const auto& p = mm.mm;
  const uint64_t T = s.image_max_tokens;
  const uint64_t D = p.width, E = n_embd_text > 0 ? n_embd_text : mm.n_embd;
  if (!p.has_vision || T == 0) return c;
  if (p.projector == "gemma4uv") {
    const uint64_t P = p.patch * 3, in = mul({3, P, P});  // 48x48x3 = 6912
    c.n_tokens = static_cast<int64_t>(T);
    c.other = mul({2, T, in, 4}) + mul({T, E, 4});       // raw + normed patches, output rows
    c.hidden = mul({3, T, D, 4});
    c.quant_work = mul({T, std::max(in, D), 2});
    return c;
  }
  const uint64_t k = p.pool, N = mul({k, k, T}), P = p.patch, F = p.n_ff;
  c.n_tokens = static_cast<int64_t>(N);
  c.other = mul({N, 3, P, P, 4}) + mul({T, D, 4}) + mul({T, E, 4});  // patches, pooled rows, output rows
  c.hidden = mul({4, N, D, 4});                                       // 3 streams + position rows
  c.attention = mul({4, N, D, 4});                                    // q, k, v, attention output
  c.ffn = mul({2, N, F, 4});
  c.quant_work = mul({N, std::max(D, F), 2});
  return c;
}

int64_t ctx_step(const RunSettings& s) { return kCellPad * (s.kv_unified ? 1 : s.n_seq); }

int64_t ctx_limit(const ModelSet& models, const RunSettings& s) {
  int64_t train = models.text && models.text->n_ctx_train > 0 ? models.text->n_ctx_train : (int64_t(1) << 20);
  int64_t lim = train * s.n_seq;
  int64_t step = ctx_step(s);
  return std::max(step, lim / step * step);
}

Plan make_plan(const ModelSet& models, const RunSettings& in) {
  check_settings(in);
  if (!models.text) throw core::Error("usage", "no text model given (-m)");
  const ModelHeaders& t = *models.text;
  if (t.kind != ModelKind::Text)
    throw core::Error("usage", t.source + " is an " + std::string(kind_name(t.kind)) + ", not a text model",
                      t.kind == ModelKind::Mmproj ? "pass it with --mmproj and the text model with -m" : "pass it with -md and the text model with -m");
  if (models.mmproj && models.mmproj->kind != ModelKind::Mmproj)
    throw core::Error("usage", models.mmproj->source + " passed as --mmproj is a " + kind_name(models.mmproj->kind) + ", not an mmproj");
  if (models.draft && models.draft->kind == ModelKind::Mmproj)
    throw core::Error("usage", models.draft->source + " passed as -md is an mmproj, not a draft model");

  Plan p;
  RunSettings s = in;
  s.n_ctx = resolve_ctx(t, s);
  const bool drafting = models.draft != nullptr;
  if (s.n_outputs_max == 0) s.n_outputs_max = s.n_seq * (1 + (drafting ? s.n_draft : 0));
  p.kv = kv_layer_layout(t, s);
  s.n_ctx = p.kv.n_ctx;
  p.settings = s;
  auto add = [&](std::string key, std::string label, uint64_t bytes, int depth = 0) {
    p.components.push_back(Component{std::move(key), std::move(label), bytes, depth});
  };

  // Weights of the text model, by tensor type.
  p.weights_text = t.weight_bytes;
  add("weights", "text model weights (" + t.arch + ", " + params_str(t.n_params) + " params)", t.weight_bytes);
  std::vector<std::pair<quant::Type, TypeTotal>> types(t.by_type.begin(), t.by_type.end());
  std::sort(types.begin(), types.end(), [](auto& a, auto& b) { return a.second.bytes > b.second.bytes; });
  for (auto& [ty, tt] : types)
    add(std::string("weights.") + quant::type_name(ty),
        std::string(quant::type_name(ty)) + " (" + std::to_string(tt.tensors) + (tt.tensors == 1 ? " tensor)" : " tensors)"),
        tt.bytes, 1);

  // KV cache of the text model.
  const auto& kv = p.kv;
  std::string streams = kv.n_stream > 1 ? " x " + std::to_string(kv.n_stream) + " streams" : "";
  std::string types_kv = tname(kv.type_k) + "/" + tname(kv.type_v);
  if (kv.n_full > 0)
    add("kv.full", "KV cache, full layers (" + std::to_string(kv.n_full) + " x " + std::to_string(kv.cells_full) +
                       " cells" + streams + ", " + types_kv + ")", kv.bytes_full);
  if (kv.n_swa > 0)
    add("kv.swa", "KV cache, SWA layers (" + std::to_string(kv.n_swa) + " x " + std::to_string(kv.cells_swa) +
                      " cells" + streams + ", window " + std::to_string(t.n_swa) + ")", kv.bytes_swa);
  if (kv.n_shared > 0)
    add("kv.shared", "KV cache, shared-KV layers (" + std::to_string(kv.n_shared) + ", reuse earlier caches)", 0);
  p.kv_bytes = kv.total();

  // Compute and output buffers of the text model.
  p.compute = compute_buffers(t, s, kv);
  add("compute", "compute buffers (" + std::to_string(p.compute.n_tokens) + "-token micro-batch)", p.compute.total());
  const int64_t n_out = std::max(s.n_seq, s.n_outputs_max);
  uint64_t out = mul({static_cast<uint64_t>(n_out), static_cast<uint64_t>(t.n_vocab), 4});
  std::string out_label = "output buffers (logits " + std::to_string(n_out) + " x " + std::to_string(t.n_vocab);
  if (models.draft && models.draft->kind == ModelKind::Assistant) {
    // The MTP drafter consumes the target's last hidden state of every batch row.
    int64_t rows = std::min(s.n_batch, s.n_ctx);
    out += static_cast<uint64_t>(rows) * t.n_embd * 4;
    out_label += ", hidden rows " + std::to_string(rows) + " x " + std::to_string(t.n_embd);
  }
  p.output_bytes = out;
  add("output", out_label + ")", out);
  p.compute_bytes = p.compute.total();

  // mmproj.
  if (models.mmproj) {
    const ModelHeaders& mm = *models.mmproj;
    p.weights_mmproj = mm.weight_bytes;
    std::string lbl = "mmproj weights (" + (mm.mm.projector.empty() ? std::string("clip") : mm.mm.projector) + ", " +
                      params_str(mm.n_params) + " params";
    if (mm.mm.audio_bytes) lbl += "; audio encoder " + format_bytes(mm.mm.audio_bytes) + " not loaded";
    add("mmproj", lbl + ")", mm.weight_bytes);
    p.mmproj_compute = mmproj_compute(mm, s, t.n_embd);
    add("mmproj.compute", "mmproj compute (one image of " + std::to_string(s.image_max_tokens) + " tokens)",
        p.mmproj_compute.total());
    p.compute_bytes += p.mmproj_compute.total();
  }

  // Drafter.
  if (models.draft) {
    const ModelHeaders& d = *models.draft;
    p.weights_draft = d.weight_bytes;
    bool mtp = d.kind == ModelKind::Assistant;
    add("draft", std::string(mtp ? "MTP assistant weights (" : "draft model weights (") + d.arch + ", " +
                     params_str(d.n_params) + " params)", d.weight_bytes);
    if (mtp) {
      add("draft.kv", "drafter KV cache (none: reads the target's caches)", 0);
      p.draft_compute = compute_buffers(d, s, kv);
    } else {
      RunSettings ds = s;
      p.draft_kv = kv_layer_layout(d, ds);
      add("draft.kv", "draft model KV cache (" + std::to_string(p.draft_kv.n_full + p.draft_kv.n_swa) + " layers, " +
                          types_kv + ")", p.draft_kv.total());
      p.kv_bytes += p.draft_kv.total();
      p.draft_compute = compute_buffers(d, s, p.draft_kv);
      p.draft_compute.other += static_cast<uint64_t>(s.n_seq) * d.n_vocab * 4;  // its logits
    }
    add("draft.compute", "drafter compute and logits", p.draft_compute.total());
    p.compute_bytes += p.draft_compute.total();
  }

  p.total = 0;
  for (const auto& c : p.components)
    if (c.depth == 0 && __builtin_add_overflow(p.total, c.bytes, &p.total))
      throw core::Error("model", "buffer sizes overflow 64 bits", "the model header has absurd dimensions");
  return p;
}

int64_t max_context(const ModelSet& models, RunSettings s, uint64_t budget) {
  const int64_t step = ctx_step(s), limit = ctx_limit(models, s);
  auto fits = [&](int64_t k) {
    s.n_ctx = k * step;
    return make_plan(models, s).total <= budget;
  };
  int64_t lo = 0, hi = limit / step;  // invariant: lo fits (0 = nothing), hi+1 does not (or is past the limit)
  if (!fits(1)) return 0;
  lo = 1;
  if (fits(hi)) return hi * step;
  while (hi - lo > 1) {  // total is non-decreasing in n_ctx
    int64_t mid = lo + (hi - lo) / 2;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo * step;
}

uint64_t default_margin(uint64_t cap) {
  const uint64_t gib = uint64_t(1) << 30;
  return cap >= 8 * gib ? gib : cap / 8;
}

std::string does_not_fit_message(const Plan& p, uint64_t cap, uint64_t margin) {
  uint64_t budget = cap > margin ? cap - margin : 0;
  std::string parts = "weights " + format_bytes(p.weights_text + p.weights_mmproj + p.weights_draft) + ", KV cache " +
                      format_bytes(p.kv_bytes) + ", compute " + format_bytes(p.compute_bytes) + ", output " +
                      format_bytes(p.output_bytes);
  return "does not fit: this configuration (-c " + std::to_string(p.settings.n_ctx) + ", " +
         std::to_string(p.settings.n_seq) + (p.settings.n_seq == 1 ? " sequence" : " sequences") + ") needs " +
         format_bytes(p.total) + " (" + parts + ") but the cap of " + format_bytes(cap) + " leaves " +
         format_bytes(budget) + " after the " + format_bytes(margin) + " margin; it needs " +
         format_bytes(p.total - std::min(p.total, budget)) + " more";
}

FitResult fit(const ModelSet& models, RunSettings s, uint64_t cap, std::optional<uint64_t> margin) {
  FitResult r;
  r.cap = cap;
  r.auto_ctx = s.n_ctx == 0;
  if (cap == 0) {
    r.plan = make_plan(models, s);
    return r;
  }
  r.margin = margin ? *margin : default_margin(cap);
  if (r.margin >= cap)
    throw core::Error("usage", "the margin (" + format_bytes(r.margin) + ") is not smaller than the cap (" + format_bytes(cap) + ")");
  const uint64_t budget = cap - r.margin;
  r.max_ctx = max_context(models, s, budget);
  if (r.auto_ctx) s.n_ctx = r.max_ctx > 0 ? r.max_ctx : ctx_step(s);
  r.plan = make_plan(models, s);
  if (r.plan.total > budget) {
    std::string hint;
    if (r.max_ctx > 0) {
      hint = "the largest context that fits is " + std::to_string(r.max_ctx) + " (-c " + std::to_string(r.max_ctx) +
             " or -c auto)";
    } else {
      hint = "even the smallest context (" + std::to_string(ctx_step(s)) + ") does not fit";
    }
    if (s.type_k == quant::Type::F16 || s.type_v == quant::Type::F16) hint += "; a q8_0 KV cache (-ctk q8_0 -ctv q8_0) halves the KV bytes";
    hint += "; or use a smaller quantization or a larger --mem-cap";
    throw core::Error("oom", does_not_fit_message(r.plan, cap, r.margin), hint);
  }
  return r;
}

uint64_t parse_size(const std::string& text) {
  auto bad = [&] {
    throw core::Error("usage", "invalid size '" + text + "'", "use bytes or a unit: 512M, 20G (GiB), 20GB (10^9 bytes), 1.5T");
  };
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) bad();
  double v = 0;
  try {
    size_t used = 0;
    v = std::stod(text.substr(0, i), &used);
    if (used != i) bad();
  } catch (const std::logic_error&) {
    bad();
  }
  std::string u = lower(text.substr(i));
  if (!u.empty() && u[0] == ' ') u.erase(0, 1);
  double mul = 1;
  static const char* units = "kmgt";
  if (u.empty() || u == "b") {
    mul = 1;
  } else {
    const char* pos = std::strchr(units, u[0]);
    if (!pos || !*pos) bad();
    int e = static_cast<int>(pos - units) + 1;
    std::string rest = u.substr(1);
    if (rest.empty() || rest == "i" || rest == "ib") mul = std::pow(1024.0, e);
    else if (rest == "b") mul = std::pow(1000.0, e);
    else bad();
  }
  double b = v * mul;
  if (!(b >= 0) || b > 1.8e19) bad();
  return static_cast<uint64_t>(b);
}

std::string format_bytes(uint64_t b) {
  char buf[32];
  if (b < 1024) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  else if (b < (uint64_t(1) << 20)) std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else if (b < (uint64_t(1) << 30)) std::snprintf(buf, sizeof buf, "%.1f MiB", b / 1048576.0);
  else std::snprintf(buf, sizeof buf, "%.2f GiB", b / 1073741824.0);
  return buf;
}

}  // namespace fitserve::plan
