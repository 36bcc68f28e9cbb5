// engine/bench.cpp — the bench tests, the memory check, and their reports (md, csv, json, svg).
#include "engine/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <random>
#include <sstream>

#include "core/error.h"
#include "engine/runner.h"
#include "engine/speculative.h"
#include "kv/kv_cache.h"
#include "model/model.h"
#include "plan/compat.h"
#include "plan/headers.h"
#include "plan/plan.h"
#include "tokenizer/tokenizer.h"

namespace fitserve::engine {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

// llama.cpp's general.file_type ids (the GGUF convention) -> names.
std::string ftype_name(int64_t ft) {
  static const char* names[] = {"F32", "F16", "Q4_0", "Q4_1", "", "", "", "Q8_0", "Q5_0", "Q5_1",
                                "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M",
                                "Q6_K", "IQ2_XXS", "IQ2_XS", "Q2_K_S", "IQ3_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL",
                                "IQ3_S", "IQ3_M", "IQ2_S", "IQ2_M", "IQ4_XS", "IQ1_M", "BF16"};
  if (ft >= 0 && ft < int64_t(sizeof names / sizeof names[0]) && names[ft][0]) return names[ft];
  return "";
}

// Type description like llama-bench's: "<arch> <params> <file type>".
std::string describe(const gguf::File& f) {
  std::string arch = f.architecture().empty() ? "?" : f.architecture();
  const double p = double(f.total_params());
  char sz[32];
  if (p >= 1e9) std::snprintf(sz, sizeof sz, "%.1fB", p / 1e9);
  else std::snprintf(sz, sizeof sz, "%.0fM", p / 1e6);
  std::string ft;
  if (auto v = f.get_int("general.file_type")) ft = ftype_name(*v);
  if (ft.empty()) {  // the type holding most bytes
    std::map<int, uint64_t> by;
    for (const auto& t : f.tensors()) by[int(t.type)] += t.nbytes;
    auto it = std::max_element(by.begin(), by.end(), [](auto& a, auto& b) { return a.second < b.second; });
    if (it != by.end()) ft = quant::type_name(quant::Type(it->first));
  }
  return arch + " " + sz + " " + ft;
}

}  // namespace

// ---- process memory ---------------------------------------------------------------------------

MemStatus read_mem_status() {
  MemStatus m;
  std::ifstream in("/proc/self/status");
  std::string line;
  auto field = [&](const char* key, uint64_t& out) {
    size_t n = std::strlen(key);
    if (line.compare(0, n, key) != 0) return;
    out = std::strtoull(line.c_str() + n, nullptr, 10) * 1024;  // "VmRSS:   1234 kB"
  };
  while (std::getline(in, line)) {
    field("VmRSS:", m.rss);
    field("VmHWM:", m.hwm);
    field("RssAnon:", m.rss_anon);
    field("RssFile:", m.rss_file);
  }
  return m;
}

bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return bool(out);
}

MeanSd mean_sd(const std::vector<double>& xs) {
  MeanSd r;
  if (xs.empty()) return r;
  double s = 0;
  for (double x : xs) s += x;
  r.mean = s / double(xs.size());
  if (xs.size() < 2) return r;
  double q = 0;
  for (double x : xs) q += (x - r.mean) * (x - r.mean);
  r.sd = std::sqrt(q / double(xs.size() - 1));
  return r;
}

uint64_t gen_bytes_per_token(const gguf::File& f) {
  const std::string arch = f.architecture();
  const int64_t n_expert = f.get_int(arch + ".expert_count").value_or(0);
  int64_t n_used = 0;
  if (const gguf::Value* v = f.find(arch + ".expert_used_count"))
    n_used = v->is_array() ? (v->count ? v->int_at(0) : 0) : v->as_int();
  const bool tied = f.tensor("output.weight") == nullptr;
  uint64_t b = 0;
  for (const auto& t : f.tensors()) {
    if (t.n_dims < 2) continue;  // norms and scales: copied to memory at load
    if (t.name == "token_embd.weight") {
      b += t.row_bytes();            // one row per token
      if (tied) b += t.nbytes;       // ... and the whole table as the output head
    } else if (t.name == "per_layer_token_embd.weight") {
      b += t.row_bytes();
    } else if (n_expert > 0 && t.name.find("_exps") != std::string::npos) {
      b += t.nbytes / uint64_t(n_expert) * uint64_t(std::max<int64_t>(n_used, 1));
    } else {
      b += t.nbytes;
    }
  }
  return b;
}

