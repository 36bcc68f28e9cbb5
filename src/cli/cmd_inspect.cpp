// cli/cmd_inspect.cpp — `fitserve inspect FILE [--json]` and `fitserve dump FILE TENSOR [--f32]`.
#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/open_model.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "quant/quant.h"

namespace fitserve::cli {
namespace {

using nlohmann::json;

json value_to_json(const gguf::Value& v, bool summarise) {
  using gguf::ValueType;
  auto scalar = [](const gguf::Value& x) -> json {
    switch (x.type) {
      case ValueType::BOOL: return x.u != 0;
      case ValueType::F32: case ValueType::F64: return x.f;
      case ValueType::STRING: return std::string(x.s);
      case ValueType::U8: case ValueType::U16: case ValueType::U32: case ValueType::U64: return x.u;
      default: return x.i;
    }
  };
  if (!v.is_array()) return scalar(v);
  const uint64_t limit = summarise ? 16 : v.count;
  json arr = json::array();
  for (uint64_t e = 0; e < v.count && e < limit; ++e) {
    if (v.elem_type == ValueType::STRING) arr.push_back(std::string(v.strs[e]));
    else if (v.elem_type == ValueType::F32 || v.elem_type == ValueType::F64) arr.push_back(v.float_at(e));
    else if (v.elem_type == ValueType::BOOL) arr.push_back(v.int_at(e) != 0);
    else arr.push_back(v.int_at(e));
  }
  if (v.count > limit)
    return json{{"type", std::string("array<") + gguf::value_type_name(v.elem_type) + ">"},
                {"count", v.count}, {"head", arr}};
  return arr;
}

std::string human_bytes(double b) {
  const char* u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (b >= 1024 && i < 4) { b /= 1024; ++i; }
  char buf[32];
  std::snprintf(buf, sizeof buf, i ? "%.2f %s" : "%.0f %s", b, u[i]);
  return buf;
}

std::string human_count(double n) {
  char buf[32];
  if (n >= 1e9) std::snprintf(buf, sizeof buf, "%.2f B", n / 1e9);
  else if (n >= 1e6) std::snprintf(buf, sizeof buf, "%.2f M", n / 1e6);
  else if (n >= 1e3) std::snprintf(buf, sizeof buf, "%.2f K", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}

int inspect_usage() {
  std::fprintf(stderr,
               "usage: fitserve inspect FILE|URL [--json] [--all]\n"
               "  Prints architecture, name, file type, parameter count, bytes by tensor type,\n"
               "  key hyperparameters, tokenizer summary and all metadata (long arrays summarised).\n"
               "  --json  machine-readable: {architecture, metadata, tensors, n_params, n_bytes}\n"
               "  --all   with --json, print arrays in full\n");
  return 1;
}

int cmd_inspect(int argc, char** argv) {
  std::string path;
  bool as_json = false, all = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") as_json = true;
    else if (a == "--all") all = true;
    else if (a == "-h" || a == "--help") { inspect_usage(); return 0; }
    else if (!a.empty() && a[0] == '-' && a != "-") throw core::Error("usage", "inspect: unknown option '" + a + "'", "see `fitserve inspect --help`");
    else if (path.empty()) path = a;
    else throw core::Error("usage", "inspect: more than one file given");
  }
  if (path.empty()) return inspect_usage();
  OpenedModel om = open_model_header(path);
  const gguf::File& f = om.file;

  std::map<std::string, std::pair<uint64_t, int64_t>> by_type;  // bytes, count of tensors
  for (auto& t : f.tensors()) {
    auto& e = by_type[quant::type_name(t.type)];
    e.first += t.nbytes;
    e.second += 1;
  }
  const std::string arch = f.architecture();
  if (as_json) {
    json j;
    j["file"] = path;
    j["architecture"] = arch;
    j["version"] = f.version();
    j["file_size"] = f.file_size();
    if (om.bytes_fetched) j["bytes_fetched"] = om.bytes_fetched;
    json md = json::object();
    for (auto& kv : f.metadata()) md[kv.key] = value_to_json(kv.value, !all);
    j["metadata"] = md;
    json ts = json::array();
    for (auto& t : f.tensors()) {
      json shape = json::array();
      for (int d = 0; d < std::max(t.n_dims, 1); ++d) shape.push_back(t.ne[d]);
      ts.push_back({{"name", t.name}, {"type", quant::type_name(t.type)}, {"shape", shape},
                    {"offset", t.offset}, {"bytes", t.nbytes}});
    }
    j["tensors"] = ts;
    j["n_params"] = f.total_params();
    j["n_bytes"] = f.total_tensor_bytes();
    json bt = json::object();
    for (auto& [k, v] : by_type) bt[k] = {{"bytes", v.first}, {"tensors", v.second}};
    j["bytes_by_type"] = bt;
    if (!om.companion_note.empty()) j["companion_check"] = om.companion_note;
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }

  auto get_str = [&](const char* k) { return f.get_string(k).value_or("-"); };
  std::printf("file:          %s\n", path.c_str());
  if (om.bytes_fetched)
    std::printf("fetched:       %s of %s (header only)\n", human_bytes(double(om.bytes_fetched)).c_str(),
                human_bytes(double(f.file_size())).c_str());
  std::printf("gguf version:  %u, %zu tensors, %zu metadata keys, alignment %llu\n", f.version(),
              f.tensors().size(), f.metadata().size(), (unsigned long long)f.alignment());
  std::printf("architecture:  %s\n", arch.empty() ? "-" : arch.c_str());
  std::printf("name:          %s\n", get_str("general.name").c_str());
  if (auto ft = f.get_int("general.file_type")) std::printf("file type:     %lld\n", (long long)*ft);
  std::printf("parameters:    %s (%lld)\n", human_count(double(f.total_params())).c_str(), (long long)f.total_params());
  std::printf("tensor bytes:  %s (%llu)\n", human_bytes(double(f.total_tensor_bytes())).c_str(),
              (unsigned long long)f.total_tensor_bytes());
  std::printf("\nbytes by tensor type:\n");
  for (auto& [k, v] : by_type)
    std::printf("  %-8s %5lld tensors  %12s  %5.1f%%\n", k.c_str(), (long long)v.second, human_bytes(double(v.first)).c_str(),
                f.total_tensor_bytes() ? 100.0 * double(v.first) / double(f.total_tensor_bytes()) : 0.0);
  if (!arch.empty()) {
    std::printf("\nhyperparameters (%s.*):\n", arch.c_str());
    const char* keys[] = {"context_length", "embedding_length", "block_count", "feed_forward_length",
                          "attention.head_count", "attention.head_count_kv", "attention.key_length",
                          "attention.value_length", "attention.sliding_window", "rope.freq_base",
                          "rope.dimension_count", "expert_count", "expert_used_count",
                          "final_logit_softcapping", "embedding_length_out"};
    for (auto k : keys)
      if (auto* v = f.find(arch + "." + k)) std::printf("  %-28s %s\n", k, v->to_display().c_str());
  }
  if (auto* toks = f.find("tokenizer.ggml.tokens")) {
    std::printf("\ntokenizer:     model %s, pre %s, %llu tokens", get_str("tokenizer.ggml.model").c_str(),
                get_str("tokenizer.ggml.pre").c_str(), (unsigned long long)toks->count);
    if (auto b = f.get_int("tokenizer.ggml.bos_token_id")) std::printf(", bos %lld", (long long)*b);
    if (auto e = f.get_int("tokenizer.ggml.eos_token_id")) std::printf(", eos %lld", (long long)*e);
    std::printf(", chat template %s\n", f.has("tokenizer.chat_template") ? "yes" : "no");
  }
  if (!om.companion_note.empty()) std::printf("\ncompanion:     %s\n", om.companion_note.c_str());
  std::printf("\nmetadata:\n");
  for (auto& kv : f.metadata()) std::printf("  %-48s %s\n", kv.key.c_str(), kv.value.to_display().c_str());
  return 0;
}

int dump_usage() {
  std::fprintf(stderr,
               "usage: fitserve dump FILE TENSOR [--f32]\n"
               "  Dequantizes TENSOR to F32: text (one row per line) or, with --f32, raw\n"
               "  little-endian float32 on stdout.\n");
  return 1;
}

int cmd_dump(int argc, char** argv) {
  std::string path, name;
  bool raw = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--f32") raw = true;
    else if (a == "-h" || a == "--help") { dump_usage(); return 0; }
    else if (!a.empty() && a[0] == '-') throw core::Error("usage", "dump: unknown option '" + a + "'");
    else if (path.empty()) path = a;
    else if (name.empty()) name = a;
    else throw core::Error("usage", "dump: too many arguments");
  }
  if (path.empty() || name.empty()) return dump_usage();
  gguf::File f = gguf::File::open(path);
  const gguf::TensorInfo* t = f.tensor(name);
  if (!t) throw core::Error("usage", path + ": no tensor named '" + name + "'", "list tensors with `fitserve inspect " + path + "`");
  if (!quant::type_info(t->type).computable)
    throw core::Error("gguf", path + ": tensor '" + name + "' has type " + quant::type_name(t->type) + ", which fitserve cannot dequantize");
  const int64_t ne0 = t->ne[0], rows = t->n_rows();
  std::vector<float> row(static_cast<size_t>(ne0));
  const size_t rb = t->row_bytes();
  for (int64_t r = 0; r < rows; ++r) {
    quant::dequantize_row(t->type, t->data + r * rb, row.data(), ne0);
    if (raw) {
      if (std::fwrite(row.data(), sizeof(float), row.size(), stdout) != row.size()) return 1;
    } else {
      for (int64_t c = 0; c < ne0; ++c) std::printf(c ? " %.9g" : "%.9g", row[c]);
      std::printf("\n");
    }
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

FITSERVE_COMMAND("inspect", "show a GGUF file's metadata, tensors and sizes (file or http(s) URL)", cmd_inspect);
FITSERVE_COMMAND("dump", "print one tensor dequantized to F32", cmd_dump);

}  // namespace fitserve::cli
