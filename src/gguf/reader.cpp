// gguf/reader.cpp — the validated GGUF v2/v3 parser behind gguf::File.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "core/error.h"
#include "gguf/gguf.h"

namespace fitserve::gguf {

namespace {

constexpr uint64_t kMaxString = 1ull << 30;
constexpr uint64_t kMaxArray = 1ull << 30;
constexpr size_t kMaxNameLen = 63;  // GGML_MAX_NAME 64 incl. NUL

bool valid_utf8(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = s[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > n) return false;
    for (int k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

// Bounded little-endian cursor over the file bytes.
class Cursor {
 public:
  Cursor(const File& f, const uint8_t* p, uint64_t n) : f_(f), p_(p), n_(n) {}
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return n_ - pos_; }
  void need(uint64_t k, const char* what) {
    if (k > remaining())
      f_.fail(std::string("unexpected end of file reading ") + what + " (needs " +
                  std::to_string(k) + " bytes, " + std::to_string(remaining()) + " left)",
              pos_);
  }
  template <class T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string_view read_string(const char* what) {
    uint64_t at = pos_;
    uint64_t len = read<uint64_t>(what);
    if (len > kMaxString)
      f_.fail(std::string(what) + ": string length " + std::to_string(len) + " exceeds 1 GiB", at);
    need(len, what);
    std::string_view s(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return s;
  }
  const uint8_t* skip(uint64_t k, const char* what) {
    need(k, what);
    const uint8_t* r = p_ + pos_;
    pos_ += k;
    return r;
  }

 private:
  const File& f_;
  const uint8_t* p_;
  uint64_t n_;
  uint64_t pos_ = 0;
};


template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

void read_scalar(Cursor& c, ValueType t, Value& v, const char* what) {
  v.type = t;
  switch (t) {
    case ValueType::U8: v.u = c.read<uint8_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case ValueType::I8: v.i = c.read<int8_t>(what); break;
    case ValueType::U16: v.u = c.read<uint16_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case ValueType::I16: v.i = c.read<int16_t>(what); break;
    case ValueType::U32: v.u = c.read<uint32_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case ValueType::I32: v.i = c.read<int32_t>(what); break;
    case ValueType::U64: v.u = c.read<uint64_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case ValueType::I64: v.i = c.read<int64_t>(what); break;
    case ValueType::F32: v.f = c.read<float>(what); break;
    case ValueType::F64: v.f = c.read<double>(what); break;
    case ValueType::BOOL: v.u = c.read<uint8_t>(what); break;
    case ValueType::STRING: v.s = c.read_string(what); break;
    case ValueType::ARRAY: break;
  }
  if (t == ValueType::I8 || t == ValueType::I16 || t == ValueType::I32 || t == ValueType::I64)
    v.u = static_cast<uint64_t>(v.i);
}

}  // namespace

const char* value_type_name(ValueType t) {
  static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                "bool", "string", "array", "u64", "i64", "f64"};
  auto i = static_cast<uint32_t>(t);
  return i < 13 ? names[i] : "invalid";
}

size_t value_type_size(ValueType t) {
  switch (t) {
    case ValueType::U8: case ValueType::I8: case ValueType::BOOL: return 1;
    case ValueType::U16: case ValueType::I16: return 2;
    case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
    case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
    default: return 0;
  }
}

void File::fail(const std::string& what, uint64_t offset) const {
  throw core::Error("gguf", path() + ": " + what + " (at byte " + std::to_string(offset) + ")");
}

File File::open(const std::string& path) {
  return parse(core::MappedFile::open(path), 0);
}

File File::parse(core::MappedFile bytes, uint64_t declared_size) {
  File f;
  f.file_ = std::move(bytes);
  f.parse_all(declared_size);
  return f;
}

void File::parse_all(uint64_t declared_size) {
  const uint8_t* base = file_.data();
  const uint64_t avail = file_.size();
  file_size_ = declared_size ? declared_size : avail;
  header_only_ = declared_size != 0 && declared_size > avail;
  if (declared_size && declared_size < avail) fail("declared size smaller than the data", 0);
  Cursor c(*this, base, avail);

  if (avail < 4) fail("file too small to be GGUF (" + std::to_string(avail) + " bytes)", 0);
  if (std::memcmp(base, "GGUF", 4) != 0) {
    char m[5] = {0};
    for (int i = 0; i < 4; ++i) m[i] = (base[i] >= 32 && base[i] < 127) ? static_cast<char>(base[i]) : '?';
    fail(std::string("bad magic '") + m + "': not a GGUF file", 0);
  }
  c.skip(4, "magic");
  version_ = c.read<uint32_t>("version");
  if (version_ == 1)
    throw core::Error("gguf", path() + ": GGUF version 1 is no longer supported (at byte 4)",
                      "re-convert the model with a current converter (GGUF v3)");
  if (version_ != 0 && (version_ & 0xFFFF) == 0)
    throw core::Error("gguf", path() + ": big-endian (byte-swapped) GGUF is not supported (at byte 4)",
                      "use a little-endian GGUF file");
  if (version_ == 0 || version_ > 3)
    fail("unsupported GGUF version " + std::to_string(version_) + " (supported: 2, 3)", 4);

  int64_t n_tensors = c.read<int64_t>("tensor count");
  int64_t n_kv = c.read<int64_t>("metadata count");
  if (n_tensors < 0) fail("negative tensor count " + std::to_string(n_tensors), 8);
  if (n_kv < 0) fail("negative metadata count " + std::to_string(n_kv), 16);
  // Minimal encoded sizes: kv = 8 (key len) + 1 + 4 (type) + 1; tensor info = 8 + 1 + 4 + 4 + 8.
  if (static_cast<uint64_t>(n_kv) > c.remaining() / 14)
    fail("metadata count " + std::to_string(n_kv) + " cannot fit in the file", 16);
  if (static_cast<uint64_t>(n_tensors) > c.remaining() / 25)
    fail("tensor count " + std::to_string(n_tensors) + " cannot fit in the file", 8);

  // ---- metadata ----
  kv_.reserve(static_cast<size_t>(n_kv));
  std::unordered_set<std::string_view> keys;
  for (int64_t k = 0; k < n_kv; ++k) {
    uint64_t at = c.pos();
    std::string_view key = c.read_string("metadata key");
    if (key.empty()) fail("metadata record " + std::to_string(k) + ": empty key", at);
    if (!valid_utf8(key)) fail("metadata record " + std::to_string(k) + ": key is not valid UTF-8", at);
    std::string kname(key);
    if (!keys.insert(key).second) fail("duplicate metadata key '" + kname + "'", at);
    uint64_t tat = c.pos();
    uint32_t t = c.read<uint32_t>("value type");
    if (t > 12) fail("key '" + kname + "': invalid value type " + std::to_string(t), tat);
    KV rec;
    rec.key = std::move(kname);
    Value& v = rec.value;
    if (t == 9) {
      v.type = ValueType::ARRAY;
      uint64_t eat = c.pos();
      uint32_t et = c.read<uint32_t>("array element type");
      if (et > 12) fail("key '" + rec.key + "': invalid array element type " + std::to_string(et), eat);
      if (et == 9) fail("key '" + rec.key + "': nested arrays are not supported", eat);
      v.elem_type = static_cast<ValueType>(et);
      uint64_t cat = c.pos();
      v.count = c.read<uint64_t>("array count");
      if (v.count > kMaxArray)
        fail("key '" + rec.key + "': array count " + std::to_string(v.count) + " exceeds 2^30", cat);
      if (et == 8) {
        if (v.count > c.remaining() / 8)
          fail("key '" + rec.key + "': array of " + std::to_string(v.count) + " strings cannot fit in the file", cat);
        v.strs.reserve(static_cast<size_t>(v.count));
        for (uint64_t e = 0; e < v.count; ++e) v.strs.push_back(c.read_string("array string"));
      } else {
        size_t es = value_type_size(v.elem_type);
        if (v.count > c.remaining() / es)
          fail("key '" + rec.key + "': array of " + std::to_string(v.count) + " " +
                   value_type_name(v.elem_type) + " runs past the end of the file", cat);
        v.raw = c.skip(v.count * es, "array data");
        if (v.elem_type == ValueType::BOOL)
          for (uint64_t e = 0; e < v.count; ++e)
            if (v.raw[e] > 1)
              fail("key '" + rec.key + "': bool array element " + std::to_string(e) + " has value " +
                       std::to_string(v.raw[e]) + " (must be 0 or 1)",
                   c.pos() - v.count + e);
      }
    } else {
      uint64_t vat = c.pos();
      read_scalar(c, static_cast<ValueType>(t), v, "metadata value");
      if (v.type == ValueType::BOOL && v.u > 1)
        fail("key '" + rec.key + "': bool value " + std::to_string(v.u) + " (must be 0 or 1)", vat);
    }
    if (rec.key == "general.alignment") {
      if (v.type != ValueType::U32) fail("general.alignment must be u32, is " + std::string(value_type_name(v.type)), tat);
      if (v.u == 0 || (v.u & (v.u - 1)) != 0)
        fail("general.alignment " + std::to_string(v.u) + " is not a non-zero power of two", tat + 4);
      alignment_ = v.u;
    }
    kv_.push_back(std::move(rec));
  }

  // ---- tensor infos ----
  tensors_.reserve(static_cast<size_t>(n_tensors));
  std::unordered_set<std::string> names;
  std::vector<uint64_t> info_pos;
  for (int64_t ti = 0; ti < n_tensors; ++ti) {
    uint64_t at = c.pos();
    info_pos.push_back(at);
    TensorInfo t;
    std::string_view name = c.read_string("tensor name");
    std::string label = "tensor " + std::to_string(ti);
    if (name.empty()) fail(label + ": empty name", at);
    if (name.size() > kMaxNameLen)
      fail(label + ": name of " + std::to_string(name.size()) + " bytes exceeds 63", at);
    if (!valid_utf8(name)) fail(label + ": name is not valid UTF-8", at);
    t.name = std::string(name);
    label = "tensor '" + t.name + "'";
    if (!names.insert(t.name).second) fail("duplicate tensor name '" + t.name + "'", at);
    uint64_t dat = c.pos();
    uint32_t nd = c.read<uint32_t>("n_dims");
    if (nd > 4) fail(label + ": n_dims " + std::to_string(nd) + " exceeds 4", dat);
    t.n_dims = static_cast<int>(nd);
    for (uint32_t d = 0; d < nd; ++d) {
      uint64_t neat = c.pos();
      int64_t ne = c.read<int64_t>("dimension");
      if (ne < 0) fail(label + ": negative dimension ne[" + std::to_string(d) + "] = " + std::to_string(ne), neat);
      t.ne[d] = ne;
    }
    // Element count without overflow.
    int64_t prod = 1;
    for (int d = 0; d < 4; ++d) {
      if (t.ne[d] != 0 && prod > std::numeric_limits<int64_t>::max() / t.ne[d])
        fail(label + ": element count overflows (shape " + t.shape_str() + ")", dat);
      prod *= t.ne[d];
    }
    uint64_t tyat = c.pos();
    uint32_t ty = c.read<uint32_t>("tensor type");
    if (ty >= quant::kTypeCount)
      fail(label + ": unknown tensor type id " + std::to_string(ty), tyat);
    const auto& info = quant::type_info(ty);
    if (info.block == 0)
      fail(label + ": tensor type id " + std::to_string(ty) + " was removed from the format", tyat);
    t.type = static_cast<quant::Type>(ty);
    if (t.ne[0] % info.block != 0)
      fail(label + ": row length " + std::to_string(t.ne[0]) + " is not a multiple of the " +
               info.name + " block size " + std::to_string(info.block),
           dat);
    // nbytes = ne0/blk * bytes * ne1*ne2*ne3, checked
    unsigned __int128 nb = static_cast<unsigned __int128>(t.ne[0] / info.block) * info.bytes;
    nb *= static_cast<unsigned __int128>(t.ne[1]) * t.ne[2];
    nb *= static_cast<unsigned __int128>(t.ne[3]);
    if (nb > static_cast<unsigned __int128>(std::numeric_limits<uint64_t>::max() / 2))
      fail(label + ": byte size overflows", dat);
    t.nbytes = static_cast<uint64_t>(nb);
    uint64_t oat = c.pos();
    t.offset = c.read<uint64_t>("tensor offset");
    if (t.offset % alignment_ != 0)
      fail(label + ": data offset " + std::to_string(t.offset) + " is not aligned to " + std::to_string(alignment_), oat);
    tensors_.push_back(std::move(t));
  }
  header_end_ = c.pos();

  // ---- data section ----
  uint64_t a = alignment_;
  uint64_t start = (header_end_ + a - 1) / a * a;
  if (start < header_end_) fail("data section offset overflows", header_end_);
  data_offset_ = n_tensors > 0 ? start : header_end_;
  if (n_tensors > 0 && data_offset_ > file_size_)
    fail("data section starts at " + std::to_string(data_offset_) + " beyond the end of the file (" +
             std::to_string(file_size_) + " bytes)", header_end_);
  // Every tensor inside the file, no overlaps (sorted by offset).
  std::vector<size_t> order(tensors_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return tensors_[x].offset < tensors_[y].offset; });
  uint64_t prev_end = 0;
  std::string prev_name;
  for (size_t idx : order) {
    auto& t = tensors_[idx];
    uint64_t oat = info_pos[idx];
    uint64_t begin = data_offset_ + t.offset;
    if (begin < data_offset_ || begin + t.nbytes < begin)
      fail("tensor '" + t.name + "': data range overflows", oat);
    if (begin + t.nbytes > file_size_)
      fail("tensor '" + t.name + "': data [" + std::to_string(begin) + ", " + std::to_string(begin + t.nbytes) +
               ") is not within the file (" + std::to_string(file_size_) + " bytes); the file may be truncated",
           oat);
    if (t.nbytes > 0 && t.offset < prev_end)
      fail("tensor '" + t.name + "': data overlaps tensor '" + prev_name + "'", oat);
    if (t.nbytes > 0) {
      prev_end = t.offset + t.nbytes;
      prev_name = t.name;
    }
    t.data = (begin + t.nbytes <= avail) ? base + begin : nullptr;
  }
  if (header_only_)
    for (auto& t : tensors_) t.data = nullptr;
}

const Value* File::find(std::string_view key) const {
  for (const auto& kv : kv_)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

std::optional<int64_t> File::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  return v->as_int(key);
}
std::optional<double> File::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  return v->as_float(key);
}
std::optional<bool> File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  return v->as_bool(key);
}
std::optional<std::string> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  return std::string(v->as_string(key));
}
int64_t File::require_int(std::string_view key) const {
  auto v = get_int(key);
  if (!v) throw core::Error("model", path() + ": missing required metadata key '" + std::string(key) + "'",
                            "the file may be incomplete or for another architecture");
  return *v;
}
std::string File::architecture() const { return get_string("general.architecture").value_or(""); }