std::string TestSpec::name() const {
  const std::string v = variant.empty() ? "" : "/" + variant;
  if (n_prompt > 0 && n_gen > 0) return "pp" + std::to_string(n_prompt) + "+tg" + std::to_string(n_gen) + v;
  if (n_gen > 0) return "tg" + std::to_string(n_gen) + v;
  return "pp" + std::to_string(n_prompt) + v;
}

const TestResult* ModelResult::find(bool gen) const {
  for (const auto& t : tests)
    if (t.test.variant.empty() && (gen ? (t.test.n_prompt == 0 && t.test.n_gen > 0) : (t.test.n_gen == 0 && t.test.n_prompt > 0)))
      return &t;
  return nullptr;
}

const TestResult* ModelResult::find_test(const std::string& name) const {
  for (const auto& t : tests)
    if (t.test.name() == name) return &t;
  return nullptr;
}

// ---- speed ----------------------------------------------------------------------------------

ModelResult run_bench(const BenchConfig& cfg, const Progress& progress) {
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  if (cfg.tests.empty()) throw core::Error("usage", "bench: no tests (both -p and -n are 0)");
  if (cfg.reps < 1) throw core::Error("usage", "bench: -r must be >= 1");
  ModelResult r;
  r.path = cfg.model_path;
  r.filename = std::filesystem::path(cfg.model_path).filename().string();
  std::error_code ec;
  r.file_bytes = std::filesystem::file_size(cfg.model_path, ec);
  if (ec) throw core::Error("io", cfg.model_path + ": " + ec.message());
  r.n_threads = cfg.n_threads;
  r.n_batch = cfg.n_batch;
  r.n_ubatch = std::max(1, std::min(cfg.n_ubatch, cfg.n_batch));
  r.type_k = cfg.type_k;
  r.type_v = cfg.type_v;
  int64_t need = 1;
  for (const auto& t : cfg.tests) {
    need = std::max<int64_t>(need, int64_t(t.n_prompt) + t.n_gen);
    // The speculative tg test (bench_spec.cpp): a prompt of up to 64 tokens, drafts beyond the end.
    if (!cfg.draft_path.empty() && t.n_prompt == 0) need = std::max<int64_t>(need, 64 + int64_t(t.n_gen) + cfg.draft_n_max + 2);
  }

  // The plan for these settings (companions checked and counted, as at load).
  {
    plan::ModelHeaders th = plan::open_headers(cfg.model_path);
    std::optional<plan::ModelHeaders> mh, dh;
    if (!cfg.mmproj_path.empty()) mh = plan::open_headers(cfg.mmproj_path);
    if (!cfg.draft_path.empty()) dh = plan::open_headers(cfg.draft_path);
    plan::ModelSet set{&th, mh ? &*mh : nullptr, dh ? &*dh : nullptr};
    plan::check_companions(set);
    if (dh) check_mtp_drafter(th, *dh);  // before any test runs
    plan::RunSettings s;
    s.n_ctx = need;
    s.n_batch = cfg.n_batch;
    s.n_ubatch = cfg.n_ubatch;
    s.type_k = parse_kv_type(cfg.type_k, "-ctk");
    s.type_v = parse_kv_type(cfg.type_v, "-ctv");
    if (dh) s.n_draft = cfg.draft_n_max;
    plan::Plan p = plan::make_plan(set, s);
    r.n_ctx = int32_t(p.settings.n_ctx);  // padded to the cell step, as the engine allocates
    r.plan_total = p.total;
    r.plan_weights = p.weights_text + p.weights_mmproj + p.weights_draft;
    r.plan_kv = p.kv_bytes;
    r.plan_compute = p.compute_bytes;
    r.plan_output = p.output_bytes;
    if (mh) r.mmproj_note = "counted in the plan (" + plan::format_bytes(p.weights_mmproj) + " weights), not loaded: vision is not implemented in the engine yet";
    if (dh) {  // filled in by run_spec_tests when there is a tg test
      r.draft_note = "counted in the plan (" + plan::format_bytes(p.weights_draft) + " weights); not run: no tg test";
      r.acceptance = "n/a (no tg test)";
    }
  }

  r.rss_before = read_mem_status().rss;
  r.peak_reset = reset_peak_rss();
  RunnerOptions ro;
  ro.model_path = cfg.model_path;
  ro.n_ctx = r.n_ctx;
  ro.n_threads = cfg.n_threads;
  ro.n_ubatch = r.n_ubatch;
  ro.type_k = cfg.type_k;
  ro.type_v = cfg.type_v;
  auto t_load = Clock::now();
  Runner runner(ro);
  say("loaded " + r.filename + " in " + std::to_string(int(seconds_since(t_load) * 1000)) + " ms (" +
      std::to_string(runner.pool().size()) + " threads)");
  r.n_threads = runner.pool().size();
  r.model_type = describe(runner.file());
  r.model_size = runner.file().total_tensor_bytes();
  r.n_params = uint64_t(runner.file().total_params());
  r.gen_bytes_per_token = gen_bytes_per_token(runner.file());

  std::mt19937 rng(cfg.seed);
  const int32_t n_vocab = runner.n_vocab();
  std::uniform_int_distribution<int32_t> pick(0, n_vocab - 1);
  const tokenizer::Tokenizer* tok = runner.tokenizer();
  const int32_t bos = tok && tok->add_bos() ? tok->bos() : -1;
  auto prompt = [&](int32_t n) {
    std::vector<int32_t> v(static_cast<size_t>(n));
    for (auto& x : v) x = pick(rng);
    if (bos >= 0 && n > 0) v[0] = bos;
    return v;
  };
  auto run_test = [&](const TestSpec& t, int32_t n_gen) {
    if (t.n_prompt > 0) runner.eval(prompt(t.n_prompt), false);
    int32_t next = (t.n_prompt == 0 && bos >= 0) ? bos : pick(rng);
    for (int32_t i = 0; i < n_gen; ++i) {
      runner.eval({next}, false);
      next = pick(rng);
    }
  };

  for (const auto& t : cfg.tests) {
    TestResult tr;
    tr.test = t;
    tr.time = now_rfc3339();
    if (cfg.warmup) {  // one full prompt run; one token of generation
      runner.reset();
      auto tw = Clock::now();
      if (t.n_prompt > 0) run_test(TestSpec{t.n_prompt, 0}, 0);
      if (t.n_gen > 0) run_test(TestSpec{0, 1}, 1);
      say(t.name() + ": warmup " + std::to_string(int(seconds_since(tw) * 1000)) + " ms");
    }
    for (int rep = 0; rep < cfg.reps; ++rep) {
      runner.reset();
      auto t0 = Clock::now();
      run_test(t, t.n_gen);
      double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
      tr.ns.push_back(ns);
      tr.ts.push_back(double(t.n_prompt + t.n_gen) * 1e9 / ns);
      char b[96];
      std::snprintf(b, sizeof b, "%s: repetition %d/%d: %.2f t/s", t.name().c_str(), rep + 1, cfg.reps, tr.ts.back());
      say(b);
    }
    tr.t_ns = mean_sd(tr.ns);
    tr.t_ts = mean_sd(tr.ts);
    r.tests.push_back(std::move(tr));
  }
  if (!cfg.draft_path.empty()) run_spec_tests(runner, cfg, r, progress);
  runner.reset();
  r.peak_rss = read_mem_status().hwm;
  return r;
}

