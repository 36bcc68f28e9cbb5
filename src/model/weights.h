// model/weights.h — binding GGUF tensors to a model's weights, with shape checks.
// Offers: Weight (type, data, rows, cols, row stride; null when absent), WeightBinder
// (get(name, {ne0, ne1, ...}) -> Weight, throwing core::Error naming the tensor, the expected
// and the found shape; opt() for optional tensors), f32 vectors for norms, and hparam readers
// for scalar-or-per-layer-array keys.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "quant/types.h"

namespace fitserve::model {

struct Weight {
  const gguf::TensorInfo* t = nullptr;
  quant::Type type = quant::Type::F32;
  const uint8_t* data = nullptr;
  int64_t cols = 0;       // ne[0]: input features
  int64_t rows = 0;       // ne[1] (x ne[2] x ne[3]): output features
  size_t row_bytes = 0;
  explicit operator bool() const { return data != nullptr; }
  const float* f32() const { return reinterpret_cast<const float*>(data); }
};

class WeightBinder {
 public:
  explicit WeightBinder(const gguf::File& f) : f_(f) {}
  // Required tensor with the given shape (trailing 1s may be omitted). -1 = any size.
  Weight get(const std::string& name, std::initializer_list<int64_t> shape) const;
  Weight opt(const std::string& name, std::initializer_list<int64_t> shape) const;
  // A 1-D F32-convertible tensor as floats (norm weights, scales); dequantized if needed.
  std::vector<float> vec(const std::string& name, int64_t n, bool required = true) const;
  const gguf::File& file() const { return f_; }

 private:
  const gguf::File& f_;
};

// "<arch>.<key>" as an int per layer: scalar broadcast, or an array of length n_layer.
std::vector<int32_t> per_layer_ints(const gguf::File& f, const std::string& key, int32_t n_layer,
                                    std::optional<int32_t> dflt);
// Integer key in [lo, hi]; missing -> dflt, or an error when dflt is empty.
int64_t int_key(const gguf::File& f, const std::string& key, std::optional<int64_t> dflt, int64_t lo = 0,
                int64_t hi = int64_t(1) << 40);
float float_key(const gguf::File& f, const std::string& key, std::optional<float> dflt);

}  // namespace fitserve::model
