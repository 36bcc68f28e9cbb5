// Tests for the GGUF reader/writer: real files, round trips, and >= 40 malformed files.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/testdata.h"
#include "gguf/gguf.h"

using namespace fitserve;
namespace t = fitserve::core::test;

namespace {

gguf::File parse_bytes(std::vector<uint8_t> b, const std::string& name = "mem.gguf") {
  return gguf::File::parse(core::MappedFile::from_bytes(std::move(b), name));
}

// A valid file with several metadata types, arrays and three tensors.
gguf::Writer sample_writer() {
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", "sample");
  w.set_u32("llama.block_count", 2);
  w.set_f32("llama.rope.freq_base", 10000.0f);
  w.set_bool("flag", true);
  w.set_i64("big", -5);
  w.set_array_string("tokenizer.ggml.tokens", std::vector<std::string>{"<unk>", "a", "b"});
  w.set_array_f32("tokenizer.ggml.scores", {0.f, -1.f, -2.f});
  w.set_array_bool("pattern", {true, false});
  std::vector<float> a(64 * 2);
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(i) * 0.5f;
  w.add_tensor("a", quant::Type::F32, {64, 2}, a.data(), a.size() * 4);
  std::vector<uint8_t> q(34 * 4, 1);
  w.add_tensor("q", quant::Type::Q8_0, {64, 2}, q.data(), q.size());
  std::vector<uint8_t> h(2 * 7, 2);
  w.add_tensor("h", quant::Type::F16, {7}, h.data(), h.size());
  return w;
}

// Hand-rolled byte builder for crafting invalid files field by field.
struct B {
  std::vector<uint8_t> v;
  template <class T> B& put(T x) { uint8_t t[sizeof(T)]; std::memcpy(t, &x, sizeof(T)); v.insert(v.end(), t, t + sizeof(T)); return *this; }
  B& u32(uint32_t x) { return put(x); }
  B& i64(int64_t x) { return put(x); }
  B& u64(uint64_t x) { return put(x); }
  B& str(std::string_view s) { u64(s.size()); v.insert(v.end(), s.begin(), s.end()); return *this; }
  B& head(int64_t nt, int64_t nkv, uint32_t ver = 3) { v.insert(v.end(), {'G', 'G', 'U', 'F'}); u32(ver); i64(nt); return i64(nkv); }
  B& kv_u32(std::string_view k, uint32_t x) { str(k); u32(4); return u32(x); }
  B& tensor(std::string_view name, std::vector<int64_t> ne, uint32_t type, uint64_t off) {
    str(name); u32(uint32_t(ne.size())); for (auto d : ne) i64(d); u32(type); return u64(off);
  }
  B& pad(size_t a = 32) { while (v.size() % a) v.push_back(0); return *this; }
  B& data(size_t n) { v.insert(v.end(), n, 0); return *this; }
};

}  // namespace

TEST(GgufReader, Stories260K) {
  std::string p = t::repo_data("stories260K.gguf");
  auto f = gguf::File::open(p);
  EXPECT_EQ(f.architecture(), "llama");
  EXPECT_EQ(f.tensors().size(), 48u);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.data_offset(), 14176u);  // spec §1.1 example
  EXPECT_TRUE(f.find("tokenizer.ggml.tokens"));
  EXPECT_EQ(f.require_int("llama.block_count"), 5);
  const auto* emb = f.tensor("token_embd.weight");
  ASSERT_TRUE(emb);
  EXPECT_NE(emb->data, nullptr);
  EXPECT_EQ(emb->data, f.tensors()[0].data == emb->data ? emb->data : emb->data);
}

TEST(GgufReader, RejectsV1WithHint) {
  try {
    gguf::File::open(t::repo_data("stories260K-ggufv1.gguf"));
    FAIL() << "v1 accepted";
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("version 1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("re-convert"), std::string::npos) << e.what();
  }
}

TEST(GgufReader, MissingFileIsIoError) {
  try {
    gguf::File::open("/nonexistent/x.gguf");
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), "io");
  }
}

