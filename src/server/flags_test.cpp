// server/flags_test.cpp — `fitserve serve` flags.
#include "server/flags.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "core/error.h"

using namespace fitserve;
using namespace fitserve::server;

namespace {
std::string usage_message(const std::vector<std::string>& args) {
  try {
    parse_serve_args(args);
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), "usage");
    return e.message();
  }
  return "";
}
}  // namespace

TEST(Flags, Defaults) {
  auto p = parse_serve_args({"-m", "x.gguf"});
  EXPECT_EQ(p.config.engine.model_path, "x.gguf");
  EXPECT_EQ(p.config.server.host, "127.0.0.1");
  EXPECT_EQ(p.config.server.port, 8080);
  EXPECT_TRUE(p.config.server.metrics);
  EXPECT_TRUE(p.config.server.slots);
  EXPECT_TRUE(p.config.server.api_keys.empty());
  EXPECT_FALSE(p.help);
}

TEST(Flags, LlamaServerFlags) {
  auto p = parse_serve_args({"-m", "m.gguf", "-c", "2048", "-np", "4", "-t", "3", "-b", "256", "-ub", "64",
                             "-ctk", "q8_0", "-ctv", "q4_0", "--host", "0.0.0.0", "--port", "9000",
                             "--api-key", "k1,k2", "--alias", "b,a", "--no-metrics", "--timeout", "30",
                             "-ngl", "99", "--jinja", "--temp=0.1", "-n", "64", "--no-slots"});
  const auto& c = p.config;
  EXPECT_EQ(c.engine.n_ctx, 2048);
  EXPECT_EQ(c.engine.n_parallel, 4);
  EXPECT_EQ(c.engine.n_threads, 3);
  EXPECT_EQ(c.engine.n_batch, 256);
  EXPECT_EQ(c.engine.n_ubatch, 64);
  EXPECT_EQ(c.engine.type_k, "q8_0");
  EXPECT_EQ(c.engine.type_v, "q4_0");
  EXPECT_EQ(c.server.host, "0.0.0.0");
  EXPECT_EQ(c.server.port, 9000);
  EXPECT_EQ(c.server.api_keys, (std::vector<std::string>{"k1", "k2"}));
  EXPECT_EQ(c.server.aliases, (std::vector<std::string>{"b", "a"}));
  EXPECT_FALSE(c.server.metrics);
  EXPECT_FALSE(c.server.slots);
  EXPECT_EQ(c.server.timeout_s, 30);
  EXPECT_FLOAT_EQ(c.server.sampling.temperature, 0.1f);
  EXPECT_EQ(c.server.n_predict, 64);
  auto q = parse_serve_args({"--model=m.gguf", "--ctx-size=512", "--parallel", "2"});
  EXPECT_EQ(q.config.engine.n_ctx, 512);
  EXPECT_EQ(q.config.engine.n_parallel, 2);
}

TEST(Flags, FilesAndKwargs) {
  std::string keys = ::testing::TempDir() + "/fitserve_keys.txt";
  std::string tmpl = ::testing::TempDir() + "/fitserve_tmpl.jinja";
  std::ofstream(keys) << "# comment\n  alpha \n\nbeta\r\n";
  std::ofstream(tmpl) << "{{ messages }}";
  auto p = parse_serve_args({"-m", "m.gguf", "--api-key-file", keys, "--chat-template-file", tmpl,
                             "--chat-template-kwargs", "{\"enable_thinking\":false}", "--reasoning", "off"});
  EXPECT_EQ(p.config.server.api_keys, (std::vector<std::string>{"alpha", "beta"}));
  EXPECT_EQ(p.config.server.chat_template, "{{ messages }}");
  EXPECT_EQ(p.config.server.chat_template_kwargs["enable_thinking"], false);
  EXPECT_FALSE(p.config.server.enable_thinking);
  std::remove(keys.c_str());
  std::remove(tmpl.c_str());
  EXPECT_NE(usage_message({"-m", "m.gguf", "--api-key-file", "/nonexistent/keys"}).find("cannot read"),
            std::string::npos);
  EXPECT_NE(usage_message({"-m", "m.gguf", "--chat-template-kwargs", "[1]"}), "");
}

