// plan/test_util.h — helpers for the plan tests only (header-only): locate the shared test
// models and write metadata-only GGUFs describing real model shapes.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/testdata.h"
#include "gguf/gguf.h"

namespace fitserve::plan::test {

inline std::string model(const std::string& name) { return core::test::testdata("models/" + name); }
inline std::string vision(const std::string& name) { return core::test::testdata("vision/models/" + name); }

#define PLAN_REQUIRE_FILE(path)                                         \
  do {                                                                  \
    if (!::fitserve::core::test::exists(path)) GTEST_SKIP() << "missing test file " << (path); \
  } while (0)

inline std::string temp_dir() {
  std::string t = ::testing::TempDir() + "fitserve_plan_XXXXXX";
  std::vector<char> buf(t.begin(), t.end());
  buf.push_back(0);
  if (!::mkdtemp(buf.data())) return ::testing::TempDir();
  return buf.data();
}

// A Gemma 4 style text model header (no tensors): n_layer layers, every `period`-th layer full.
struct G4Shape {
  int n_layer = 48;
  int n_embd = 3840, n_head = 16, kv_swa = 8, kv_full = 1, d_swa = 256, d_full = 512;
  int period = 6, window = 1024, shared_kv = 0, ctx = 262144, vocab = 262144, n_ff = 15360;
};

inline gguf::Writer g4_writer(const G4Shape& s) {
  gguf::Writer w;
  w.set_string("general.architecture", "gemma4");
  w.set_u32("gemma4.block_count", s.n_layer);
  w.set_u32("gemma4.context_length", s.ctx);
  w.set_u32("gemma4.embedding_length", s.n_embd);
  w.set_u32("gemma4.feed_forward_length", s.n_ff);
  w.set_u32("gemma4.attention.head_count", s.n_head);
  std::vector<int32_t> kv;
  std::vector<bool> pat;
  for (int l = 0; l < s.n_layer; ++l) {
    bool full = (l + 1) % s.period == 0;
    pat.push_back(!full);
    kv.push_back(full ? s.kv_full : s.kv_swa);
  }
  w.set_array_i32("gemma4.attention.head_count_kv", kv);
  w.set_array_bool("gemma4.attention.sliding_window_pattern", pat);
  w.set_u32("gemma4.attention.key_length", s.d_full);
  w.set_u32("gemma4.attention.value_length", s.d_full);
  w.set_u32("gemma4.attention.key_length_swa", s.d_swa);
  w.set_u32("gemma4.attention.value_length_swa", s.d_swa);
  w.set_u32("gemma4.attention.sliding_window", s.window);
  w.set_u32("gemma4.attention.shared_kv_layers", s.shared_kv);
  w.set_u32("gemma4.embedding_length_per_layer_input", 0);
  w.set_u32("gemma4.vocab_size", s.vocab);
  w.set_f32("gemma4.attention.layer_norm_rms_epsilon", 1e-6f);
  return w;
}

}  // namespace fitserve::plan::test
