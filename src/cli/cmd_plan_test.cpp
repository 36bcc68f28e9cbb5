// cli/cmd_plan_test.cpp — `fitserve plan` and `fitserve synth` end to end (the real binary),
// including headers over HTTP from a private local nginx.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli/test_exec.h"
#include "plan/nginx_fixture.h"
#include "plan/test_util.h"

namespace fitserve::cli {
namespace {

using nlohmann::json;
namespace pt = plan::test;

using test::CmdResult;
std::string slurp(const std::string& p) { return core::read_file(p); }
CmdResult run(const std::string& args) { return test::run_fitserve(args); }

class PlanCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!core::test::exists(FITSERVE_BIN)) GTEST_SKIP() << "missing binary " << FITSERVE_BIN;
    text_ = pt::vision("gemma4-vis-text-e64.gguf");
    good_ = pt::vision("mmproj-gemma4v-e64.gguf");
    wrong_ = pt::vision("mmproj-gemma4v-e96-WRONG.gguf");
    for (auto* p : {&text_, &good_, &wrong_})
      if (!core::test::exists(*p)) GTEST_SKIP() << "missing test file " << *p;
  }
  std::string text_, good_, wrong_;
};

TEST_F(PlanCli, TableAndCompanionCheck) {
  CmdResult r = run("plan -m " + text_ + " --mmproj " + good_ + " -c 4096");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("(n_embd matches)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("KV cache, SWA layers (3 x 768 cells"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mmproj weights (gemma4v"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\ntotal "), std::string::npos) << r.out;
  CmdResult w = run("plan -m " + text_ + " --mmproj " + wrong_);
  EXPECT_EQ(w.rc, 1);
  EXPECT_EQ(w.err,
            "error: mmproj 'mmproj-gemma4v-e96-WRONG.gguf' produces n_embd=96 but the text model "
            "'gemma4-vis-text-e64.gguf' has n_embd=64; this mmproj belongs to a different model; hint: take the "
            "mmproj from the same repository/size as the model\n");
  EXPECT_TRUE(w.out.empty());
  CmdResult u = run("plan -m " + text_ + " --bogus");
  EXPECT_EQ(u.rc, 1);
  EXPECT_NE(u.err.find("unknown option '--bogus'"), std::string::npos);
}

TEST_F(PlanCli, MemCapJsonAndDoesNotFit) {
  CmdResult r = run("plan -m " + text_ + " --mem-cap 15M --margin 2M --json");  // below the training context
  ASSERT_EQ(r.rc, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_TRUE(j["fits"].get<bool>());
  EXPECT_TRUE(j["auto_ctx"].get<bool>());
  const int64_t max_ctx = j["max_ctx"];
  EXPECT_LT(max_ctx, 8192);  // the cap, not the training context, decides
  EXPECT_EQ(j["settings"]["n_ctx"].get<int64_t>(), max_ctx);
  EXPECT_LE(j["total"].get<uint64_t>(), 14ull << 20);
  uint64_t sum = 0;
  for (auto& c : j["components"])
    if (c["depth"] == 0) sum += c["bytes"].get<uint64_t>();
  EXPECT_EQ(sum, j["total"].get<uint64_t>());
  // One step more than the largest context: refused with the shared message, table still shown.
  CmdResult n = run("plan -m " + text_ + " --mem-cap 15M --margin 2M -c " + std::to_string(max_ctx + 256));
  EXPECT_EQ(n.rc, 1);
  EXPECT_NE(n.err.find("error: does not fit: this configuration (-c " + std::to_string(max_ctx + 256)), std::string::npos) << n.err;
  EXPECT_NE(n.err.find("the largest context that fits is " + std::to_string(max_ctx)), std::string::npos) << n.err;
  EXPECT_NE(n.out.find("\ntotal "), std::string::npos);
}

TEST_F(PlanCli, HeadersOverHttp) {
  pt::Nginx ng;
  if (!ng.start({text_, good_, wrong_})) GTEST_SKIP() << "local nginx unavailable: " << ng.why();
  CmdResult r = run("plan -m " + ng.url("gemma4-vis-text-e64.gguf") + " --mmproj " + ng.url("mmproj-gemma4v-e64.gguf") + " --json");
  ASSERT_EQ(r.rc, 0) << r.err;
  json j = json::parse(r.out);
  auto& f = j["models"]["text"]["fetch"];
  EXPECT_EQ(f["file_size"].get<uint64_t>(), 25529120u);
  EXPECT_LT(f["bytes_fetched"].get<uint64_t>(), f["file_size"].get<uint64_t>());
  auto& m = j["models"]["mmproj"]["fetch"];
  EXPECT_LE(m["bytes_fetched"].get<uint64_t>(), 1u << 20);  // 1 MiB of a 4.1 MB file
  // The same plan as from the local files.
  CmdResult l = run("plan -m " + text_ + " --mmproj " + good_ + " --json");
  ASSERT_EQ(l.rc, 0);
  EXPECT_EQ(json::parse(l.out)["total"], j["total"]);
  // The wrong mmproj is refused from 1 MiB of it.
  CmdResult w = run("plan -m " + ng.url("gemma4-vis-text-e64.gguf") + " --mmproj " + ng.url("mmproj-gemma4v-e96-WRONG.gguf"));
  EXPECT_EQ(w.rc, 1);
  EXPECT_NE(w.err.find("produces n_embd=96 but the text model 'gemma4-vis-text-e64.gguf' has n_embd=64"), std::string::npos) << w.err;
  // Text output reports what was fetched.
  CmdResult t = run("plan -m " + ng.url("gemma4-vis-text-e64.gguf") + " -c 2048");
  EXPECT_EQ(t.rc, 0) << t.err;
  EXPECT_NE(t.out.find(" of 24.3 MiB in "), std::string::npos) << t.out;
  // An mmproj in the text model's place is named as such.
  CmdResult x = run("plan -m " + ng.url("mmproj-gemma4v-e64.gguf"));
  EXPECT_EQ(x.rc, 1);
  EXPECT_NE(x.err.find("is an mmproj, not a text model"), std::string::npos) << x.err;
}

TEST(SynthCli, WritesAModelThatPlans) {
  if (!core::test::exists(FITSERVE_BIN)) GTEST_SKIP() << "missing binary " << FITSERVE_BIN;
  std::string out = ::testing::TempDir() + "synth_cli_" + std::to_string(::getpid()) + ".gguf";
  CmdResult s = run("synth --preset tiny --vocab none --type q8_0 -o " + out);
  ASSERT_EQ(s.rc, 0) << s.err;
  EXPECT_NE(s.out.find("wrote " + out), std::string::npos) << s.out;
  CmdResult p = run("plan -m " + out + " -c 1024 --json");
  ASSERT_EQ(p.rc, 0) << p.err;
  json j = json::parse(p.out);
  EXPECT_EQ(j["models"]["text"]["n_layer"], 6);
  EXPECT_EQ(j["kv"]["cells_swa"], 768);  // pad(16 + 512)
  std::remove(out.c_str());
  CmdResult bad = run("synth --preset 70b -o " + out);
  EXPECT_EQ(bad.rc, 1);
  EXPECT_NE(bad.err.find("unknown synth preset '70b'"), std::string::npos);
  CmdResult nov = run("synth --preset tiny --vocab /nonexistent.gguf -o " + out);
  EXPECT_EQ(nov.rc, 1);
  EXPECT_NE(nov.err.find("not found"), std::string::npos) << nov.err;
}

}  // namespace
}  // namespace fitserve::cli
