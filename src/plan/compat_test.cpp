// plan/compat_test.cpp — mmproj n_embd and drafter checks on the shared test files.
#include "plan/compat.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>

#include "core/error.h"
#include "plan/test_util.h"

namespace fitserve::plan {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), "model");
    return e.what();
  }
  return "";
}

TEST(Compat, MatchingMmprojsPass) {
  auto t = test::vision("gemma4-vis-text-e64.gguf");
  auto v = test::vision("mmproj-gemma4v-e64.gguf");
  auto uv = test::vision("mmproj-gemma4uv-e64.gguf");
  PLAN_REQUIRE_FILE(t);
  PLAN_REQUIRE_FILE(v);
  PLAN_REQUIRE_FILE(uv);
  ModelHeaders text = open_headers(t);
  EXPECT_NO_THROW(check_mmproj(text, open_headers(v)));
  EXPECT_NO_THROW(check_mmproj(text, open_headers(uv)));
}

TEST(Compat, WrongMmprojRefusedFromHeadersInMilliseconds) {
  auto t = test::vision("gemma4-vis-text-e64.gguf");
  auto w = test::vision("mmproj-gemma4v-e96-WRONG.gguf");
  PLAN_REQUIRE_FILE(t);
  PLAN_REQUIRE_FILE(w);
  auto t0 = std::chrono::steady_clock::now();
  ModelHeaders text = open_headers(t), mm = open_headers(w);
  std::string e = error_of([&] { check_mmproj(text, mm); });
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(e,
            "mmproj 'mmproj-gemma4v-e96-WRONG.gguf' produces n_embd=96 but the text model 'gemma4-vis-text-e64.gguf' "
            "has n_embd=64; this mmproj belongs to a different model; hint: take the mmproj from the same "
            "repository/size as the model");
  EXPECT_LT(ms, 2000.0);  // headers only (typically a few ms; generous for sanitizer builds)
  // A text model passed as the mmproj.
  EXPECT_NE(error_of([&] { check_mmproj(text, text); }).find("not an mmproj"), std::string::npos);
}

TEST(Compat, AssistantWidthAndShapes) {
  auto dense = test::model("gemma4-dense-Q8_0.gguf");
  auto asst = test::model("gemma4-dense-assistant-Q8_0.gguf");
  auto small = test::model("gemma4-full-vocab-Q8_0.gguf");
  auto e = test::model("gemma4-e-Q8_0.gguf");
  PLAN_REQUIRE_FILE(dense);
  PLAN_REQUIRE_FILE(asst);
  PLAN_REQUIRE_FILE(small);
  PLAN_REQUIRE_FILE(e);
  ModelHeaders a = open_headers(asst);
  EXPECT_NO_THROW(check_drafter(open_headers(dense), a));
  std::string err = error_of([&] { check_drafter(open_headers(small), a); });
  EXPECT_NE(err.find("MTP assistant 'gemma4-dense-assistant-Q8_0.gguf' expects a target with n_embd=256 "
                     "(embedding_length_out) but the text model 'gemma4-full-vocab-Q8_0.gguf' has n_embd=32"),
            std::string::npos)
      << err;
  // Same width (256) but the E model's caches have other shapes (1 KV head of 32 / 64).
  err = error_of([&] { check_drafter(open_headers(e), a); });
  EXPECT_NE(err.find("KV heads of dim"), std::string::npos) << err;
}

TEST(Compat, DraftVocabulary) {
  auto full = test::model("gemma4-full-vocab-Q8_0.gguf");
  auto vis = test::vision("gemma4-vis-text-e64.gguf");
  auto dense = test::model("gemma4-dense-Q8_0.gguf");
  auto stories = core::test::repo_data("stories260K.gguf");
  PLAN_REQUIRE_FILE(full);
  PLAN_REQUIRE_FILE(vis);
  PLAN_REQUIRE_FILE(dense);
  PLAN_REQUIRE_FILE(stories);
  ModelHeaders f = open_headers(full), v = open_headers(vis), d = open_headers(dense), s = open_headers(stories);
  EXPECT_NO_THROW(check_drafter(v, f));  // same Gemma 4 tokenizer, 262144 tokens each
  EXPECT_NE(error_of([&] { check_drafter(v, s); }).find("vocab type 'gemma4' vs 'llama'"), std::string::npos);
  EXPECT_NE(error_of([&] { check_drafter(f, d); }).find("vocab type"), std::string::npos);
  // Same type, one token text changed: named by id.
  gguf::Writer w;
  const gguf::File& ff = f.file();
  for (const auto& kv : ff.metadata()) w.set_value(kv.key, kv.value);
  std::vector<std::string_view> toks = ff.find("tokenizer.ggml.tokens")->strs;
  toks[1000] = "changed";
  w.set_array_string("tokenizer.ggml.tokens", toks);
  auto changed = std::make_shared<const gguf::File>(gguf::File::parse(core::MappedFile::from_bytes(w.to_bytes(), "changed.gguf")));
  std::string err = error_of([&] { check_vocab(f, read_headers(changed)); });
  EXPECT_NE(err.find("token 1000 is"), std::string::npos) << err;
  // Size difference above 128.
  toks.resize(toks.size() - 200);
  w.set_array_string("tokenizer.ggml.tokens", toks);
  auto shorter = std::make_shared<const gguf::File>(gguf::File::parse(core::MappedFile::from_bytes(w.to_bytes(), "short.gguf")));
  err = error_of([&] { check_vocab(f, read_headers(shorter)); });
  EXPECT_NE(err.find("differ by 200"), std::string::npos) << err;
}

TEST(Compat, CheckCompanionsRunsBoth) {
  auto t = test::vision("gemma4-vis-text-e64.gguf");
  auto w = test::vision("mmproj-gemma4v-e96-WRONG.gguf");
  PLAN_REQUIRE_FILE(t);
  PLAN_REQUIRE_FILE(w);
  ModelHeaders text = open_headers(t), mm = open_headers(w);
  EXPECT_NO_THROW(check_companions(ModelSet{&text}));
  EXPECT_THROW(check_companions(ModelSet{&text, &mm}), core::Error);
  // check_and_fit refuses the wrong mmproj before any sizing, and fits the right set.
  EXPECT_THROW(check_and_fit(ModelSet{&text, &mm}, RunSettings{}, 0), core::Error);
  auto v = test::vision("mmproj-gemma4v-e64.gguf");
  PLAN_REQUIRE_FILE(v);
  ModelHeaders good = open_headers(v);
  FitResult r = check_and_fit(ModelSet{&text, &good}, RunSettings{}, 256ull << 20);
  EXPECT_TRUE(r.auto_ctx);
  EXPECT_EQ(r.max_ctx, 8192);  // the training context; fits easily in 256 MiB
  EXPECT_EQ(r.plan.settings.n_ctx, 8192);
}

}  // namespace
}  // namespace fitserve::plan