// ---- memory check -----------------------------------------------------------------------------

MemCheckResult run_mem_check(const MemCheckConfig& cfg, const Progress& progress) {
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  const auto t_start = Clock::now();
  MemCheckResult r;
  if (cfg.n_seq < 1) throw core::Error("usage", "--mem-check: -np must be >= 1");
  const MemStatus s0 = read_mem_status();
  auto file = std::make_shared<gguf::File>(gguf::File::open(cfg.model_path));
  plan::ModelHeaders th = plan::read_headers(file, cfg.model_path);
  plan::RunSettings s;
  s.n_ctx = cfg.n_ctx;
  s.n_seq = cfg.n_seq;
  s.n_batch = cfg.n_batch;
  s.n_ubatch = std::min(cfg.n_ubatch, cfg.n_batch);
  const quant::Type tk = parse_kv_type(cfg.type_k, "-ctk"), tv = parse_kv_type(cfg.type_v, "-ctv");
  s.type_k = tk;
  s.type_v = tv;
  const plan::Plan p = plan::make_plan(th, s);
  r.n_ctx = p.settings.n_ctx;
  r.n_seq = cfg.n_seq;
  r.type_k = cfg.type_k;
  r.type_v = cfg.type_v;
  r.plan_weights = p.weights_text;
  r.plan_kv = p.kv_bytes;
  r.plan_compute = p.compute_bytes;
  r.plan_output = p.output_bytes;
  r.plan_total = p.total;
  r.start = read_mem_status();
  r.header_rss = r.start.rss - s0.rss;

  // What the engine allocates (engine.cpp): the model bound to the mapping, one KV cache of
  // n_ctx / n_seq cells per sequence, logits for one row per sequence.
  core::ThreadPool pool(cfg.n_threads);
  model::LoadOptions lo;
  lo.n_threads = pool.size();
  auto model = model::load_model(*file, lo);
  if (p.settings.n_ctx > INT32_MAX) throw core::Error("usage", "context size too large");
  const int32_t n_ctx_seq = int32_t(p.settings.n_ctx / cfg.n_seq);
  const int32_t n_ub = std::max(1, std::min(cfg.n_ubatch, cfg.n_batch));
  r.n_ctx_seq = n_ctx_seq;
  r.n_ubatch = n_ub;
  kv::KvCache cache(model->kv_config(n_ctx_seq, cfg.n_seq, tk, tv, n_ub));
  r.kv_bytes = cache.bytes();
  const int32_t n_vocab = model->info().n_vocab;
  std::vector<float> logits(size_t(cfg.n_seq) * size_t(n_vocab));
  r.logits_bytes = logits.size() * sizeof(float);
  r.loaded = read_mem_status();
  say("loaded; KV cache " + plan::format_bytes(r.kv_bytes) + " (plan " + plan::format_bytes(r.plan_kv) + ")");

  // Every weight page, read once (as a forward pass does; embedding tables only in part).
  uint64_t sink = 0;
  for (const auto& t : file->tensors()) {
    const volatile uint8_t* d = t.data;
    for (uint64_t off = 0; off < t.nbytes; off += 4096) sink += d[off];
    if (t.nbytes) sink += d[t.nbytes - 1];
  }
  r.touched = read_mem_status();
  say("weights touched (checksum " + std::to_string(sink & 0xff) + ")");

  // A full micro-batch of sequence 0 from position 0 (the largest activations), then every other
  // cell of every sequence written through KvCache::write (what the layers do per ubatch), then
  // one decode step with one row per sequence over the full caches (attention at full length).
  std::mt19937 rng(cfg.seed);
  std::uniform_int_distribution<int32_t> pick(0, n_vocab - 1);
  model::Batch b;
  const int32_t n_first = std::min(n_ub, n_ctx_seq - 1);
  if (n_first > 0) {
    for (int32_t i = 0; i < n_first; ++i) b.add(pick(rng), i, 0, i + 1 == n_first);
    auto tf = Clock::now();
    model->forward(b, cache, pool, logits.data());
    say("forward of " + std::to_string(n_first) + " tokens: " + std::to_string(int(seconds_since(tf) * 1000)) + " ms");
  }
  const kv::CacheConfig& kc = cache.config();
  size_t width = 0;
  for (const auto& l : kc.layers) width = std::max(width, size_t(l.n_head_kv) * size_t(std::max(l.head_dim_k, l.head_dim_v)));
  std::vector<float> rows(width * size_t(n_ub));
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (auto& x : rows) x = nd(rng);
  for (int32_t sq = 0; sq < cfg.n_seq; ++sq) {
    for (int32_t pos = sq == 0 ? std::max(n_first, 0) : 0; pos < n_ctx_seq - 1;) {
      const int32_t n = std::min(n_ub, n_ctx_seq - 1 - pos);
      cache.reserve(sq, pos, n);
      for (int l = 0; l < cache.n_layers(); ++l)
        if (cache.source_layer(l) == l) cache.write(l, sq, pos, n, rows.data(), 0, rows.data(), 0);
      pos += n;
    }
  }
  b.clear();
  for (int32_t sq = 0; sq < cfg.n_seq; ++sq) b.add(pick(rng), n_ctx_seq - 1, sq, true);
  model->forward(b, cache, pool, logits.data());
  r.end = read_mem_status();

  // Not in the plan: the tokenizer the engine builds from the same file.
  if (file->has("tokenizer.ggml.tokens")) {
    const uint64_t before = read_mem_status().rss;
    auto tok = std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::from_gguf(*file));
    r.tokenizer_rss = read_mem_status().rss - before;
  }
  r.seconds = seconds_since(t_start);
  return r;
}

