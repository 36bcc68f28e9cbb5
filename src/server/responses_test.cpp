// server/responses_test.cpp — response JSON shapes.
#include "server/responses.h"

#include <gtest/gtest.h>

#include <cctype>

using namespace fitserve;
using namespace fitserve::server;
using json = nlohmann::json;

TEST(Responses, DumpReplacesInvalidUtf8) {
  json j = {{"t", std::string("a\xff" "b")}};
  std::string s = dump(j);
  EXPECT_NE(s.find("\xEF\xBF\xBD"), std::string::npos);
  EXPECT_EQ(sse_data({{"a", 1}}), "data: {\"a\":1}\n\n");
}

TEST(Responses, RandomId) {
  std::string a = random_id(32), b = random_id(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  for (char c : a) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)));
}

TEST(Responses, ModelCard) {
  ModelCard c = make_model_card({}, {}, "/models/stories260K.gguf", 5);
  EXPECT_EQ(c.id, "stories260K");
  EXPECT_EQ(c.created, 5);
  EXPECT_EQ(c.fingerprint.rfind("b", 0), 0u);
  ModelCard a = make_model_card({"zeta", "alpha", "alpha"}, {"t"}, "/x.gguf", 0);
  EXPECT_EQ(a.id, "alpha");
  EXPECT_EQ(a.aliases, (std::vector<std::string>{"alpha", "zeta"}));
  engine::ModelInfo info;
  info.n_vocab = 512;
  info.architecture = "llama";
  json m = models_json(a, info);
  EXPECT_EQ(m["object"], "list");
  ASSERT_EQ(m["data"].size(), 1u);
  EXPECT_EQ(m["data"][0]["id"], "alpha");
  EXPECT_EQ(m["data"][0]["object"], "model");
  EXPECT_EQ(m["data"][0]["owned_by"], "llamacpp");
  EXPECT_EQ(m["data"][0]["meta"]["n_vocab"], 512);
  EXPECT_EQ(m["data"][0]["aliases"].size(), 2u);
  EXPECT_EQ(m["models"][0]["details"]["format"], "gguf");
}