TEST(GgufWriter, RoundTrip) {
  auto bytes = sample_writer().to_bytes();
  auto f = parse_bytes(bytes);
  EXPECT_EQ(f.get_string("general.name"), "sample");
  EXPECT_EQ(f.get_int("llama.block_count"), 2);
  EXPECT_FLOAT_EQ(float(*f.get_float("llama.rope.freq_base")), 10000.f);
  EXPECT_EQ(f.get_bool("flag"), true);
  EXPECT_EQ(f.get_int("big"), -5);
  auto* toks = f.find("tokenizer.ggml.tokens");
  ASSERT_TRUE(toks);
  ASSERT_EQ(toks->count, 3u);
  EXPECT_EQ(toks->strs[1], "a");
  EXPECT_FLOAT_EQ(float(f.find("tokenizer.ggml.scores")->float_at(2)), -2.f);
  EXPECT_EQ(f.find("pattern")->int_at(0), 1);
  ASSERT_EQ(f.tensors().size(), 3u);
  auto* a = f.tensor("a");
  ASSERT_TRUE(a);
  float x;
  std::memcpy(&x, a->data + 4 * 5, 4);
  EXPECT_FLOAT_EQ(x, 2.5f);
  EXPECT_EQ(f.tensor("q")->nbytes, 34u * 4);
  EXPECT_EQ(f.tensor("q")->offset % 32, 0u);
  EXPECT_EQ(f.tensor("h")->ne[0], 7);
  // Writer copies values from a file and produces an identical file.
  gguf::Writer w2;
  for (auto& kv : f.metadata()) w2.set_value(kv.key, kv.value);
  for (auto& ti : f.tensors())
    w2.add_tensor(ti.name, ti.type, std::vector<int64_t>(ti.ne, ti.ne + std::max(ti.n_dims, 1)), ti.data, ti.nbytes);
  EXPECT_EQ(w2.to_bytes(), bytes);
}

TEST(GgufWriter, StreamingFillAndAlignment) {
  gguf::Writer w;
  w.set_alignment(64);
  w.add_tensor_fill("x", quant::Type::F32, {16}, [](uint8_t* d, size_t n) { std::memset(d, 0x3f, n); });
  w.add_tensor_fill("y", quant::Type::F32, {3}, [](uint8_t* d, size_t n) { std::memset(d, 0, n); });
  auto f = parse_bytes(w.to_bytes());
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_EQ(f.tensor("y")->offset, 64u);
  EXPECT_EQ(f.tensor("x")->data[7], 0x3f);
}

TEST(GgufReader, HeaderOnlyPrefix) {
  auto bytes = sample_writer().to_bytes();
  auto full = parse_bytes(bytes);
  std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<long>(full.header_bytes()));
  auto f = gguf::File::parse(core::MappedFile::from_bytes(prefix, "prefix"), bytes.size());
  EXPECT_TRUE(f.header_only());
  EXPECT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.tensor("a")->data, nullptr);
  EXPECT_EQ(f.file_size(), bytes.size());
}

// ---- malformed files ----
struct Bad {
  std::string name;
  std::function<std::vector<uint8_t>()> make;
  std::string expect;  // substring of the message
};