// ---- reports ----------------------------------------------------------------------------------

namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string size_str(uint64_t b) {
  return b < (uint64_t(1) << 30) ? fmt("%.2f MiB", b / 1048576.0) : fmt("%.2f GiB", b / 1073741824.0);
}

std::string params_str(uint64_t n) { return n < 1000000000 ? fmt("%.2f M", n / 1e6) : fmt("%.2f B", n / 1e9); }

std::string ts_str(const TestResult* t) {
  if (!t) return "-";
  return fmt("%.2f", t->t_ts.mean) + " ± " + fmt("%.2f", t->t_ts.sd);
}

// Markdown table; align[i] = true for right-aligned columns.
std::string md_table(const std::vector<std::string>& head, const std::vector<bool>& right,
                     const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(head.size());
  auto cols = [](const std::string& s) {  // display width: count UTF-8 lead bytes
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  for (size_t i = 0; i < head.size(); ++i) w[i] = std::max<size_t>(cols(head[i]), 3);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], cols(r[i]));
  auto line = [&](const std::vector<std::string>& r) {
    std::string o = "|";
    for (size_t i = 0; i < w.size(); ++i) {
      const std::string& c = i < r.size() ? r[i] : std::string();
      std::string pad(w[i] - cols(c), ' ');
      o += " " + (right[i] ? pad + c : c + pad) + " |";
    }
    return o + "\n";
  };
  std::string o = line(head) + "|";
  for (size_t i = 0; i < w.size(); ++i) o += right[i] ? " " + std::string(w[i] - 1, '-') + ": |" : " :" + std::string(w[i] - 1, '-') + " |";
  o += "\n";
  for (const auto& r : rows) o += line(r);
  return o;
}

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

