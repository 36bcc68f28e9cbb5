#include "model/weights.h"

#include "core/error.h"
#include "quant/quant.h"

namespace fitserve::model {

static std::string shape_of(std::initializer_list<int64_t> s) {
  std::string r = "[";
  bool first = true;
  for (auto d : s) {
    r += (first ? "" : ", ") + (d < 0 ? std::string("*") : std::to_string(d));
    first = false;
  }
  return r + "]";
}

Weight WeightBinder::opt(const std::string& name, std::initializer_list<int64_t> shape) const {
  const gguf::TensorInfo* t = f_.tensor(name);
  if (!t) return {};
  int d = 0;
  for (auto want : shape) {
    if (want >= 0 && t->ne[d] != want)
      throw core::Error("model",
                        f_.path() + ": tensor '" + name + "' has shape " + t->shape_str() + ", expected " + shape_of(shape),
                        "the file does not match its own metadata; re-convert the model");
    ++d;
  }
  for (; d < 4; ++d)
    if (t->ne[d] != 1)
      throw core::Error("model", f_.path() + ": tensor '" + name + "' has shape " + t->shape_str() + ", expected " + shape_of(shape));
  if (!quant::type_info(t->type).computable || !quant::can_dequantize(t->type))
    throw core::Error("model", f_.path() + ": tensor '" + name + "' has type " + quant::type_name(t->type) + ", which fitserve cannot compute with",
                      "use a GGUF quantized to a supported type (F32/F16/BF16/Q4_0..Q8_0/K-quants/IQ4)");
  if (!t->data) throw core::Error("model", f_.path() + ": tensor '" + name + "' has no data (header-only file?)");
  Weight w;
  w.t = t;
  w.type = t->type;
  w.data = t->data;
  w.cols = t->ne[0];
  w.rows = t->ne[1] * t->ne[2] * t->ne[3];
  w.row_bytes = t->row_bytes();
  return w;
}

Weight WeightBinder::get(const std::string& name, std::initializer_list<int64_t> shape) const {
  Weight w = opt(name, shape);
  if (!w)
    throw core::Error("model", f_.path() + ": required tensor '" + name + "' is missing",
                      "the file is incomplete or was converted for a different architecture");
  return w;
}

std::vector<float> WeightBinder::vec(const std::string& name, int64_t n, bool required) const {
  Weight w = required ? get(name, {n}) : opt(name, {n});
  if (!w) return {};
  std::vector<float> v(static_cast<size_t>(n));
  quant::dequantize_row(w.type, w.data, v.data(), n);
  return v;
}

std::vector<int32_t> per_layer_ints(const gguf::File& f, const std::string& key, int32_t n_layer, std::optional<int32_t> dflt) {
  const gguf::Value* v = f.find(key);
  if (!v) {
    if (!dflt) throw core::Error("model", f.path() + ": required metadata key '" + key + "' is missing");
    return std::vector<int32_t>(static_cast<size_t>(n_layer), *dflt);
  }
  std::vector<int32_t> out;
  if (v->is_array()) {
    if (v->count != static_cast<uint64_t>(n_layer))
      throw core::Error("model", f.path() + ": metadata '" + key + "' has " + std::to_string(v->count) + " entries, expected one per layer (" +
                                     std::to_string(n_layer) + ")");
    for (uint64_t i = 0; i < v->count; ++i) {
      int64_t x = v->int_at(i);
      if (x < 0 || x > (int64_t(1) << 30)) throw core::Error("model", f.path() + ": metadata '" + key + "' has an out-of-range entry");
      out.push_back(static_cast<int32_t>(x));
    }
  } else {
    int64_t x = v->as_int(key);
    if (x < 0 || x > (int64_t(1) << 30)) throw core::Error("model", f.path() + ": metadata '" + key + "' is out of range");
    out.assign(static_cast<size_t>(n_layer), static_cast<int32_t>(x));
  }
  return out;
}

int64_t int_key(const gguf::File& f, const std::string& key, std::optional<int64_t> dflt, int64_t lo, int64_t hi) {
  auto v = f.get_int(key);
  if (!v) {
    if (!dflt) throw core::Error("model", f.path() + ": required metadata key '" + key + "' is missing",
                                 "the file is incomplete or for another architecture");
    return *dflt;
  }
  if (*v < lo || *v > hi)
    throw core::Error("model", f.path() + ": metadata '" + key + "' = " + std::to_string(*v) + " is out of range [" + std::to_string(lo) + ", " +
                                   std::to_string(hi) + "]");
  return *v;
}

float float_key(const gguf::File& f, const std::string& key, std::optional<float> dflt) {
  auto v = f.get_float(key);
  if (!v) {
    if (!dflt) throw core::Error("model", f.path() + ": required metadata key '" + key + "' is missing");
    return *dflt;
  }
  return static_cast<float>(*v);
}

}  // namespace fitserve::model
