// plan/http_test.cpp — GGUF headers over HTTP Range requests against a private local nginx.
#include "plan/http.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "plan/compat.h"
#include "plan/headers.h"
#include "plan/nginx_fixture.h"
#include "plan/plan.h"

namespace fitserve::plan {
namespace {

class Http : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    files_ = {test::vision("gemma4-vis-text-e64.gguf"), test::vision("mmproj-gemma4v-e64.gguf"),
              test::vision("mmproj-gemma4uv-e64.gguf"), test::vision("mmproj-gemma4v-e96-WRONG.gguf"),
              test::model("gemma4-dense-Q4_0.gguf"), test::vision("../README.md")};
    for (const auto& f : files_)
      if (!core::test::exists(f)) {
        skip_ = "missing test file " + f;
        return;
      }
    nginx_ = new test::Nginx;
    if (!nginx_->start(files_)) skip_ = "local nginx unavailable: " + nginx_->why();
  }
  static void TearDownTestSuite() {
    delete nginx_;
    nginx_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }
  static std::string url(const std::string& name, bool ranges = true) { return nginx_->url(name, ranges); }

  static inline std::vector<std::string> files_;
  static inline std::string skip_;
  static inline test::Nginx* nginx_ = nullptr;
};

void expect_same_header(const gguf::File& remote, const gguf::File& local) {
  ASSERT_EQ(remote.tensors().size(), local.tensors().size());
  ASSERT_EQ(remote.metadata().size(), local.metadata().size());
  for (size_t i = 0; i < local.tensors().size(); ++i) {
    EXPECT_EQ(remote.tensors()[i].name, local.tensors()[i].name);
    EXPECT_EQ(remote.tensors()[i].nbytes, local.tensors()[i].nbytes);
    EXPECT_EQ(remote.tensors()[i].offset, local.tensors()[i].offset);
  }
  EXPECT_EQ(remote.file_size(), local.file_size());
  EXPECT_EQ(remote.data_offset(), local.data_offset());
}

TEST_F(Http, SmallHeaderFetchesOneMegabyteAtMost) {
  auto local_path = test::vision("mmproj-gemma4v-e64.gguf");
  gguf::File local = gguf::File::open(local_path);
  uint64_t fetched = 0;
  FetchStats st;
  gguf::File f = fetch_header(url("mmproj-gemma4v-e64.gguf"), &fetched, {}, &st);
  expect_same_header(f, local);
  EXPECT_TRUE(f.header_only());
  EXPECT_EQ(f.tensors()[0].data, nullptr);
  EXPECT_EQ(st.requests, 1);
  EXPECT_EQ(fetched, st.bytes_fetched);
  EXPECT_LE(fetched, 1u << 20);
  EXPECT_LT(fetched * 3, local.file_size());  // 1 MiB of 4.1 MB
  EXPECT_EQ(st.file_size, local.file_size());
}

TEST_F(Http, LargeHeaderGrowsThePrefix) {
  // 25.5 MB file whose header (the full Gemma 4 tokenizer) is 15.8 MB.
  auto local_path = test::vision("gemma4-vis-text-e64.gguf");
  gguf::File local = gguf::File::open(local_path);
  FetchStats st;
  gguf::File f = fetch_header(url("gemma4-vis-text-e64.gguf"), nullptr, {}, &st);
  expect_same_header(f, local);
  EXPECT_EQ(f.find("tokenizer.ggml.tokens")->count, 262144u);
  EXPECT_GT(st.requests, 1);
  EXPECT_GE(st.bytes_fetched, local.header_bytes());
  EXPECT_LE(st.bytes_fetched, 2 * local.header_bytes());  // appended, never re-fetched
  EXPECT_LT(st.bytes_fetched, local.file_size());
  // With a small cap it stops and says why.
  FetchOptions small;
  small.max_bytes = 4u << 20;
  try {
    fetch_header(url("gemma4-vis-text-e64.gguf"), nullptr, small);
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), "io");
    EXPECT_NE(std::string(e.what()).find("header is larger than 4.0 MiB"), std::string::npos) << e.what();
  }
}

TEST_F(Http, WholeSmallFileParsesFully) {
  auto local_path = test::vision("mmproj-gemma4uv-e64.gguf");  // 0.8 MB < first request
  gguf::File local = gguf::File::open(local_path);
  FetchStats st;
  gguf::File f = fetch_header(url("mmproj-gemma4uv-e64.gguf"), nullptr, {}, &st);
  expect_same_header(f, local);
  EXPECT_FALSE(f.header_only());
  EXPECT_EQ(st.bytes_fetched, local.file_size());
}

TEST_F(Http, ServerWithoutRangesStillWorksAndStopsEarly) {
  FetchStats st;
  gguf::File f = fetch_header(url("mmproj-gemma4v-e64.gguf", false), nullptr, {}, &st);
  expect_same_header(f, gguf::File::open(test::vision("mmproj-gemma4v-e64.gguf")));
  EXPECT_LT(st.bytes_fetched, f.file_size());  // the transfer was cut off after the prefix
}

TEST_F(Http, PlanAndCompatFromUrlsMatchLocalFiles) {
  ModelHeaders rt = open_headers(url("gemma4-dense-Q4_0.gguf"));
  ModelHeaders lt = open_headers(test::model("gemma4-dense-Q4_0.gguf"));
  EXPECT_TRUE(rt.fetch.remote);
  EXPECT_GT(rt.fetch.bytes_fetched, 0u);
  RunSettings rs;
  rs.n_ctx = 4096;
  Plan a = make_plan(rt, rs), b = make_plan(lt, rs);
  EXPECT_EQ(a.total, b.total);
  EXPECT_EQ(a.weights_text, b.weights_text);
  ModelHeaders text = open_headers(url("gemma4-vis-text-e64.gguf"));
  EXPECT_NO_THROW(check_mmproj(text, open_headers(url("mmproj-gemma4v-e64.gguf"))));
  try {
    check_mmproj(text, open_headers(url("mmproj-gemma4v-e96-WRONG.gguf")));
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("mmproj 'mmproj-gemma4v-e96-WRONG.gguf' produces n_embd=96 but the text model "
                                         "'gemma4-vis-text-e64.gguf' has n_embd=64"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(Http, Errors) {
  try {
    fetch_header(url("no-such-file.gguf"));
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), "io");
    EXPECT_NE(std::string(e.what()).find("HTTP 404"), std::string::npos) << e.what();
  }
  // Not a GGUF: one request, then a gguf error (no growing to the cap).
  FetchStats st;
  try {
    fetch_header(url("README.md"), nullptr, {}, &st);
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), "gguf");
  }
  EXPECT_EQ(st.requests, 1);
  // Nothing listening.
  int port = test::Nginx::free_port();
  EXPECT_THROW(fetch_header("http://127.0.0.1:" + std::to_string(port) + "/x.gguf"), core::Error);
  // open_header dispatches on the scheme.
  FetchStats ls;
  gguf::File lf = open_header(test::model("gemma4-dense-Q4_0.gguf"), &ls);
  EXPECT_FALSE(ls.remote);
  EXPECT_EQ(ls.bytes_fetched, 0u);
  EXPECT_TRUE(is_url("https://huggingface.co/x.gguf"));
  EXPECT_FALSE(is_url("/tmp/http:/x.gguf"));
}

}  // namespace
}  // namespace fitserve::plan
