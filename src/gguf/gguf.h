// gguf/gguf.h — validated GGUF v2/v3 reader (mmap, zero-copy) and writer.
// Offers:
//   gguf::File::open(path)            mmap + parse + validate everything (spec gguf-and-quants §1.8)
//   gguf::File::parse(MappedFile, sz) same over bytes already in memory; `declared_size` lets a
//                                     header-only prefix (HTTP Range) be parsed: tensor data
//                                     pointers are then null, bounds are checked against sz.
//   File::find(key) / get_*(key)      typed metadata with checked conversions
//   File::tensors() / tensor(name)    zero-copy views: name, type, shape, data pointer, bytes
//   gguf::Writer                      builds GGUF v3 files (metadata, tensors; streaming fill)
// Every failure throws core::Error(code "gguf") whose message names the file, the field and
// the byte offset, e.g. "m.gguf: tensor 'blk.0.attn_q.weight' (info at byte 812): type id 31
// was removed from ggml".
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/mmap_file.h"
#include "quant/types.h"

namespace fitserve::gguf {

enum class ValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8,
  ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* value_type_name(ValueType t);
size_t value_type_size(ValueType t);  // 0 for STRING/ARRAY

// A metadata value. Strings are views into the file (valid while the File lives).
struct Value {
  ValueType type = ValueType::U8;
  ValueType elem_type = ValueType::U8;  // arrays only
  uint64_t count = 0;                   // arrays only
  uint64_t u = 0;                       // unsigned scalars and BOOL
  int64_t i = 0;                        // signed scalars (also set for unsigned that fit)
  double f = 0;                         // F32/F64
  std::string_view s;                   // STRING
  const uint8_t* raw = nullptr;         // numeric array elements (little-endian)
  std::vector<std::string_view> strs;   // STRING array elements

  bool is_array() const { return type == ValueType::ARRAY; }
  bool is_integer() const;  // scalar integer type (not BOOL)
  // Checked conversions; throw core::Error naming `what` on a type mismatch.
  int64_t as_int(std::string_view what = "value") const;
  double as_float(std::string_view what = "value") const;  // any numeric scalar
  bool as_bool(std::string_view what = "value") const;
  std::string_view as_string(std::string_view what = "value") const;
  // Array element access (numeric arrays convert; bool arrays give 0/1).
  int64_t int_at(uint64_t idx) const;
  double float_at(uint64_t idx) const;
  std::string to_display(size_t max_elems = 8) const;  // short human-readable rendering
};

struct KV {
  std::string key;
  Value value;
};

struct TensorInfo {
  std::string name;
  quant::Type type = quant::Type::F32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};  // ne[0] = row length
  uint64_t offset = 0;           // relative to the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr; // null for header-only parses
  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
  size_t row_bytes() const { return quant::row_bytes(type, ne[0]); }
  std::string shape_str() const;  // "[64, 128]"
};

class File {
 public:
  static File open(const std::string& path);
  // declared_size: the real file size when `bytes` is only its prefix (0 = bytes.size()).
  static File parse(core::MappedFile bytes, uint64_t declared_size = 0);

  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept = default;

  const std::string& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return file_size_; }
  bool header_only() const { return header_only_; }
  // Bytes needed to parse the header (end of tensor infos); for HTTP range fetching.
  uint64_t header_bytes() const { return header_end_; }

  const std::vector<KV>& metadata() const { return kv_; }
  const Value* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Typed getters: missing key -> nullopt / default; wrong type -> core::Error.
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  int64_t require_int(std::string_view key) const;  // missing -> core::Error
  std::string architecture() const;                 // general.architecture or ""

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* tensor(std::string_view name) const;
  uint64_t total_tensor_bytes() const;
  int64_t total_params() const;

  [[noreturn]] void fail(const std::string& what, uint64_t offset) const;

 private:
  File() = default;
  void parse_all(uint64_t declared_size);
  core::MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  uint64_t header_end_ = 0;
  uint64_t file_size_ = 0;
  bool header_only_ = false;
  std::vector<KV> kv_;
  std::vector<TensorInfo> tensors_;
};

// Builds a GGUF v3 file. Metadata keeps insertion order; setting a key twice replaces it.
class Writer {
 public:
  void set_u8(const std::string& k, uint8_t v);
  void set_i8(const std::string& k, int8_t v);
  void set_u16(const std::string& k, uint16_t v);
  void set_i16(const std::string& k, int16_t v);
  void set_u32(const std::string& k, uint32_t v);
  void set_i32(const std::string& k, int32_t v);
  void set_u64(const std::string& k, uint64_t v);
  void set_i64(const std::string& k, int64_t v);
  void set_f32(const std::string& k, float v);
  void set_f64(const std::string& k, double v);
  void set_bool(const std::string& k, bool v);
  void set_string(const std::string& k, std::string_view v);
  void set_array_string(const std::string& k, const std::vector<std::string>& v);
  void set_array_string(const std::string& k, const std::vector<std::string_view>& v);
  void set_array_f32(const std::string& k, const std::vector<float>& v);
  void set_array_i32(const std::string& k, const std::vector<int32_t>& v);
  void set_array_u32(const std::string& k, const std::vector<uint32_t>& v);
  void set_array_bool(const std::string& k, const std::vector<bool>& v);
  // Copies a value read from another file (any type, arrays included).
  void set_value(const std::string& k, const Value& v);
  void remove(const std::string& k);
  void set_alignment(uint32_t a);  // also writes general.alignment

  // Tensor with its bytes copied now.
  void add_tensor(const std::string& name, quant::Type type, std::vector<int64_t> ne,
                  const void* data, size_t nbytes);
  // Tensor whose bytes are produced while writing (dst has exactly nbytes; no big buffers).
  using Fill = std::function<void(uint8_t* dst, size_t nbytes)>;
  void add_tensor_fill(const std::string& name, quant::Type type, std::vector<int64_t> ne, Fill fill);

  void write_file(const std::string& path) const;  // throws core::Error("io") on failure
  std::vector<uint8_t> to_bytes() const;

 private:
  struct Rec { std::string key; ValueType type; ValueType elem; uint64_t count; std::vector<uint8_t> payload; };
  struct Tensor { std::string name; quant::Type type; std::vector<int64_t> ne; size_t nbytes; std::vector<uint8_t> bytes; Fill fill; };
  void put(const std::string& k, ValueType t, std::vector<uint8_t> payload, ValueType elem = ValueType::U8, uint64_t count = 0);
  template <class Out> void emit(Out& out) const;
  std::vector<Rec> kv_;
  std::vector<Tensor> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace fitserve::gguf
