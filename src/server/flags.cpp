// server/flags.cpp — `fitserve serve` flag table and parser (see flags.h).
#include "server/flags.h"

#include "plan/plan.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

#include "core/error.h"
#include "core/text.h"

namespace fitserve::server {

namespace {

struct Flag {
  std::vector<std::string> names;
  std::string arg;   // "" = no value
  std::string help;
  std::function<void(ServeConfig&, const std::string& flag, const std::string& value)> apply;
};

core::Error usage_error(const std::string& msg) {
  return core::Error("usage", msg, "run `fitserve serve --help` for the list of flags");
}

long long to_int(const std::string& flag, const std::string& v, long long lo, long long hi) {
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || errno || end == nullptr || *end != '\0')
    throw usage_error("invalid value '" + v + "' for " + flag + ": expected an integer");
  if (x < lo || x > hi)
    throw usage_error("invalid value '" + v + "' for " + flag + ": must be between " + std::to_string(lo) +
                      " and " + std::to_string(hi));
  return x;
}

double to_num(const std::string& flag, const std::string& v) {
  errno = 0;
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || errno || end == nullptr || *end != '\0' || !std::isfinite(x))
    throw usage_error("invalid value '" + v + "' for " + flag + ": expected a number");
  return x;
}

std::vector<std::string> split_csv(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string read_file(const std::string& flag, const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw usage_error("cannot read " + path + " (given to " + flag + ")");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string kv_type(const std::string& flag, const std::string& v) {
  static const char* kTypes[] = {"f32", "f16", "bf16", "q8_0", "q4_0"};
  for (const char* t : kTypes)
    if (v == t) return v;
  throw usage_error("invalid value '" + v + "' for " + flag + ": expected one of f32, f16, bf16, q8_0, q4_0");
}

const std::vector<Flag>& flag_table() {
  using C = ServeConfig;
  using S = const std::string&;
  static const std::vector<Flag> t = {
      {{"-m", "--model"}, "FNAME", "model GGUF file (required)",
       [](C& c, S, S v) { c.engine.model_path = v; }},
      {{"-a", "--alias"}, "NAME[,NAME]", "model name(s) shown by the API (default: the file stem)",
       [](C& c, S, S v) { c.server.aliases = split_csv(v); }},
      {{"--tags"}, "TAG[,TAG]", "tags listed by /v1/models",
       [](C& c, S, S v) { c.server.tags = split_csv(v); }},
      {{"-c", "--ctx-size"}, "N", "total context, split evenly across slots (default 4096; 0 or auto = the largest that fits --mem-cap, or the model's)",
       [](C& c, S f, S v) { c.engine.n_ctx = v == "auto" ? 0 : static_cast<int32_t>(to_int(f, v, 0, 1 << 24)); }},
      {{"--mem-cap"}, "SIZE", "memory cap (e.g. 20G, 16GiB): refuse configurations that do not fit, before loading",
       [](C& c, S, S v) { c.engine.mem_cap = plan::parse_size(v); }},
      {{"-np", "--parallel"}, "N", "number of slots (concurrent requests; default 1)",
       [](C& c, S f, S v) { c.engine.n_parallel = static_cast<int32_t>(to_int(f, v, 1, 256)); }},
      {{"-t", "--threads"}, "N", "CPU threads (default: physical cores)",
       [](C& c, S f, S v) { c.engine.n_threads = static_cast<int32_t>(to_int(f, v, -1, 1024)); }},
      {{"-b", "--batch-size"}, "N", "logical batch: max tokens per forward (default 2048)",
       [](C& c, S f, S v) { c.engine.n_batch = static_cast<int32_t>(to_int(f, v, 1, 1 << 20)); }},
      {{"-ub", "--ubatch-size"}, "N", "physical batch (default 512)",
       [](C& c, S f, S v) { c.engine.n_ubatch = static_cast<int32_t>(to_int(f, v, 1, 1 << 20)); }},
      {{"-ctk", "--cache-type-k"}, "TYPE", "K cache type: f32 f16 bf16 q8_0 q4_0 (default f16)",
       [](C& c, S f, S v) { c.engine.type_k = kv_type(f, v); }},
      {{"-ctv", "--cache-type-v"}, "TYPE", "V cache type: f32 f16 bf16 q8_0 q4_0 (default f16)",
       [](C& c, S f, S v) { c.engine.type_v = kv_type(f, v); }},
      {{"--mmproj"}, "FNAME", "multimodal projector GGUF",
       [](C& c, S, S v) { c.engine.mmproj_path = v; }},
      {{"-md", "--model-draft", "--spec-draft-model"}, "FNAME", "Gemma 4 MTP assistant GGUF: speculative decoding in every slot",
       [](C& c, S, S v) { c.engine.draft_path = v; }},
      {{"--spec-type"}, "TYPE", "speculative decoding type: draft-mtp (the only one; implied by -md)",
       [](C& c, S f, S v) {
         if (v != "draft-mtp") throw usage_error("invalid value '" + v + "' for " + f + ": only draft-mtp is supported");
         c.spec_type = v;
       }},
      {{"--spec-draft-n-max", "--draft-max", "--draft", "--draft-n"}, "N", "most tokens drafted per slot and step (default 3)",
       [](C& c, S f, S v) { c.engine.spec.n_max = static_cast<int32_t>(to_int(f, v, 0, 64)); }},
      {{"--spec-draft-n-min", "--draft-min"}, "N", "drop drafts shorter than this (default 0)",
       [](C& c, S f, S v) { c.engine.spec.n_min = static_cast<int32_t>(to_int(f, v, 0, 64)); }},
      {{"--spec-draft-p-min", "--draft-p-min"}, "P", "stop drafting below this top-candidate probability (default 0.0)",
       [](C& c, S f, S v) {
         const double p = to_num(f, v);
         if (p < 0 || p > 1) throw usage_error("invalid value '" + v + "' for " + f + ": must be between 0 and 1");
         c.engine.spec.p_min = static_cast<float>(p);
       }},
      {{"--host"}, "ADDR", "listen address (default 127.0.0.1)",
       [](C& c, S, S v) { c.server.host = v; }},
      {{"--port"}, "N", "listen port (default 8080)",
       [](C& c, S f, S v) { c.server.port = static_cast<int>(to_int(f, v, 0, 65535)); }},
      {{"--api-key"}, "KEY[,KEY]", "require one of these keys (Authorization: Bearer / X-Api-Key)",
       [](C& c, S, S v) {
         for (auto& k : split_csv(v)) c.server.api_keys.push_back(k);
       }},
      {{"--api-key-file"}, "FNAME", "file with one API key per line",
       [](C& c, S f, S v) {
         std::stringstream ss(read_file(f, v));
         std::string line;
         while (std::getline(ss, line)) {
           while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
             line.pop_back();
           size_t b = line.find_first_not_of(" \t");
           if (b != std::string::npos && line[b] != '#') c.server.api_keys.push_back(line.substr(b));
         }
       }},
      {{"--chat-template-file"}, "FNAME", "Jinja chat template to use instead of the GGUF's",
       [](C& c, S f, S v) {
         c.server.chat_template = read_file(f, v);
         if (c.server.chat_template.empty()) throw usage_error(v + " is empty (given to " + f + ")");
       }},
      {{"--chat-template-kwargs"}, "JSON", "extra template variables, e.g. '{\"enable_thinking\":false}'",
       [](C& c, S f, S v) {
         auto j = nlohmann::json::parse(v, nullptr, false);
         if (j.is_discarded() || !j.is_object()) throw usage_error(f + " expects a JSON object");
         c.server.chat_template_kwargs = j;
       }},
      {{"--reasoning"}, "on|off|auto", "thinking for templates that support it (default on)",
       [](C& c, S f, S v) {
         if (v != "on" && v != "off" && v != "auto") throw usage_error(f + " expects on, off or auto");
         c.server.enable_thinking = v != "off";
       }},
      {{"--reasoning-format"}, "FORMAT", "none | auto | deepseek | deepseek-legacy (default deepseek)",
       [](C& c, S f, S v) {
         if (v != "none" && v != "auto" && v != "deepseek" && v != "deepseek-legacy")
           throw usage_error(f + " expects none, auto, deepseek or deepseek-legacy");
         c.server.reasoning_format = v;
       }},
      {{"--jinja"}, "", "use the Jinja chat template (always on)", [](C&, S, S) {}},
      {{"--metrics"}, "", "enable GET /metrics (default on)", [](C& c, S, S) { c.server.metrics = true; }},
      {{"--no-metrics"}, "", "disable GET /metrics", [](C& c, S, S) { c.server.metrics = false; }},
      {{"--slots"}, "", "enable GET /slots (default on)", [](C& c, S, S) { c.server.slots = true; }},
      {{"--no-slots"}, "", "disable GET /slots", [](C& c, S, S) { c.server.slots = false; }},
      {{"-to", "--timeout"}, "N", "socket read/write timeout in seconds (default 600)",
       [](C& c, S f, S v) { c.server.timeout_s = static_cast<int>(to_int(f, v, 1, 86400)); }},
      {{"--threads-http"}, "N", "HTTP worker threads (default: enough for all slots and queued clients)",
       [](C& c, S f, S v) { c.server.threads_http = static_cast<int>(to_int(f, v, -1, 4096)); }},
      {{"--max-body-mb"}, "N", "request body limit in MiB (default 16)",
       [](C& c, S f, S v) { c.server.max_body_bytes = static_cast<size_t>(to_int(f, v, 1, 4096)) << 20; }},
      {{"--max-json-depth"}, "N", "nesting limit of request JSON (default 64)",
       [](C& c, S f, S v) { c.server.max_json_depth = static_cast<int>(to_int(f, v, 4, 10000)); }},
      {{"-n", "--n-predict"}, "N", "default and maximum tokens to generate (-1 = unlimited)",
       [](C& c, S f, S v) { c.server.n_predict = static_cast<int32_t>(to_int(f, v, -1, INT32_MAX)); }},
      {{"--temp"}, "X", "default temperature (0.8)",
       [](C& c, S f, S v) { c.server.sampling.temperature = static_cast<float>(to_num(f, v)); }},
      {{"--top-k"}, "N", "default top-k (40, 0 = off)",
       [](C& c, S f, S v) { c.server.sampling.top_k = static_cast<int32_t>(to_int(f, v, 0, INT32_MAX)); }},
      {{"--top-p"}, "X", "default top-p (0.95, 1 = off)",
       [](C& c, S f, S v) { c.server.sampling.top_p = static_cast<float>(to_num(f, v)); }},
      {{"--min-p"}, "X", "default min-p (0.05, 0 = off)",
       [](C& c, S f, S v) { c.server.sampling.min_p = static_cast<float>(to_num(f, v)); }},
      {{"--repeat-penalty"}, "X", "default repeat penalty (1.0 = off)",
       [](C& c, S f, S v) { c.server.sampling.repeat_penalty = static_cast<float>(to_num(f, v)); }},
      {{"--repeat-last-n"}, "N", "default penalty window (64, -1 = whole context)",
       [](C& c, S f, S v) { c.server.sampling.repeat_last_n = static_cast<int32_t>(to_int(f, v, -1, INT32_MAX)); }},
      {{"--presence-penalty"}, "X", "default presence penalty (0)",
       [](C& c, S f, S v) { c.server.sampling.presence_penalty = static_cast<float>(to_num(f, v)); }},
      {{"--frequency-penalty"}, "X", "default frequency penalty (0)",
       [](C& c, S f, S v) { c.server.sampling.frequency_penalty = static_cast<float>(to_num(f, v)); }},
      {{"-s", "--seed"}, "N", "default seed (-1 = random)",
       [](C& c, S f, S v) {
         long long s = to_int(f, v, -1, 0xFFFFFFFFLL);
         c.server.sampling.seed = s < 0 ? 0xFFFFFFFFu : static_cast<uint64_t>(s);
       }},
      {{"-v", "--verbose"}, "", "log every request", [](C& c, S, S) { c.server.verbose = true; }},
      // Accepted so that llama-server command lines keep working; they change nothing here.
      {{"-ngl", "--n-gpu-layers", "--gpu-layers"}, "N", "accepted for compatibility (CPU only; ignored)",
       [](C&, S f, S v) { to_int(f, v, -1, 100000); }},
      {{"-fa", "--flash-attn"}, "on|off|auto", "accepted for compatibility (ignored)",
       [](C&, S f, S v) {
         if (v != "on" && v != "off" && v != "auto") throw usage_error(f + " expects on, off or auto");
       }},
      {{"-cb", "--cont-batching"}, "", "continuous batching (always on)", [](C&, S, S) {}},
      {{"--no-webui"}, "", "no web UI is served (always)", [](C&, S, S) {}},
  };
  return t;
}


}  // namespace

std::vector<std::string> close_flags(const std::string& unknown, size_t max) {
  std::vector<std::pair<size_t, std::string>> scored;
  std::string u = unknown.substr(0, unknown.find('='));
  for (const auto& f : flag_table())
    for (const auto& n : f.names) {
      size_t d = core::edit_distance(u, n);
      bool prefix = u.size() >= 3 && (n.rfind(u, 0) == 0 || u.rfind(n, 0) == 0);
      // Words in common (--ctx vs --ctx-size, --api_key vs --api-key).
      size_t limit = std::max<size_t>(2, std::min(u.size(), n.size()) / 3);
      if (prefix) d = std::min<size_t>(d, 1);
      if (d <= limit) scored.emplace_back(d, n);
    }
  std::stable_sort(scored.begin(), scored.end(), [](auto& a, auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& [d, n] : scored) {
    if (out.size() >= max) break;
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  }
  return out;
}

ParsedArgs parse_serve_args(const std::vector<std::string>& args) {
  ParsedArgs p;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "-h" || a == "--help") {
      p.help = true;
      continue;
    }
    std::string value;
    bool inline_value = false;
    if (a.rfind("--", 0) == 0) {
      if (auto eq = a.find('='); eq != std::string::npos) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
        inline_value = true;
      }
    }
    const Flag* flag = nullptr;
    for (const auto& f : flag_table())
      if (std::find(f.names.begin(), f.names.end(), a) != f.names.end()) flag = &f;
    if (!flag) {
      std::string msg = "unknown argument '" + args[i] + "'";
      auto near = close_flags(a);
      if (!near.empty()) {
        msg += "; did you mean ";
        for (size_t k = 0; k < near.size(); ++k) msg += (k ? ", " : "") + near[k];
        msg += "?";
      }
      throw usage_error(msg);
    }
    if (flag->arg.empty()) {
      if (inline_value) throw usage_error(a + " takes no value");
    } else if (!inline_value) {
      if (i + 1 >= args.size()) throw usage_error(a + " needs a value (" + flag->arg + ")");
      value = args[++i];
    }
    flag->apply(p.config, a, value);
  }
  if (!p.help && p.config.engine.model_path.empty())
    throw usage_error("no model given: pass -m <file.gguf>");
  if (!p.help && !p.config.spec_type.empty() && p.config.engine.draft_path.empty())
    throw usage_error("--spec-type draft-mtp needs the assistant GGUF: pass it with -md");
  return p;
}

std::string serve_help() {
  std::string s =
      "usage: fitserve serve -m model.gguf [options]\n\n"
      "Serves the model behind an OpenAI-compatible HTTP API (a drop-in for llama-server).\n\n"
      "options:\n";
  for (const auto& f : flag_table()) {
    std::string names;
    for (size_t k = 0; k < f.names.size(); ++k) names += (k ? ", " : "") + f.names[k];
    if (!f.arg.empty()) names += " " + f.arg;
    s += "  " + names;
    s += names.size() < 30 ? std::string(30 - names.size(), ' ') : std::string("\n") + std::string(32, ' ');
    s += f.help + "\n";
  }
  s += "  -h, --help                    this text\n";
  return s;
}

}  // namespace fitserve::server