TEST(Responses, Timings) {
  engine::Timings t;
  t.prompt_n = 10;
  t.prompt_ms = 20;
  t.predicted_n = 5;
  t.predicted_ms = 40;
  t.cache_n = 3;
  json j = timings_json(t);
  EXPECT_EQ(j["prompt_n"], 10);
  EXPECT_DOUBLE_EQ(j["prompt_per_token_ms"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(j["prompt_per_second"].get<double>(), 500.0);
  EXPECT_DOUBLE_EQ(j["predicted_per_token_ms"].get<double>(), 10.0);  // 4 decode steps
  EXPECT_DOUBLE_EQ(j["predicted_per_second"].get<double>(), 100.0);
  EXPECT_EQ(j["cache_n"], 3);
  EXPECT_FALSE(j.contains("draft_n"));
  engine::Timings one;
  one.predicted_n = 1;
  one.predicted_ms = 7;
  json k = timings_json(one);
  EXPECT_EQ(k["predicted_per_second"].get<double>(), 0.0);
  EXPECT_EQ(k["predicted_per_token_ms"].get<double>(), 0.0);
  EXPECT_EQ(k["prompt_per_second"].get<double>(), 0.0);
}

TEST(Responses, Usage) {
  json u = usage_json(10, 4, 9);
  EXPECT_EQ(u["total_tokens"], 14);
  EXPECT_EQ(u["prompt_tokens_details"]["cached_tokens"], 9);
}

TEST(Responses, LogprobEntry) {
  engine::TokenEvent ev;
  ev.token = 7;
  ev.text = "hi";
  ev.logprob = -0.5f;
  ev.top = {{7, -0.5f}, {8, -1.5f}, {9, -std::numeric_limits<float>::infinity()}};
  auto piece = [](int32_t id) { return id == 9 ? std::string("\xe2") : "t" + std::to_string(id); };
  json e = logprob_entry(ev, piece, 3);
  EXPECT_EQ(e["id"], 7);
  EXPECT_EQ(e["token"], "hi");
  EXPECT_EQ(e["bytes"], json::array({'t', '7'}));
  EXPECT_FLOAT_EQ(e["logprob"].get<float>(), -0.5f);
  ASSERT_EQ(e["top_logprobs"].size(), 3u);
  EXPECT_EQ(e["top_logprobs"][1]["id"], 8);
  EXPECT_EQ(e["top_logprobs"][2]["bytes"], json::array({0xe2}));
  EXPECT_TRUE(e["top_logprobs"][2]["logprob"].is_number());  // -inf -> lowest float, never null
  EXPECT_EQ(logprob_entry(ev, piece, 1)["top_logprobs"].size(), 1u);
  EXPECT_NO_THROW(dump(e));
}

TEST(Responses, MessageJson) {
  ChatMsg m;
  json j = message_json(m);
  EXPECT_EQ(j["role"], "assistant");
  EXPECT_EQ(j["content"], "");  // never null
  EXPECT_FALSE(j.contains("reasoning_content"));
  EXPECT_FALSE(j.contains("tool_calls"));
  m.reasoning_content = "think";
  m.tool_calls.push_back({"id1", "f", "{\"a\":1}"});
  j = message_json(m);
  EXPECT_EQ(j["reasoning_content"], "think");
  EXPECT_EQ(j["tool_calls"][0]["type"], "function");
  EXPECT_EQ(j["tool_calls"][0]["function"]["arguments"], "{\"a\":1}");
}

TEST(Responses, DiffDeltas) {
  ChatMsg a, b;
  EXPECT_TRUE(diff_deltas(a, b).empty());
  b.reasoning_content = "x";
  b.content = "He";
  auto d = diff_deltas(a, b);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0], json({{"reasoning_content", "x"}}));
  EXPECT_EQ(d[1], json({{"content", "He"}}));
  a = b;
  b.content = "Hello";
  b.tool_calls.push_back({"id", "get", "{\"ci"});
  d = diff_deltas(a, b);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0], json({{"content", "llo"}}));
  EXPECT_EQ(d[1]["tool_calls"][0]["id"], "id");
  EXPECT_EQ(d[1]["tool_calls"][0]["function"]["name"], "get");
  EXPECT_EQ(d[1]["tool_calls"][0]["function"]["arguments"], "{\"ci");
  a = b;
  b.tool_calls[0].arguments = "{\"city\":1}";
  d = diff_deltas(a, b);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0]["tool_calls"][0]["index"], 0);
  EXPECT_FALSE(d[0]["tool_calls"][0].contains("id"));
  EXPECT_FALSE(d[0]["tool_calls"][0]["function"].contains("name"));
  EXPECT_EQ(d[0]["tool_calls"][0]["function"]["arguments"], "ty\":1}");
}

TEST(Responses, FinishAndStopType) {
  engine::Result r;
  r.finish_reason = "length";
  EXPECT_EQ(finish_reason(r, true), "length");
  EXPECT_EQ(stop_type(r), "limit");
  r.finish_reason = "stop";
  EXPECT_EQ(finish_reason(r, false), "stop");
  EXPECT_EQ(finish_reason(r, true), "tool_calls");
  EXPECT_EQ(stop_type(r), "eos");
  r.stop_word = "END";
  EXPECT_EQ(stop_type(r), "word");
}

TEST(Responses, Objects) {
  ModelCard c = make_model_card({"m"}, {}, "/m.gguf", 0);
  json cc = chat_completion("chatcmpl-x", c, json::array(), usage_json(1, 2, 0), json::object());
  EXPECT_EQ(cc["object"], "chat.completion");
  EXPECT_EQ(cc["model"], "m");
  EXPECT_GT(cc["created"].get<int64_t>(), 1600000000);
  json ch = chat_chunk("chatcmpl-x", c, 1, {{"content", "a"}}, nullptr);
  EXPECT_EQ(ch["object"], "chat.completion.chunk");
  EXPECT_EQ(ch["choices"][0]["index"], 1);
  EXPECT_TRUE(ch["choices"][0]["finish_reason"].is_null());
  json tc = text_completion("cmpl-x", c, json::array(), nullptr, nullptr);
  EXPECT_EQ(tc["object"], "text_completion");
  EXPECT_FALSE(tc.contains("usage"));
  engine::SlotState s;
  s.id = 1;
  json sj = slot_json(s, 256, nullptr);
  EXPECT_EQ(sj["n_ctx"], 256);
  EXPECT_FALSE(sj["is_processing"]);
  EXPECT_FALSE(sj.contains("params"));
  EXPECT_EQ(sj["next_token"][0]["n_remain"], -1);
  EXPECT_EQ(sj["next_token"][0]["n_decoded"], 0);
}
