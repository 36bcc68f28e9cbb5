// cli/cmd_plan.cpp — `fitserve plan`: memory plan and companion checks from GGUF headers alone
// (local paths or http(s) URLs, read with Range requests), before loading or downloading.
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/command.h"
#include "core/error.h"
#include "plan/compat.h"
#include "plan/headers.h"
#include "plan/plan.h"

namespace fitserve::cli {
namespace {

using nlohmann::json;

const char* kUsage =
    "usage: fitserve plan -m MODEL [--mmproj FILE] [-md FILE] [-c N|auto] [-ctk T] [-ctv T]\n"
    "                     [-b N] [-ub N] [-np N] [--kv-unified] [--swa-full] [--draft-max N]\n"
    "                     [--image-max-tokens N] [--mem-cap SIZE] [--margin SIZE] [--json]\n"
    "\n"
    "Prints the bytes each part of a configuration needs (weights by type, mmproj, drafter, KV\n"
    "cache per layer kind, compute and output buffers), from the GGUF headers only. MODEL, FILE\n"
    "may be http(s) URLs: only the header is fetched (HTTP Range). Checks that the mmproj and the\n"
    "drafter belong to the model.\n"
    "  -c N|auto       context (total cells); auto = the largest that fits --mem-cap, else the\n"
    "                  training context x -np (default auto)\n"
    "  -ctk/-ctv T     KV cache types: f32 f16 bf16 q8_0 q4_0 q4_1 iq4_nl q5_0 q5_1 (default f16)\n"
    "  -b/-ub N        logical / physical batch (default 2048 / 512)\n"
    "  -np N           parallel sequences (default 1); --kv-unified shares one cell pool\n"
    "  --mem-cap SIZE  memory cap, e.g. 20G (GiB), 20GB (10^9 B); prints the largest context that\n"
    "                  fits, or why not\n"
    "  --margin SIZE   kept free under the cap (default 1 GiB, or cap/8 below 8 GiB)\n"
    "  --json          machine-readable output\n";

struct Args {
  std::string model, mmproj, draft;
  plan::RunSettings s;
  uint64_t cap = 0;
  std::optional<uint64_t> margin;
  bool json = false;
};

int64_t parse_int(const std::string& opt, const std::string& v, int64_t lo, int64_t hi) {
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || errno || x < lo || x > hi)
    throw core::Error("usage", opt + ": invalid value '" + v + "' (expected an integer in [" + std::to_string(lo) + ", " +
                                   std::to_string(hi) + "])");
  return x;
}

quant::Type parse_cache_type(const std::string& opt, const std::string& v) {
  auto t = quant::type_from_name(v);
  if (!t) throw core::Error("usage", opt + ": unknown type '" + v + "'", "use f16, bf16, f32, q8_0, q4_0, q4_1, iq4_nl, q5_0 or q5_1");
  return *t;
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string o = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw core::Error("usage", o + " needs a value", "see `fitserve plan --help`");
      return argv[++i];
    };
    if (o == "-h" || o == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (o == "-m" || o == "--model") a.model = val();
    else if (o == "--mmproj") a.mmproj = val();
    else if (o == "-md" || o == "--model-draft" || o == "--spec-draft-model") a.draft = val();
    else if (o == "-c" || o == "--ctx-size") {
      std::string v = val();
      a.s.n_ctx = (v == "auto" || v == "0") ? 0 : parse_int(o, v, 1, int64_t(1) << 32);
    } else if (o == "-ctk" || o == "--cache-type-k") a.s.type_k = parse_cache_type(o, val());
    else if (o == "-ctv" || o == "--cache-type-v") a.s.type_v = parse_cache_type(o, val());
    else if (o == "-b" || o == "--batch-size") a.s.n_batch = parse_int(o, val(), 1, 1 << 20);
    else if (o == "-ub" || o == "--ubatch-size") a.s.n_ubatch = parse_int(o, val(), 1, 1 << 20);
    else if (o == "-np" || o == "--parallel") a.s.n_seq = parse_int(o, val(), 1, 4096);
    else if (o == "--kv-unified") a.s.kv_unified = true;
    else if (o == "--no-kv-unified") a.s.kv_unified = false;
    else if (o == "--swa-full") a.s.swa_full = true;
    else if (o == "--draft-max" || o == "--spec-draft-n-max") a.s.n_draft = parse_int(o, val(), 0, 256);
    else if (o == "--image-max-tokens") a.s.image_max_tokens = parse_int(o, val(), 0, 1 << 20);
    else if (o == "--mem-cap") a.cap = plan::parse_size(val());
    else if (o == "--margin") a.margin = plan::parse_size(val());
    else if (o == "--json") a.json = true;
    else throw core::Error("usage", "plan: unknown option '" + o + "'", "see `fitserve plan --help`");
  }
  if (a.model.empty()) throw core::Error("usage", "plan: no model given (-m MODEL)", "see `fitserve plan --help`");
  if (a.cap == 0 && a.margin) throw core::Error("usage", "--margin needs --mem-cap");
  return a;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string base(const std::string& s) {
  auto p = s.find_last_of('/');
  return p == std::string::npos ? s : s.substr(p + 1);
}

std::string describe(const plan::ModelHeaders& m) {
  char buf[512];
  if (m.kind == plan::ModelKind::Mmproj) {
    std::snprintf(buf, sizeof buf, "%s, %s, vision width %lld, %lld blocks, output n_embd %lld",
                  m.arch.c_str(), m.mm.projector.c_str(), (long long)m.mm.width, (long long)m.mm.n_layer,
                  (long long)m.n_embd);
  } else {
    std::snprintf(buf, sizeof buf, "%s, %lld layers, n_embd %lld, vocab %lld, ctx_train %lld%s", m.arch.c_str(),
                  (long long)m.n_layer, (long long)m.n_embd, (long long)m.n_vocab, (long long)m.n_ctx_train,
                  m.kind == plan::ModelKind::Assistant
                      ? (", embedding_length_out " + std::to_string(m.n_embd_out)).c_str()
                      : "");
  }
  std::string s = buf;
  if (m.fetch.remote) {
    s += "; fetched " + plan::format_bytes(m.fetch.bytes_fetched) + " of " + plan::format_bytes(m.fetch.file_size) +
         " in " + std::to_string(m.fetch.requests) + (m.fetch.requests == 1 ? " request" : " requests");
  }
  char ms[64];
  std::snprintf(ms, sizeof ms, "; header read in %.1f ms", m.fetch.ms);
  return s + ms;
}

json model_json(const plan::ModelHeaders& m) {
  json j{{"source", m.source}, {"kind", plan::kind_name(m.kind)}, {"arch", m.arch}, {"name", m.name},
         {"n_embd", m.n_embd}, {"weight_bytes", m.weight_bytes}, {"n_params", m.n_params},
         {"file_bytes", m.file_bytes}, {"header_bytes", m.header_bytes}, {"header_ms", m.fetch.ms}};
  if (m.kind != plan::ModelKind::Mmproj) {
    j["n_layer"] = m.n_layer;
    j["n_vocab"] = m.n_vocab;
    j["n_ctx_train"] = m.n_ctx_train;
    j["n_swa"] = m.n_swa;
  }
  if (m.kind == plan::ModelKind::Assistant) j["embedding_length_out"] = m.n_embd_out;
  if (m.kind == plan::ModelKind::Mmproj) j["projector"] = m.mm.projector;
  json types = json::object();
  for (auto& [t, tt] : m.by_type) types[quant::type_name(t)] = {{"bytes", tt.bytes}, {"tensors", tt.tensors}};
  j["weights_by_type"] = types;
  if (m.fetch.remote)
    j["fetch"] = {{"bytes_fetched", m.fetch.bytes_fetched}, {"file_size", m.fetch.file_size}, {"requests", m.fetch.requests}};
  return j;
}

json compute_json(const plan::ComputeBuffers& c) {
  return {{"n_tokens", c.n_tokens}, {"hidden", c.hidden}, {"attention", c.attention}, {"ffn", c.ffn},
          {"moe", c.moe},           {"ple", c.ple},       {"quant_work", c.quant_work}, {"masks", c.masks},
          {"other", c.other},       {"total", c.total()}};
}

json plan_json(const plan::Plan& p) {
  json comps = json::array();
  for (auto& c : p.components)
    comps.push_back({{"key", c.key}, {"label", c.label}, {"bytes", c.bytes}, {"depth", c.depth},
                     {"share", p.total ? double(c.bytes) / double(p.total) : 0.0}});
  json layers = json::array();
  for (auto& l : p.kv.layers)
    layers.push_back({{"layer", l.layer}, {"swa", l.swa}, {"owns", l.owns}, {"source", l.source}, {"cells", l.cells},
                      {"k_width", l.k_width}, {"v_width", l.v_width}, {"k_row_bytes", l.k_row},
                      {"v_row_bytes", l.v_row}, {"bytes", l.bytes}});
  const auto& s = p.settings;
  return {{"settings", {{"n_ctx", s.n_ctx}, {"n_seq", s.n_seq}, {"kv_unified", s.kv_unified}, {"n_batch", s.n_batch},
                        {"n_ubatch", s.n_ubatch}, {"type_k", quant::type_name(s.type_k)},
                        {"type_v", quant::type_name(s.type_v)}, {"swa_full", s.swa_full},
                        {"n_outputs_max", s.n_outputs_max}, {"image_max_tokens", s.image_max_tokens}}},
          {"components", comps},
          {"kv", {{"n_ctx", p.kv.n_ctx}, {"n_ctx_seq", p.kv.n_ctx_seq}, {"n_stream", p.kv.n_stream},
                  {"cells_full", p.kv.cells_full}, {"cells_swa", p.kv.cells_swa}, {"bytes_full", p.kv.bytes_full},
                  {"bytes_swa", p.kv.bytes_swa}, {"layers", layers}}},
          {"compute", compute_json(p.compute)},
          {"weights_bytes", p.weights_text + p.weights_mmproj + p.weights_draft},
          {"kv_bytes", p.kv_bytes}, {"compute_bytes", p.compute_bytes}, {"output_bytes", p.output_bytes},
          {"total", p.total}};
}

void print_table(const plan::Plan& p) {
  std::printf("%-78s %12s %7s\n", "component", "bytes", "share");
  for (auto& c : p.components) {
    std::string label = std::string(c.depth * 2, ' ') + c.label;
    double share = p.total ? 100.0 * double(c.bytes) / double(p.total) : 0.0;
    std::printf("%-78s %12s %6.1f%%\n", label.c_str(), plan::format_bytes(c.bytes).c_str(), share);
  }
  std::printf("%-78s %12s %6.1f%%\n", "total", plan::format_bytes(p.total).c_str(), 100.0);
}

int cmd_plan(int argc, char** argv) {
  Args a = parse_args(argc, argv);
  plan::ModelHeaders text = plan::open_headers(a.model);
  std::optional<plan::ModelHeaders> mm, dr;
  if (!a.mmproj.empty()) mm = plan::open_headers(a.mmproj);
  if (!a.draft.empty()) dr = plan::open_headers(a.draft);
  plan::ModelSet set{&text, mm ? &*mm : nullptr, dr ? &*dr : nullptr};
  plan::check_companions(set);

  plan::FitResult fr;
  std::optional<core::Error> failure;
  try {
    fr = plan::fit(set, a.s, a.cap, a.margin);
  } catch (const core::Error& e) {
    if (e.code() != "oom") throw;
    failure = e;
    // Show the plan that did not fit.
    plan::RunSettings s = a.s;
    if (s.n_ctx == 0) s.n_ctx = plan::ctx_step(s);
    fr.plan = plan::make_plan(set, s);
    fr.cap = a.cap;
    fr.margin = a.margin ? *a.margin : plan::default_margin(a.cap);
    fr.max_ctx = plan::max_context(set, a.s, a.cap - fr.margin);
    fr.auto_ctx = a.s.n_ctx == 0;
  }
  const plan::Plan& p = fr.plan;

  if (a.json) {
    json j = plan_json(p);
    json models{{"text", model_json(text)}};
    if (mm) models["mmproj"] = model_json(*mm);
    if (dr) models["draft"] = model_json(*dr);
    j["models"] = models;
    j["compat"] = "ok";
    if (a.cap) {
      j["mem_cap"] = fr.cap;
      j["margin"] = fr.margin;
      j["max_ctx"] = fr.max_ctx;
      j["fits"] = !failure;
      if (failure) j["message"] = failure->what();
    }
    j["auto_ctx"] = fr.auto_ctx;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%-11s %s: %s\n", "text model", base(text.source).c_str(), describe(text).c_str());
    if (mm) std::printf("%-11s %s: %s (n_embd matches)\n", "mmproj", base(mm->source).c_str(), describe(*mm).c_str());
    if (dr) std::printf("%-11s %s: %s (compatible)\n", "drafter", base(dr->source).c_str(), describe(*dr).c_str());
    const auto& s = p.settings;
    std::printf("%-11s -c %lld%s, -np %lld%s, -b %lld -ub %lld, -ctk %s -ctv %s%s\n\n", "settings", (long long)s.n_ctx,
                fr.auto_ctx && !failure ? (a.cap ? " (auto: largest that fits)" : " (auto: training context)") : "",
                (long long)s.n_seq, s.kv_unified ? " (unified KV)" : "", (long long)s.n_batch, (long long)s.n_ubatch,
                lower(quant::type_name(s.type_k)).c_str(), lower(quant::type_name(s.type_v)).c_str(),
                s.swa_full ? ", --swa-full" : "");
    print_table(p);
    if (a.cap && !failure) {
      std::printf("\nmem cap %s, margin %s: fits, %s to spare; largest context that fits: %lld\n",
                  plan::format_bytes(fr.cap).c_str(), plan::format_bytes(fr.margin).c_str(),
                  plan::format_bytes(fr.cap - fr.margin - p.total).c_str(), (long long)fr.max_ctx);
    }
  }
  std::fflush(stdout);
  if (failure) throw *failure;
  return 0;
}

}  // namespace

FITSERVE_COMMAND("plan", "memory plan and companion checks from GGUF headers (paths or URLs)", cmd_plan);

}  // namespace fitserve::cli