static std::vector<Bad> malformed_cases() {
  std::vector<Bad> c;
  auto valid = sample_writer().to_bytes();
  auto patch = [valid](size_t off, std::vector<uint8_t> bytes) {
    return [valid, off, bytes] { auto v = valid; std::memcpy(v.data() + off, bytes.data(), bytes.size()); return v; };
  };
  c.push_back({"empty", [] { return std::vector<uint8_t>{}; }, "too small"});
  c.push_back({"bad magic", patch(0, {'G', 'G', 'M', 'L'}), "bad magic"});
  c.push_back({"version 0", patch(4, {0, 0, 0, 0}), "version"});
  c.push_back({"version 1", patch(4, {1, 0, 0, 0}), "version 1"});
  c.push_back({"version 4", patch(4, {4, 0, 0, 0}), "version"});
  c.push_back({"big endian", patch(4, {0, 0, 0, 3}), "big-endian"});
  c.push_back({"negative tensor count", [] { return B().head(-1, 0).v; }, "negative tensor count"});
  c.push_back({"negative kv count", [] { return B().head(0, -3).v; }, "negative metadata count"});
  c.push_back({"huge kv count", [] { return B().head(0, int64_t(1) << 40).v; }, "cannot fit"});
  c.push_back({"huge tensor count", [] { return B().head(int64_t(1) << 50, 0).v; }, "cannot fit"});
  c.push_back({"key length past eof", [] { return B().head(0, 1).u64(1000).data(20).v; }, "unexpected end"});
  c.push_back({"key length > 1GiB", [] { B b; b.head(0, 1).u64(uint64_t(1) << 40); b.data(64); return b.v; }, "exceeds 1 GiB"});
  c.push_back({"empty key", [] { return B().head(0, 1).str("").u32(4).u32(1).v; }, "empty key"});
  c.push_back({"invalid utf8 key", [] { return B().head(0, 1).str("\xff\xfe").u32(4).u32(1).v; }, "UTF-8"});
  c.push_back({"duplicate key", [] { return B().head(0, 2).kv_u32("a.b", 1).kv_u32("a.b", 2).v; }, "duplicate metadata key"});
  c.push_back({"value type 13", [] { return B().head(0, 1).str("k").u32(13).u32(0).v; }, "invalid value type"});
  c.push_back({"value type huge", [] { return B().head(0, 1).str("k").u32(0xffffffff).u32(0).v; }, "invalid value type"});
  c.push_back({"nested array", [] { return B().head(0, 1).str("k").u32(9).u32(9).u64(0).v; }, "nested"});
  c.push_back({"array elem type invalid", [] { return B().head(0, 1).str("k").u32(9).u32(20).u64(0).v; }, "invalid array element type"});
  c.push_back({"array count > 2^30", [] { return B().head(0, 1).str("k").u32(9).u32(4).u64(uint64_t(1) << 31).v; }, "exceeds 2^30"});
  c.push_back({"array past eof", [] { return B().head(0, 1).str("k").u32(9).u32(4).u64(1000).u32(1).v; }, "past the end"});
  c.push_back({"string array past eof", [] { return B().head(0, 1).str("k").u32(9).u32(8).u64(100000).v; }, "cannot fit"});
  c.push_back({"string in array past eof", [] { return B().head(0, 1).str("k").u32(9).u32(8).u64(1).u64(50).v; }, "unexpected end"});
  c.push_back({"bool value 2", [] { return B().head(0, 1).str("k").u32(7).put<uint8_t>(2).v; }, "bool"});
  c.push_back({"bool array value 7", [] { return B().head(0, 1).str("k").u32(9).u32(7).u64(2).put<uint8_t>(1).put<uint8_t>(7).v; }, "bool array"});
  c.push_back({"alignment not pow2", [] { return B().head(0, 1).kv_u32("general.alignment", 24).v; }, "power of two"});
  c.push_back({"alignment zero", [] { return B().head(0, 1).kv_u32("general.alignment", 0).v; }, "power of two"});
  c.push_back({"alignment wrong type", [] { return B().head(0, 1).str("general.alignment").u32(5).put<int32_t>(32).v; }, "must be u32"});
  c.push_back({"truncated scalar", [] { return B().head(0, 1).str("k").u32(10).u32(1).v; }, "unexpected end"});
  c.push_back({"empty tensor name", [] { return B().head(1, 0).tensor("", {32}, 0, 0).pad().data(128).v; }, "empty name"});
  c.push_back({"tensor name too long", [] { return B().head(1, 0).tensor(std::string(64, 'x'), {32}, 0, 0).pad().data(128).v; }, "exceeds 63"});
  c.push_back({"duplicate tensor name", [] { return B().head(2, 0).tensor("t", {8}, 0, 0).tensor("t", {8}, 0, 32).pad().data(64).v; }, "duplicate tensor name"});
  c.push_back({"n_dims 5", [] { return B().head(1, 0).tensor("t", {1, 1, 1, 1, 1}, 0, 0).pad().data(32).v; }, "n_dims 5"});
  c.push_back({"negative dim", [] { return B().head(1, 0).tensor("t", {-4}, 0, 0).pad().data(32).v; }, "negative dimension"});
  c.push_back({"dims overflow", [] { return B().head(1, 0).tensor("t", {int64_t(1) << 40, int64_t(1) << 40}, 0, 0).pad().data(32).v; }, "overflow"});
  c.push_back({"byte size overflow", [] { return B().head(1, 0).tensor("t", {int64_t(1) << 31, int64_t(1) << 31, 4}, 0, 0).pad().data(32).v; }, "overflows"});
  c.push_back({"removed type 4", [] { return B().head(1, 0).tensor("t", {32}, 4, 0).pad().data(32).v; }, "removed"});
  c.push_back({"removed type 36", [] { return B().head(1, 0).tensor("t", {256}, 36, 0).pad().data(256).v; }, "removed"});
  c.push_back({"unknown type 99", [] { return B().head(1, 0).tensor("t", {32}, 99, 0).pad().data(32).v; }, "unknown tensor type"});
  c.push_back({"row not multiple of block", [] { return B().head(1, 0).tensor("t", {33}, 2, 0).pad().data(64).v; }, "not a multiple"});
  c.push_back({"misaligned offset", [] { return B().head(2, 0).tensor("a", {8}, 0, 0).tensor("b", {8}, 0, 33).pad().data(96).v; }, "not aligned"});
  c.push_back({"offset out of file", [] { return B().head(1, 0).tensor("t", {8}, 0, 4096).pad().data(32).v; }, "not within the file"});
  c.push_back({"data truncated", [] { return B().head(1, 0).tensor("t", {64}, 0, 0).pad().data(100).v; }, "not within the file"});
  c.push_back({"overlapping tensors", [] { return B().head(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 32).pad().data(128).v; }, "overlaps"});
  c.push_back({"offset overflow", [] { return B().head(1, 0).tensor("t", {8}, 0, ~uint64_t(31)).pad().data(32).v; }, "overflow"});
  c.push_back({"data section beyond eof", [] { return B().head(1, 0).tensor("t", {0}, 0, 0).v; }, "beyond the end"});
  // Truncations at every byte of the header and at points inside the tensor data.
  auto full = parse_bytes(valid);
  uint64_t data_end = 0;
  for (auto& ti : full.tensors()) data_end = std::max(data_end, full.data_offset() + ti.offset + ti.nbytes);
  for (uint64_t cut = 0; cut < data_end; cut += (cut < full.header_bytes() ? 1 : 37)) {
    if (cut >= full.header_bytes() && cut < full.data_offset()) continue;  // in padding: covered below
    c.push_back({"truncated at " + std::to_string(cut),
                 [valid, cut] { return std::vector<uint8_t>(valid.begin(), valid.begin() + static_cast<long>(cut)); }, ""});
  }
  const uint64_t hb = full.header_bytes();
  c.push_back({"truncated in padding",
               [valid, hb] { return std::vector<uint8_t>(valid.begin(), valid.begin() + static_cast<long>(hb + 1)); }, ""});
  return c;
}