// A "nice" axis step (1, 2 or 5 x 10^k) giving about 5 ticks up to vmax.
double nice_step(double vmax) {
  if (!(vmax > 0)) return 1;
  double raw = vmax / 5, mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

}  // namespace

std::string format_markdown(const std::vector<ModelResult>& rs) {
  bool show_ub = false, show_tk = false, show_tv = false;
  for (const auto& r : rs) {
    show_ub |= r.n_ubatch != 512;
    show_tk |= r.type_k != "f16";
    show_tv |= r.type_v != "f16";
  }
  std::vector<std::string> head = {"model", "size", "params", "backend", "threads"};
  if (show_ub) head.push_back("n_ubatch");
  if (show_tk) head.push_back("type_k");
  if (show_tv) head.push_back("type_v");
  head.push_back("test");
  head.push_back("t/s");
  std::vector<bool> right(head.size(), true);
  right[0] = false;
  right[3] = false;
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : rs)
    for (const auto& t : r.tests) {
      std::vector<std::string> row = {r.model_type, size_str(r.model_size), params_str(r.n_params), "CPU", std::to_string(r.n_threads)};
      if (show_ub) row.push_back(std::to_string(r.n_ubatch));
      if (show_tk) row.push_back(r.type_k);
      if (show_tv) row.push_back(r.type_v);
      row.push_back(t.test.name());
      row.push_back(ts_str(&t));
      rows.push_back(row);
    }
  return md_table(head, right, rows);
}

std::string format_leaderboard(const std::vector<ModelResult>& rs) {
  std::vector<const ModelResult*> order;
  for (const auto& r : rs) order.push_back(&r);
  auto key = [](const ModelResult* r) {
    const TestResult* t = r->find(true);
    if (!t) t = r->find(false);
    if (!t && !r->tests.empty()) t = &r->tests.front();
    return t ? t->t_ts.mean : 0.0;
  };
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return key(a) > key(b); });
  std::string pp_name = "pp t/s", tg_name = "tg t/s";
  bool any_draft = false;
  for (const auto& r : rs) {
    if (const TestResult* t = r.find(false)) pp_name = t->test.name() + " t/s";
    if (const TestResult* t = r.find(true)) tg_name = t->test.name() + " t/s";
    any_draft |= !r.acceptance.empty();
  }
  std::vector<std::string> head = {"#", "model", "file", "file size", pp_name, tg_name, "gen GB/s", "peak RSS", "plan total"};
  if (any_draft) {
    head.push_back("draft acceptance");
    head.push_back("greedy tg t/s: plain → drafted");
  }
  std::vector<bool> right(head.size(), true);
  right[1] = right[2] = false;
  if (any_draft) right[right.size() - 2] = false;
  std::vector<std::vector<std::string>> rows;
  int rank = 0;
  for (const ModelResult* r : order) {
    const TestResult* tg = r->find(true);
    std::string gbs = tg ? fmt("%.1f", tg->t_ts.mean * double(r->gen_bytes_per_token) / 1e9) : "-";
    std::vector<std::string> row = {std::to_string(++rank), r->model_type, r->filename, size_str(r->file_bytes),
                                    ts_str(r->find(false)), ts_str(tg), gbs, size_str(r->peak_rss), size_str(r->plan_total)};
    if (any_draft) {
      row.push_back(r->acceptance.empty() ? "-" : r->acceptance);
      const TestResult* a = r->has_spec ? r->find_test("tg" + std::to_string(r->spec.n_gen) + "/greedy") : nullptr;
      const TestResult* b = r->has_spec ? r->find_test("tg" + std::to_string(r->spec.n_gen) + "/draft-mtp") : nullptr;
      row.push_back(a && b ? fmt("%.2f", a->t_ts.mean) + " → " + fmt("%.2f", b->t_ts.mean) + " (×" +
                                 fmt("%.2f", a->t_ts.mean > 0 ? b->t_ts.mean / a->t_ts.mean : 0.0) + ")"
                           : "-");
    }
    rows.push_back(row);
  }
  return md_table(head, right, rows);
}