TEST(Flags, Errors) {
  EXPECT_NE(usage_message({}).find("no model"), std::string::npos);
  EXPECT_NE(usage_message({"-m"}).find("needs a value"), std::string::npos);
  EXPECT_NE(usage_message({"-m", "m", "-c", "abc"}).find("expected an integer"), std::string::npos);
  EXPECT_NE(usage_message({"-m", "m", "--port", "70000"}).find("between"), std::string::npos);
  EXPECT_NE(usage_message({"-m", "m", "-ctk", "q5_9"}).find("q8_0"), std::string::npos);
  EXPECT_NE(usage_message({"-m", "m", "--no-metrics=1"}).find("takes no value"), std::string::npos);
  std::string m = usage_message({"-m", "m", "--ctx", "10"});
  EXPECT_NE(m.find("unknown argument '--ctx'"), std::string::npos);
  EXPECT_NE(m.find("--ctx-size"), std::string::npos);
  m = usage_message({"-m", "m", "--api_key", "x"});
  EXPECT_NE(m.find("--api-key"), std::string::npos);
  m = usage_message({"-m", "m", "--paralel", "2"});
  EXPECT_NE(m.find("--parallel"), std::string::npos);
  m = usage_message({"-m", "m", "--zzzzzzzzzzzzzzzz"});
  EXPECT_EQ(m.find("did you mean"), std::string::npos);
}

TEST(Flags, Help) {
  auto p = parse_serve_args({"--help"});
  EXPECT_TRUE(p.help);
  std::string h = serve_help();
  for (const char* f : {"--ctx-size", "--parallel", "--api-key", "--api-key-file", "--alias", "--no-metrics",
                        "--timeout", "-ctk", "-ctv", "--chat-template-file", "--host", "--port"})
    EXPECT_NE(h.find(f), std::string::npos) << f;
  EXPECT_FALSE(close_flags("--hots").empty());
}

TEST(Flags, SpeculativeDecoding) {
  auto d = parse_serve_args({"-m", "m.gguf"});
  EXPECT_TRUE(d.config.engine.draft_path.empty());
  EXPECT_EQ(d.config.engine.spec.n_max, 3);
  EXPECT_EQ(d.config.engine.spec.n_min, 0);
  EXPECT_EQ(d.config.engine.spec.p_min, 0.0f);
  auto p = parse_serve_args({"-m", "m.gguf", "-md", "a.gguf", "--spec-type", "draft-mtp", "--spec-draft-n-max", "5",
                             "--spec-draft-n-min", "2", "--spec-draft-p-min", "0.25"});
  EXPECT_EQ(p.config.engine.draft_path, "a.gguf");
  EXPECT_EQ(p.config.engine.spec.n_max, 5);
  EXPECT_EQ(p.config.engine.spec.n_min, 2);
  EXPECT_FLOAT_EQ(p.config.engine.spec.p_min, 0.25f);
  // llama.cpp's older names.
  for (const char* f : {"--draft-max", "--draft", "--draft-n"})
    EXPECT_EQ(parse_serve_args({"-m", "m.gguf", "--spec-draft-model", "a.gguf", f, "7"}).config.engine.spec.n_max, 7) << f;
  auto o = parse_serve_args({"-m", "m.gguf", "-md", "a.gguf", "--draft-min", "1", "--draft-p-min=0.5"});
  EXPECT_EQ(o.config.engine.spec.n_min, 1);
  EXPECT_FLOAT_EQ(o.config.engine.spec.p_min, 0.5f);
  EXPECT_NE(usage_message({"-m", "m.gguf", "-md", "a.gguf", "--spec-type", "ngram-simple"}).find("only draft-mtp"),
            std::string::npos);
  EXPECT_NE(usage_message({"-m", "m.gguf", "--spec-type", "draft-mtp"}).find("-md"), std::string::npos);
  EXPECT_NE(usage_message({"-m", "m.gguf", "--spec-draft-p-min", "1.5"}).find("between 0 and 1"), std::string::npos);
  EXPECT_NE(usage_message({"-m", "m.gguf", "--spec-draft-n-max", "-1"}).find("between 0 and 64"), std::string::npos);
}