TEST(GgufReader, MalformedFilesAreRefusedWithClearErrors) {
  auto cases = malformed_cases();
  ASSERT_GE(cases.size(), 40u);
  int n = 0;
  for (auto& bc : cases) {
    try {
      parse_bytes(bc.make(), "bad.gguf");
      ADD_FAILURE() << "accepted malformed file: " << bc.name;
    } catch (const core::Error& e) {
      std::string m = e.what();
      EXPECT_EQ(e.code(), "gguf") << bc.name;
      EXPECT_EQ(m.rfind("bad.gguf: ", 0), 0u) << bc.name << ": " << m;
      if (!bc.expect.empty()) { EXPECT_NE(m.find(bc.expect), std::string::npos) << bc.name << ": " << m; }
      if (m.find("hint") == std::string::npos) { EXPECT_NE(m.find("(at byte "), std::string::npos) << bc.name << ": " << m; }
      ++n;
    }
  }
  EXPECT_EQ(n, int(cases.size()));
}

TEST(GgufReader, EveryGgufUnderSharedParses) {
  const char* files[] = {"models/gemma4-dense-F16.gguf", "models/gemma4-moe-Q4_K_M.gguf", "models/gemma4-e-Q4_0.gguf",
                         "vocab/ggml-vocab-gemma-4.gguf", "quant/quant-golden.gguf"};
  int seen = 0;
  for (auto rel : files) {
    std::string p = t::testdata(rel);
    if (!t::exists(p)) continue;
    EXPECT_NO_THROW(gguf::File::open(p)) << p;
    ++seen;
  }
  if (!seen) GTEST_SKIP() << "no shared test data at " << t::testdata_root();
}
