// gguf/writer.cpp — GGUF v3 writer (canonical layout: tensors in order, each padded).
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "gguf/gguf.h"

namespace fitserve::gguf {

namespace {
template <class T>
void append(std::vector<uint8_t>& b, T v) {
  uint8_t tmp[sizeof(T)];
  std::memcpy(tmp, &v, sizeof(T));
  b.insert(b.end(), tmp, tmp + sizeof(T));
}
void append_str(std::vector<uint8_t>& b, std::string_view s) {
  append<uint64_t>(b, s.size());
  b.insert(b.end(), s.begin(), s.end());
}
template <class T>
std::vector<uint8_t> scalar(T v) {
  std::vector<uint8_t> b;
  append(b, v);
  return b;
}

struct FileOut {
  FILE* f;
  std::string path;
  uint64_t written = 0;
  void write(const void* p, size_t n) {
    if (n && std::fwrite(p, 1, n, f) != n)
      throw core::Error("io", path + ": write failed (disk full?)");
    written += n;
  }
};
struct VecOut {
  std::vector<uint8_t>& v;
  uint64_t written = 0;
  void write(const void* p, size_t n) {
    auto* c = static_cast<const uint8_t*>(p);
    v.insert(v.end(), c, c + n);
    written += n;
  }
};
}  // namespace

void Writer::put(const std::string& k, ValueType t, std::vector<uint8_t> payload, ValueType elem, uint64_t count) {
  for (auto& r : kv_)
    if (r.key == k) {
      r = Rec{k, t, elem, count, std::move(payload)};
      return;
    }
  kv_.push_back(Rec{k, t, elem, count, std::move(payload)});
}

void Writer::set_u8(const std::string& k, uint8_t v) { put(k, ValueType::U8, scalar(v)); }
void Writer::set_i8(const std::string& k, int8_t v) { put(k, ValueType::I8, scalar(v)); }
void Writer::set_u16(const std::string& k, uint16_t v) { put(k, ValueType::U16, scalar(v)); }
void Writer::set_i16(const std::string& k, int16_t v) { put(k, ValueType::I16, scalar(v)); }
void Writer::set_u32(const std::string& k, uint32_t v) { put(k, ValueType::U32, scalar(v)); }
void Writer::set_i32(const std::string& k, int32_t v) { put(k, ValueType::I32, scalar(v)); }
void Writer::set_u64(const std::string& k, uint64_t v) { put(k, ValueType::U64, scalar(v)); }
void Writer::set_i64(const std::string& k, int64_t v) { put(k, ValueType::I64, scalar(v)); }
void Writer::set_f32(const std::string& k, float v) { put(k, ValueType::F32, scalar(v)); }
void Writer::set_f64(const std::string& k, double v) { put(k, ValueType::F64, scalar(v)); }
void Writer::set_bool(const std::string& k, bool v) { put(k, ValueType::BOOL, scalar<uint8_t>(v ? 1 : 0)); }
void Writer::set_string(const std::string& k, std::string_view v) {
  std::vector<uint8_t> b;
  append_str(b, v);
  put(k, ValueType::STRING, std::move(b));
}
void Writer::set_array_string(const std::string& k, const std::vector<std::string>& v) {
  std::vector<uint8_t> b;
  for (auto& s : v) append_str(b, s);
  put(k, ValueType::ARRAY, std::move(b), ValueType::STRING, v.size());
}
void Writer::set_array_string(const std::string& k, const std::vector<std::string_view>& v) {
  std::vector<uint8_t> b;
  for (auto& s : v) append_str(b, s);
  put(k, ValueType::ARRAY, std::move(b), ValueType::STRING, v.size());
}
void Writer::set_array_f32(const std::string& k, const std::vector<float>& v) {
  std::vector<uint8_t> b;
  for (float x : v) append(b, x);
  put(k, ValueType::ARRAY, std::move(b), ValueType::F32, v.size());
}
void Writer::set_array_i32(const std::string& k, const std::vector<int32_t>& v) {
  std::vector<uint8_t> b;
  for (auto x : v) append(b, x);
  put(k, ValueType::ARRAY, std::move(b), ValueType::I32, v.size());
}
void Writer::set_array_u32(const std::string& k, const std::vector<uint32_t>& v) {
  std::vector<uint8_t> b;
  for (auto x : v) append(b, x);
  put(k, ValueType::ARRAY, std::move(b), ValueType::U32, v.size());
}
void Writer::set_array_bool(const std::string& k, const std::vector<bool>& v) {
  std::vector<uint8_t> b;
  for (bool x : v) b.push_back(x ? 1 : 0);
  put(k, ValueType::ARRAY, std::move(b), ValueType::BOOL, v.size());
}
void Writer::set_value(const std::string& k, const Value& v) {
  if (v.type == ValueType::ARRAY) {
    std::vector<uint8_t> b;
    if (v.elem_type == ValueType::STRING) {
      for (auto& s : v.strs) append_str(b, s);
    } else if (v.count) {
      b.assign(v.raw, v.raw + v.count * value_type_size(v.elem_type));
    }
    put(k, ValueType::ARRAY, std::move(b), v.elem_type, v.count);
    return;
  }
  std::vector<uint8_t> b;
  switch (v.type) {
    case ValueType::U8: append<uint8_t>(b, static_cast<uint8_t>(v.u)); break;
    case ValueType::I8: append<int8_t>(b, static_cast<int8_t>(v.i)); break;
    case ValueType::U16: append<uint16_t>(b, static_cast<uint16_t>(v.u)); break;
    case ValueType::I16: append<int16_t>(b, static_cast<int16_t>(v.i)); break;
    case ValueType::U32: append<uint32_t>(b, static_cast<uint32_t>(v.u)); break;
    case ValueType::I32: append<int32_t>(b, static_cast<int32_t>(v.i)); break;
    case ValueType::U64: append<uint64_t>(b, v.u); break;
    case ValueType::I64: append<int64_t>(b, v.i); break;
    case ValueType::F32: append<float>(b, static_cast<float>(v.f)); break;
    case ValueType::F64: append<double>(b, v.f); break;
    case ValueType::BOOL: append<uint8_t>(b, v.u ? 1 : 0); break;
    case ValueType::STRING: append_str(b, v.s); break;
    default: break;
  }
  if (k == "general.alignment" && v.type == ValueType::U32) alignment_ = static_cast<uint32_t>(v.u);
  put(k, v.type, std::move(b));
}
void Writer::remove(const std::string& k) {
  for (size_t i = 0; i < kv_.size(); ++i)
    if (kv_[i].key == k) {
      kv_.erase(kv_.begin() + static_cast<long>(i));
      return;
    }
}
void Writer::set_alignment(uint32_t a) {
  if (a == 0 || (a & (a - 1))) throw core::Error("gguf", "alignment must be a power of two");
  alignment_ = a;
  set_u32("general.alignment", a);
}

static size_t tensor_bytes(const std::string& name, quant::Type type, const std::vector<int64_t>& ne) {
  const auto& ti = quant::type_info(type);
  if (ti.block == 0) throw core::Error("gguf", "tensor '" + name + "': invalid type");
  if (ne.empty() || ne.size() > 4) throw core::Error("gguf", "tensor '" + name + "': 1 to 4 dimensions");
  if (ne[0] % ti.block) throw core::Error("gguf", "tensor '" + name + "': row length not a multiple of the block");
  size_t n = static_cast<size_t>(ne[0] / ti.block) * ti.bytes;
  for (size_t d = 1; d < ne.size(); ++d) n *= static_cast<size_t>(ne[d]);
  return n;
}

void Writer::add_tensor(const std::string& name, quant::Type type, std::vector<int64_t> ne, const void* data, size_t nbytes) {
  size_t need = tensor_bytes(name, type, ne);
  if (need != nbytes)
    throw core::Error("gguf", "tensor '" + name + "': " + std::to_string(nbytes) + " bytes given, shape needs " + std::to_string(need));
  auto* p = static_cast<const uint8_t*>(data);
  tensors_.push_back(Tensor{name, type, std::move(ne), nbytes, std::vector<uint8_t>(p, p + nbytes), {}});
}

void Writer::add_tensor_fill(const std::string& name, quant::Type type, std::vector<int64_t> ne, Fill fill) {
  size_t need = tensor_bytes(name, type, ne);
  tensors_.push_back(Tensor{name, type, std::move(ne), need, {}, std::move(fill)});
}

template <class Out>
void Writer::emit(Out& out) const {
  std::vector<uint8_t> h;
  h.insert(h.end(), {'G', 'G', 'U', 'F'});
  append<uint32_t>(h, 3);
  append<int64_t>(h, static_cast<int64_t>(tensors_.size()));
  append<int64_t>(h, static_cast<int64_t>(kv_.size()));
  for (auto& r : kv_) {
    append_str(h, r.key);
    append<uint32_t>(h, static_cast<uint32_t>(r.type));
    if (r.type == ValueType::ARRAY) {
      append<uint32_t>(h, static_cast<uint32_t>(r.elem));
      append<uint64_t>(h, r.count);
    }
    h.insert(h.end(), r.payload.begin(), r.payload.end());
  }
  uint64_t off = 0;
  const uint64_t a = alignment_;
  for (auto& t : tensors_) {
    append_str(h, t.name);
    append<uint32_t>(h, static_cast<uint32_t>(t.ne.size()));
    for (auto d : t.ne) append<int64_t>(h, d);
    append<uint32_t>(h, static_cast<uint32_t>(t.type));
    append<uint64_t>(h, off);
    off += (t.nbytes + a - 1) / a * a;
  }
  while (h.size() % a) h.push_back(0);
  out.write(h.data(), h.size());
  static const uint8_t zeros[256] = {0};
  std::vector<uint8_t> buf;
  for (auto& t : tensors_) {
    if (t.fill) {
      // Fill in chunks of whole rows would complicate callers; fill whole tensor in one buffer
      // capped by its own size (callers of very large tensors pass row-wise fills themselves).
      buf.resize(t.nbytes);
      t.fill(buf.data(), t.nbytes);
      out.write(buf.data(), t.nbytes);
    } else {
      out.write(t.bytes.data(), t.nbytes);
    }
    uint64_t pad = (t.nbytes + a - 1) / a * a - t.nbytes;
    while (pad) {
      size_t k = pad > sizeof zeros ? sizeof zeros : pad;
      out.write(zeros, k);
      pad -= k;
    }
  }
}

void Writer::write_file(const std::string& path) const {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw core::Error("io", path + ": cannot create file");
  std::unique_ptr<FILE, int (*)(FILE*)> guard(f, &std::fclose);
  FileOut out{f, path};
  try {
    emit(out);
  } catch (...) {
    guard.reset();
    std::remove(tmp.c_str());
    throw;
  }
  if (std::fclose(guard.release()) != 0) {
    std::remove(tmp.c_str());
    throw core::Error("io", path + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw core::Error("io", path + ": cannot rename temporary file");
}

std::vector<uint8_t> Writer::to_bytes() const {
  std::vector<uint8_t> v;
  VecOut out{v};
  emit(out);
  return v;
}

}  // namespace fitserve::gguf