const TensorInfo* File::tensor(std::string_view name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}
uint64_t File::total_tensor_bytes() const {
  uint64_t s = 0;
  for (const auto& t : tensors_) s += t.nbytes;
  return s;
}
int64_t File::total_params() const {
  int64_t s = 0;
  for (const auto& t : tensors_) s += t.n_elements();
  return s;
}

std::string TensorInfo::shape_str() const {
  std::string s = "[";
  int nd = std::max(n_dims, 1);
  for (int d = 0; d < nd; ++d) s += (d ? ", " : "") + std::to_string(ne[d]);
  return s + "]";
}

// ---- Value ----
bool Value::is_integer() const {
  switch (type) {
    case ValueType::U8: case ValueType::I8: case ValueType::U16: case ValueType::I16:
    case ValueType::U32: case ValueType::I32: case ValueType::U64: case ValueType::I64: return true;
    default: return false;
  }
}
int64_t Value::as_int(std::string_view what) const {
  if (type == ValueType::U64 && u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    throw core::Error("gguf", "metadata '" + std::string(what) + "': value " + std::to_string(u) + " is too large");
  if (is_integer()) return i;
  throw core::Error("gguf", "metadata '" + std::string(what) + "' must be an integer, is " + value_type_name(type));
}
double Value::as_float(std::string_view what) const {
  if (type == ValueType::F32 || type == ValueType::F64) return f;
  if (is_integer()) return type == ValueType::U64 ? static_cast<double>(u) : static_cast<double>(i);
  throw core::Error("gguf", "metadata '" + std::string(what) + "' must be a number, is " + value_type_name(type));
}
bool Value::as_bool(std::string_view what) const {
  if (type == ValueType::BOOL) return u != 0;
  if (is_integer()) return i != 0;
  throw core::Error("gguf", "metadata '" + std::string(what) + "' must be a bool, is " + value_type_name(type));
}
std::string_view Value::as_string(std::string_view what) const {
  if (type == ValueType::STRING) return s;
  throw core::Error("gguf", "metadata '" + std::string(what) + "' must be a string, is " + value_type_name(type));
}
int64_t Value::int_at(uint64_t idx) const {
  if (!is_array() || idx >= count || !raw) throw core::Error("gguf", "array index out of range or not numeric");
  const uint8_t* p = raw + idx * value_type_size(elem_type);
  switch (elem_type) {
    case ValueType::U8: case ValueType::BOOL: return *p;
    case ValueType::I8: return static_cast<int8_t>(*p);
    case ValueType::U16: return load<uint16_t>(p);
    case ValueType::I16: return load<int16_t>(p);
    case ValueType::U32: return load<uint32_t>(p);
    case ValueType::I32: return load<int32_t>(p);
    case ValueType::U64: return static_cast<int64_t>(load<uint64_t>(p));
    case ValueType::I64: return load<int64_t>(p);
    case ValueType::F32: return static_cast<int64_t>(load<float>(p));
    case ValueType::F64: return static_cast<int64_t>(load<double>(p));
    default: throw core::Error("gguf", "array is not numeric");
  }
}
double Value::float_at(uint64_t idx) const {
  if (!is_array() || idx >= count || !raw) throw core::Error("gguf", "array index out of range or not numeric");
  const uint8_t* p = raw + idx * value_type_size(elem_type);
  if (elem_type == ValueType::F32) return load<float>(p);
  if (elem_type == ValueType::F64) return load<double>(p);
  return static_cast<double>(int_at(idx));
}

std::string Value::to_display(size_t max_elems) const {
  auto scalar = [](const Value& v) -> std::string {
    switch (v.type) {
      case ValueType::BOOL: return v.u ? "true" : "false";
      case ValueType::F32: case ValueType::F64: {
        char b[64];
        std::snprintf(b, sizeof b, "%.9g", v.f);
        return b;
      }
      case ValueType::STRING: return "\"" + std::string(v.s) + "\"";
      case ValueType::U64: return std::to_string(v.u);
      default: return std::to_string(v.i);
    }
  };
  if (!is_array()) {
    std::string s = scalar(*this);
    if (type == ValueType::STRING && s.size() > 200) s = s.substr(0, 200) + "...\" (" + std::to_string(this->s.size()) + " bytes)";
    return s;
  }
  std::string out = "[";
  uint64_t n = std::min<uint64_t>(count, max_elems);
  for (uint64_t e = 0; e < n; ++e) {
    if (e) out += ", ";
    if (elem_type == ValueType::STRING) {
      std::string q(strs[e]);
      if (q.size() > 40) q = q.substr(0, 40) + "...";
      out += "\"" + q + "\"";
    } else if (elem_type == ValueType::F32 || elem_type == ValueType::F64) {
      char b[64];
      std::snprintf(b, sizeof b, "%.6g", float_at(e));
      out += b;
    } else if (elem_type == ValueType::BOOL) {
      out += int_at(e) ? "true" : "false";
    } else {
      out += std::to_string(int_at(e));
    }
  }
  if (count > n) out += ", ... (" + std::to_string(count) + " " + value_type_name(elem_type) + ")";
  return out + "]";
}

}  // namespace fitserve::gguf