namespace {

nlohmann::json test_json(const ModelResult& r, const TestResult& t) {
  nlohmann::json j;
  j["model_filename"] = r.path;
  j["model_type"] = r.model_type;
  j["model_size"] = r.model_size;
  j["model_n_params"] = r.n_params;
  j["file_size"] = r.file_bytes;
  j["backends"] = "CPU";
  j["n_batch"] = r.n_batch;
  j["n_ubatch"] = r.n_ubatch;
  j["n_threads"] = r.n_threads;
  j["n_ctx"] = r.n_ctx;
  j["type_k"] = r.type_k;
  j["type_v"] = r.type_v;
  j["n_prompt"] = t.test.n_prompt;
  j["n_gen"] = t.test.n_gen;
  j["test"] = t.test.name();
  j["test_time"] = t.time;
  j["avg_ns"] = uint64_t(std::llround(t.t_ns.mean));
  j["stddev_ns"] = uint64_t(std::llround(t.t_ns.sd));
  j["avg_ts"] = t.t_ts.mean;
  j["stddev_ts"] = t.t_ts.sd;
  j["samples_ns"] = t.ns;
  j["samples_ts"] = t.ts;
  j["gen_bytes_per_token"] = r.gen_bytes_per_token;
  j["rss_before"] = r.rss_before;
  j["peak_rss"] = r.peak_rss;
  j["peak_rss_reset"] = r.peak_reset;
  j["plan"] = {{"total", r.plan_total}, {"weights", r.plan_weights}, {"kv", r.plan_kv},
               {"compute", r.plan_compute}, {"output", r.plan_output}};
  if (!r.mmproj_note.empty()) j["mmproj"] = r.mmproj_note;
  if (!r.draft_note.empty()) j["draft"] = r.draft_note;
  if (r.has_spec) {
    const SpecBench& s = r.spec;
    j["draft_acceptance"] = s.acceptance();
    j["draft_mean_accept_len"] = s.mean_len();
    j["draft_accept_rate_per_pos"] = s.rate_at;
    j["draft_n_max"] = s.n_max;
    j["draft_n_min"] = s.n_min;
    j["draft_p_min"] = s.p_min;
    j["draft_drafted"] = s.drafted;
    j["draft_accepted"] = s.accepted;
    j["draft_verif_steps"] = s.verif_steps;
    j["spec_n_prompt"] = s.n_prompt;
    const std::string tg = "tg" + std::to_string(s.n_gen);
    if (const TestResult* a = r.find_test(tg + "/greedy")) j["tg_ts_greedy"] = a->t_ts.mean;
    if (const TestResult* b = r.find_test(tg + "/draft-mtp")) j["tg_ts_draft"] = b->t_ts.mean;
  } else if (!r.acceptance.empty()) {
    j["draft_acceptance"] = r.acceptance;
  }
  return j;
}

}  // namespace

std::string format_json(const std::vector<ModelResult>& rs) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& r : rs)
    for (const auto& t : r.tests) a.push_back(test_json(r, t));
  return a.dump(2) + "\n";
}

