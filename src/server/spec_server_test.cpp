// server/spec_server_test.cpp — the HTTP server in-process with speculative decoding (-md): the
// tiny dense F16 pair (shared/testdata/models/gemma4-dense{,-assistant}-F16.gguf, copies with a
// synthetic vocabulary, engine/vocab_testing.h), prompts as token arrays. /completion shows
// timings.draft_n / draft_n_accepted, /metrics the spec_decode_* counters, /slots per-slot counts;
// the same request without the drafter gives the same tokens and no draft fields.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <regex>
#include <thread>

#include "core/testdata.h"
#include "engine/engine.h"
#include "engine/vocab_testing.h"
#include "server/http_server.h"

using namespace fitserve;
using namespace fitserve::server;
using json = nlohmann::json;
namespace t = fitserve::core::test;

namespace {

std::string model(const std::string& stem) { return t::testdata("models/" + stem + ".gguf"); }

struct Live {
  std::unique_ptr<engine::Engine> eng;
  ServerState st;
  HttpServer http;
  std::thread th;
  int port = 0;
  Live(const engine::EngineOptions& eo, ServerOptions o) : eng(engine::Engine::create(eo)), st(std::move(o)), http(st, 8) {
    st.opt.port = 0;
    port = http.bind();
    th = std::thread([this] { http.run(); });
    st.attach(*eng);
  }
  ~Live() {
    http.stop();
    th.join();
    eng->shutdown(0);
  }
  json post(const std::string& path, const json& body) {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    auto r = c.Post(path, body.dump(), "application/json");
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body, nullptr, false);
  }
  std::string get(const std::string& path) {
    httplib::Client c("127.0.0.1", port);
    auto r = c.Get(path);
    EXPECT_TRUE(r);
    return r ? r->body : "";
  }
};

double metric(const std::string& text, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("\nllamacpp:" + name + " ([0-9.e+-]+)\n"))) return -1;
  return std::stod(m[1]);
}

TEST(SpecServer, CompletionTimingsMetricsAndSlots) {
  if (!t::exists(model("gemma4-dense-F16")) || !t::exists(model("gemma4-dense-assistant-F16")))
    GTEST_SKIP() << "test data not found: " << model("gemma4-dense{,-assistant}-F16");
  const std::string target = engine::testing::write_with_vocab(model("gemma4-dense-F16"));
  const std::string assistant = engine::testing::write_with_vocab(model("gemma4-dense-assistant-F16"));
  engine::EngineOptions eo;
  eo.model_path = target;
  eo.n_ctx = 512;
  eo.n_parallel = 2;
  eo.n_threads = 2;
  const json req = {{"prompt", {2, 158, 97, 19, 228, 246, 124, 237, 154, 107, 83, 43}},
                    {"n_predict", 24},
                    {"temperature", 0},
                    {"ignore_eos", true},
                    {"return_tokens", true}};
  json plain;
  {
    Live s(eo, ServerOptions{});
    plain = s.post("/completion", req);
    EXPECT_FALSE(plain["timings"].contains("draft_n")) << plain.dump();
    const std::string mt = s.get("/metrics");
    EXPECT_EQ(metric(mt, "spec_decode_num_draft_tokens_total"), 0) << mt;
    EXPECT_EQ(json::parse(s.get("/slots"))[0]["speculative"], false);
  }
  eo.draft_path = assistant;
  eo.spec.n_max = 4;
  {
    Live s(eo, ServerOptions{});
    json fast = s.post("/completion", req);
    EXPECT_EQ(fast["tokens"], plain["tokens"]);
    EXPECT_EQ(fast["content"], plain["content"]);
    ASSERT_TRUE(fast["timings"].contains("draft_n")) << fast.dump();
    const int drafted = fast["timings"]["draft_n"], accepted = fast["timings"]["draft_n_accepted"];
    EXPECT_GT(drafted, 0);
    EXPECT_LE(drafted, 4 * 23);  // no draft for the first token (from the prompt) and the last
    EXPECT_LE(accepted, drafted);
    // The OpenAI endpoint reports the same timings.
    json oai = s.post("/v1/completions", {{"prompt", req["prompt"]}, {"max_tokens", 24}, {"temperature", 0}, {"ignore_eos", true}});
    EXPECT_EQ(oai["choices"][0]["text"], plain["content"]);
    const std::string mt = s.get("/metrics");
    const int oai_drafted = oai["timings"].value("draft_n", 0);
    EXPECT_GT(oai_drafted, 0) << oai.dump();
    EXPECT_EQ(metric(mt, "spec_decode_num_draft_tokens_total"), drafted + oai_drafted) << mt;
    EXPECT_EQ(metric(mt, "spec_decode_num_accepted_tokens_total"),
              accepted + oai["timings"].value("draft_n_accepted", 0)) << mt;
    EXPECT_GT(metric(mt, "spec_decode_num_drafts_total"), 0) << mt;
    json slots = json::parse(s.get("/slots"));
    ASSERT_EQ(slots.size(), 2u);
    EXPECT_EQ(slots[0]["speculative"], true);
    EXPECT_TRUE(slots[0].contains("n_draft"));
  }
  std::filesystem::remove(target);
  std::filesystem::remove(assistant);
}

}  // namespace
