// quant/types.h — the ggml tensor type table (ids are part of the GGUF format).
// Offers: quant::Type (enum of file ids), type_info(id) -> {name, block size, bytes per block,
// supported}, row_bytes(type, n), type_from_name("q8_0"/"Q8_0"), is_valid_type_id(id).
// Removed ids (4, 5, 31-33, 36-38) have block size 0 and are invalid.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fitserve::quant {

enum class Type : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39, NVFP4 = 40, Q1_0 = 41, Q2_0 = 42,
};
constexpr uint32_t kTypeCount = 43;
constexpr int QK_K = 256;

struct TypeInfo {
  const char* name;   // "Q4_0"; nullptr for removed/unknown ids
  int block;          // elements per block; 0 = invalid id
  int bytes;          // bytes per block
  bool computable;    // we can dequantize it (the must-support set)
};

// Info for a raw id; block == 0 for unknown or removed ids.
const TypeInfo& type_info(uint32_t id);
inline const TypeInfo& type_info(Type t) { return type_info(static_cast<uint32_t>(t)); }
inline bool is_valid_type_id(uint32_t id) { return id < kTypeCount && type_info(id).block != 0; }
inline const char* type_name(Type t) { return type_info(t).name ? type_info(t).name : "?"; }
// Bytes of a row of n elements (n must be a multiple of the block size).
inline size_t row_bytes(Type t, int64_t n) {
  const auto& ti = type_info(t);
  return static_cast<size_t>(n / ti.block) * static_cast<size_t>(ti.bytes);
}
// Case-insensitive name lookup ("q8_0", "F16", "bf16"); nullopt if unknown.
std::optional<Type> type_from_name(std::string_view name);

}  // namespace fitserve::quant