std::string format_csv(const std::vector<ModelResult>& rs) {
  static const char* cols[] = {"model_filename", "model_type", "model_size", "model_n_params", "file_size", "backends",
                               "n_batch", "n_ubatch", "n_threads", "n_ctx", "type_k", "type_v", "n_prompt", "n_gen",
                               "test", "test_time", "avg_ns", "stddev_ns", "avg_ts", "stddev_ts", "gen_bytes_per_token",
                               "peak_rss", "plan_total", "draft_acceptance", "draft_mean_accept_len", "draft_n_max",
                               "tg_ts_greedy", "tg_ts_draft"};
  std::string o;
  for (const char* c : cols) o += std::string(o.empty() ? "" : ",") + c;
  o += "\n";
  for (const auto& r : rs)
    for (const auto& t : r.tests) {
      nlohmann::json j = test_json(r, t);
      j["plan_total"] = r.plan_total;
      std::string line;
      for (const char* c : cols) {
        std::string v;
        if (j.contains(c)) v = j[c].is_string() ? j[c].get<std::string>() : j[c].dump();
        std::string q = "\"";
        for (char ch : v) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
        line += std::string(line.empty() ? "" : ",") + q + "\"";
      }
      o += line + "\n";
    }
  return o;
}

std::string svg_chart(const std::vector<ModelResult>& rs) {
  // One panel per test name, in order of first appearance.
  std::vector<std::string> names;
  for (const auto& r : rs)
    for (const auto& t : r.tests)
      if (std::find(names.begin(), names.end(), t.test.name()) == names.end()) names.push_back(t.test.name());
  static const char* colors[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"};
  const int n = int(rs.size());
  const int bar = 46, gap = 22, left = 64, top = 48, plot_h = 240, label_h = 120, panel_gap = 40;
  const int panel_w = left + n * (bar + gap) + gap;
  const int pad = 48;  // room for the first rotated label
  const int W = std::max(360, pad + int(names.size()) * (panel_w + panel_gap));
  const int H = top + plot_h + label_h;
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W << " " << H
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  for (size_t pi = 0; pi < names.size(); ++pi) {
    const int x0 = pad + int(pi) * (panel_w + panel_gap);
    double vmax = 0;
    for (const auto& r : rs)
      for (const auto& t : r.tests)
        if (t.test.name() == names[pi]) vmax = std::max(vmax, t.t_ts.mean + t.t_ts.sd);
    const double step = nice_step(vmax);
    const double top_v = std::max(step, std::ceil(vmax / step) * step);
    auto y_of = [&](double v) { return top + plot_h - v / top_v * plot_h; };
    o << "<g>\n<text x=\"" << x0 + left + (panel_w - left) / 2 << "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">"
      << xml_escape(names[pi]) << " (tokens/s)</text>\n";
    for (double v = 0; v <= top_v + step / 2; v += step) {
      const double y = y_of(v);
      o << "<line x1=\"" << x0 + left << "\" y1=\"" << fmt("%.1f", y) << "\" x2=\"" << x0 + panel_w << "\" y2=\"" << fmt("%.1f", y)
        << "\" stroke=\"#ddd\"/>\n<text x=\"" << x0 + left - 6 << "\" y=\"" << fmt("%.1f", y + 4) << "\" text-anchor=\"end\">"
        << fmt(step >= 1 ? "%.0f" : "%.2f", v) << "</text>\n";
    }
    o << "<line x1=\"" << x0 + left << "\" y1=\"" << top + plot_h << "\" x2=\"" << x0 + panel_w << "\" y2=\"" << top + plot_h
      << "\" stroke=\"#333\"/>\n";
    for (int i = 0; i < n; ++i) {
      const TestResult* t = nullptr;
      for (const auto& tt : rs[size_t(i)].tests)
        if (tt.test.name() == names[pi]) t = &tt;
      const int bx = x0 + left + gap + i * (bar + gap);
      const std::string label = rs[size_t(i)].filename;
      if (t) {
        const double y = y_of(t->t_ts.mean), cx = bx + bar / 2.0;
        o << "<rect x=\"" << bx << "\" y=\"" << fmt("%.1f", y) << "\" width=\"" << bar << "\" height=\"" << fmt("%.1f", top + plot_h - y)
          << "\" fill=\"" << colors[i % 8] << "\"><title>" << xml_escape(label + ": " + ts_str(t) + " t/s") << "</title></rect>\n";
        if (t->t_ts.sd > 0) {
          const double y1 = y_of(t->t_ts.mean + t->t_ts.sd), y2 = y_of(std::max(0.0, t->t_ts.mean - t->t_ts.sd));
          o << "<path d=\"M" << fmt("%.1f", cx) << " " << fmt("%.1f", y1) << "V" << fmt("%.1f", y2) << "M" << fmt("%.1f", cx - 6) << " "
            << fmt("%.1f", y1) << "h12M" << fmt("%.1f", cx - 6) << " " << fmt("%.1f", y2) << "h12\" stroke=\"#222\" fill=\"none\"/>\n";
        }
        o << "<text x=\"" << fmt("%.1f", cx) << "\" y=\"" << fmt("%.1f", y_of(t->t_ts.mean + t->t_ts.sd) - 4)
          << "\" text-anchor=\"middle\">" << fmt(t->t_ts.mean >= 100 ? "%.0f" : "%.1f", t->t_ts.mean) << "</text>\n";
      }
      const int lx = bx + bar / 2, ly = top + plot_h + 12;
      o << "<text x=\"" << lx << "\" y=\"" << ly << "\" text-anchor=\"end\" transform=\"rotate(-35 " << lx << " " << ly << ")\">"
        << xml_escape(label.size() > 30 ? label.substr(0, 29) + "…" : label) << "</text>\n";
    }
    o << "</g>\n";
  }
  o << "</svg>\n";
  return o.str();
}

std::string mem_check_json(const MemCheckResult& r) {
  auto st = [](const MemStatus& m) {
    return nlohmann::json{{"rss", m.rss}, {"hwm", m.hwm}, {"rss_anon", m.rss_anon}, {"rss_file", m.rss_file}};
  };
  nlohmann::json j;
  j["settings"] = {{"n_ctx", r.n_ctx}, {"n_ctx_seq", r.n_ctx_seq}, {"n_seq", r.n_seq}, {"n_ubatch", r.n_ubatch},
                   {"type_k", r.type_k}, {"type_v", r.type_v}};
  j["plan"] = {{"weights", r.plan_weights}, {"kv", r.plan_kv}, {"compute", r.plan_compute}, {"output", r.plan_output},
               {"total", r.plan_total}};
  j["measured"] = {{"kv_bytes", r.kv_bytes},
                   {"logits_bytes", r.logits_bytes},
                   {"rss_growth", r.growth()},
                   {"weights_rss_file", r.touched.rss_file - r.start.rss_file},
                   {"anon_growth", int64_t(r.end.rss_anon) - int64_t(r.start.rss_anon)},
                   {"compute_and_other_anon", r.compute_measured()},
                   {"peak_rss_growth", r.end.hwm - r.start.rss},
                   {"header_rss", r.header_rss},
                   {"tokenizer_rss", r.tokenizer_rss}};
  j["status"] = {{"start", st(r.start)}, {"loaded", st(r.loaded)}, {"touched", st(r.touched)}, {"end", st(r.end)}};
  j["rss_vs_plan"] = r.plan_total ? double(r.growth()) / double(r.plan_total) - 1.0 : 0.0;
  j["seconds"] = r.seconds;
  return j.dump(2) + "\n";
}

std::string mem_check_text(const MemCheckResult& r) {
  auto pct = [](double a, double b) { return b > 0 ? fmt("%+.2f%%", (a / b - 1) * 100) : std::string("-"); };
  const uint64_t w = r.touched.rss_file - r.start.rss_file;
  const int64_t other = r.compute_measured();
  std::vector<std::vector<std::string>> rows = {
      {"weights (file pages once touched)", size_str(r.plan_weights), size_str(w), pct(double(w), double(r.plan_weights))},
      {"KV cache (KvCache::bytes)", size_str(r.plan_kv), size_str(r.kv_bytes), r.kv_bytes == r.plan_kv ? "exact" : pct(double(r.kv_bytes), double(r.plan_kv))},
      {"output (logits)", size_str(r.plan_output), size_str(r.logits_bytes), pct(double(r.logits_bytes), double(r.plan_output))},
      {"compute (+ other anonymous growth)", size_str(r.plan_compute), other < 0 ? "-" + size_str(uint64_t(-other)) : size_str(uint64_t(other)),
       pct(double(other), double(r.plan_compute))},
      {"total (RSS growth)", size_str(r.plan_total), size_str(r.growth()), pct(double(r.growth()), double(r.plan_total))},
  };
  std::string o = "memory check: -c " + std::to_string(r.n_ctx) + " (" + std::to_string(r.n_ctx_seq) + " per sequence), -np " +
                  std::to_string(r.n_seq) + ", -ub " + std::to_string(r.n_ubatch) + ", -ctk " + r.type_k + " -ctv " + r.type_v + "\n\n";
  o += md_table({"component", "plan", "measured", "difference"}, {false, true, true, true}, rows);
  o += "\nnot planned: header parse " + size_str(r.header_rss) + ", tokenizer " + size_str(r.tokenizer_rss) +
       "; peak RSS growth " + size_str(r.end.hwm - r.start.rss) + "; " + fmt("%.1f s", r.seconds) + "\n";
  return o;
}

}  // namespace fitserve::engine
