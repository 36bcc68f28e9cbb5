// server/params_test.cpp — request parsing and validation.
#include "server/params.h"

#include <gtest/gtest.h>

using namespace fitserve::server;
using json = nlohmann::json;

namespace {

int status_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const HttpError& e) {
    return e.status();
  }
  return 0;
}

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const HttpError& e) {
    return e.what();
  }
  return "";
}

json chat_body(json messages) { return {{"messages", std::move(messages)}}; }

}  // namespace

TEST(Params, JsonBody) {
  EXPECT_EQ(parse_json_body(R"({"a":1})", 8)["a"], 1);
  EXPECT_EQ(status_of([] { parse_json_body("{bad", 8); }), 400);
  EXPECT_EQ(status_of([] { parse_json_body("", 8); }), 400);
  EXPECT_EQ(status_of([] { parse_json_body("[1,2]", 8); }), 400);
  EXPECT_EQ(status_of([] { parse_json_body("\"str\"", 8); }), 400);
  // Nesting: 8 levels pass, 9 fail; brackets inside strings do not count.
  std::string ok = "{\"a\":" + std::string(7, '[') + std::string(7, ']') + "}";
  EXPECT_NO_THROW(parse_json_body(ok, 8));
  std::string deep = "{\"a\":" + std::string(8, '[') + std::string(8, ']') + "}";
  EXPECT_EQ(status_of([&] { parse_json_body(deep, 8); }), 400);
  EXPECT_NE(message_of([&] { parse_json_body(deep, 8); }).find("nested"), std::string::npos);
  EXPECT_NO_THROW(parse_json_body(R"({"a":"[[[[[[[[[[[[[[[[\"[[[["})", 2));
  // A hostile body far deeper than the stack could take is refused before parsing.
  std::string hostile(1000000, '[');
  EXPECT_EQ(status_of([&] { parse_json_body(hostile, 64); }), 400);
}

TEST(Params, JsonDepth) {
  EXPECT_EQ(json_depth("{}", 10), 1);
  EXPECT_EQ(json_depth(R"({"a":[{"b":[]}]})", 10), 4);
  EXPECT_EQ(json_depth(R"({"a":"\"{{{{"})", 10), 1);
  EXPECT_EQ(json_depth("1", 10), 0);
}

TEST(Params, FieldsTypesAndRanges) {
  json j = {{"i", 5}, {"f", 2.5}, {"s", "x"}, {"b", true}, {"n", nullptr}, {"fi", 3.0}, {"big", 1e300}};
  Fields f(j);
  EXPECT_EQ(*f.integer("i", 0, 10), 5);
  EXPECT_EQ(*f.integer("fi", 0, 10), 3);
  EXPECT_FALSE(f.integer("n", 0, 10).has_value());
  EXPECT_FALSE(f.integer("missing", 0, 10).has_value());
  EXPECT_EQ(status_of([&] { f.integer("i", 6, 10); }), 400);
  EXPECT_EQ(status_of([&] { f.integer("f", 0, 10); }), 400);
  EXPECT_EQ(status_of([&] { f.integer("s", 0, 10); }), 400);
  EXPECT_EQ(status_of([&] { f.integer("big", 0, 10); }), 400);
  EXPECT_DOUBLE_EQ(*f.number("f", 0, 10), 2.5);
  EXPECT_EQ(status_of([&] { f.number("s", 0, 10); }), 400);
  EXPECT_EQ(status_of([&] { f.boolean("i"); }), 400);
  EXPECT_EQ(*f.string("s"), "x");
  EXPECT_EQ(status_of([&] { f.string("b"); }), 400);
  EXPECT_NE(message_of([&] { f.integer("i", 6, 10); }).find("Field 'i'"), std::string::npos);
}

TEST(Params, GenOptionsDefaultsAndOverrides) {
  ServerOptions opt;
  opt.sampling.temperature = 0.5f;
  GenOptions d = parse_gen_options(json::object(), Api::Chat, opt, 4);
  EXPECT_FLOAT_EQ(d.req.sampling.temperature, 0.5f);
  EXPECT_EQ(d.req.n_predict, -1);
  EXPECT_EQ(d.n, 1);
  EXPECT_FALSE(d.stream);

  json b = {{"temperature", 0}, {"top_k", 5}, {"top_p", 1.5}, {"max_tokens", 12}, {"stop", "END"},
            {"seed", 42}, {"n", 2}, {"stream", true}, {"stream_options", {{"include_usage", true}}}};
  GenOptions g = parse_gen_options(b, Api::Chat, opt, 4);
  EXPECT_FLOAT_EQ(g.req.sampling.temperature, 0.0f);
  EXPECT_EQ(g.req.sampling.top_k, 5);
  EXPECT_FLOAT_EQ(g.req.sampling.top_p, 1.0f);  // soft limit: clamped
  EXPECT_EQ(g.req.n_predict, 12);
  ASSERT_EQ(g.req.stop.size(), 1u);
  EXPECT_EQ(g.req.stop[0], "END");
  EXPECT_EQ(g.req.sampling.seed, 42u);
  EXPECT_TRUE(g.seed_given);
  EXPECT_EQ(g.n, 2);
  EXPECT_TRUE(g.stream);
  EXPECT_TRUE(g.include_usage);

  // max_completion_tokens wins over max_tokens; native n_predict keeps -1.
  EXPECT_EQ(parse_gen_options({{"max_completion_tokens", 3}, {"max_tokens", 9}}, Api::Chat, opt, 1).req.n_predict, 3);
  EXPECT_EQ(parse_gen_options({{"n_predict", -1}}, Api::Native, opt, 1).req.n_predict, -1);
  // Server cap (-n) limits every request.
  ServerOptions capped;
  capped.n_predict = 7;
  EXPECT_EQ(parse_gen_options({{"max_tokens", 100}}, Api::Chat, capped, 1).req.n_predict, 7);
  EXPECT_EQ(parse_gen_options(json::object(), Api::Chat, capped, 1).req.n_predict, 7);
  // seed -1 = random
  EXPECT_EQ(parse_gen_options({{"seed", -1}}, Api::Chat, opt, 1).req.sampling.seed, 0xFFFFFFFFu);
  EXPECT_FALSE(parse_gen_options({{"seed", -1}}, Api::Chat, opt, 1).seed_given);
}

TEST(Params, GenOptionsRejects) {
  ServerOptions opt;
  auto bad = [&](json b, Api api = Api::Chat) { return status_of([&] { parse_gen_options(b, api, opt, 2); }); };
  EXPECT_EQ(bad({{"max_tokens", -5}}), 400);
  EXPECT_EQ(bad({{"max_tokens", -1}}), 400);
  EXPECT_EQ(bad({{"max_tokens", "10"}}), 400);
  EXPECT_EQ(bad({{"n_predict", -2}}, Api::Native), 400);
  EXPECT_EQ(bad({{"n", 3}}), 400);  // more than the slots
  EXPECT_EQ(bad({{"n", 0}}), 400);
  EXPECT_EQ(bad({{"temperature", "hot"}}), 400);
  EXPECT_EQ(bad({{"stop", 5}}), 400);
  EXPECT_EQ(bad({{"stop", json::array({"a", 1})}}), 400);
  EXPECT_EQ(bad({{"stream", "yes"}}), 400);
  EXPECT_EQ(bad({{"stream_options", 1}}), 400);
  EXPECT_EQ(bad({{"top_logprobs", 3}}), 400);  // without logprobs
  EXPECT_EQ(bad({{"logprobs", true}, {"top_logprobs", 21}}), 400);
  EXPECT_EQ(bad({{"grammar", "root ::= \"a\""}}), 400);
  EXPECT_EQ(bad({{"logit_bias", {{"15", -100}}}}), 400);
  EXPECT_EQ(bad({{"mirostat", 2}}), 400);
  EXPECT_EQ(bad({{"id_slot", 5}}), 400);
  EXPECT_EQ(bad({{"post_sampling_probs", true}}), 400);
  // Off values and empty containers are accepted.
  EXPECT_EQ(bad({{"logit_bias", json::object()}, {"mirostat", 0}, {"typical_p", 1.0}}), 0);
}

TEST(Params, Logprobs) {
  ServerOptions opt;
  GenOptions c = parse_gen_options({{"logprobs", true}, {"top_logprobs", 3}}, Api::Chat, opt, 1);
  EXPECT_TRUE(c.logprobs);
  EXPECT_EQ(c.top_logprobs, 3);
  EXPECT_EQ(c.req.n_probs, 3);
  GenOptions c0 = parse_gen_options({{"logprobs", true}, {"top_logprobs", 0}}, Api::Chat, opt, 1);
  EXPECT_EQ(c0.top_logprobs, 0);
  EXPECT_EQ(c0.req.n_probs, 1);  // the chosen token's log-prob still needs one
  GenOptions o = parse_gen_options({{"logprobs", 2}}, Api::OaiCompletion, opt, 1);
  EXPECT_TRUE(o.logprobs);
  EXPECT_EQ(o.top_logprobs, 2);
  GenOptions n = parse_gen_options({{"n_probs", 5}}, Api::Native, opt, 1);
  EXPECT_TRUE(n.logprobs);
  EXPECT_EQ(n.req.n_probs, 5);
  EXPECT_FALSE(parse_gen_options(json::object(), Api::Native, opt, 1).logprobs);
}

TEST(Params, ChatMessagesValid) {
  ServerOptions opt;
  json b = chat_body({{{"role", "system"}, {"content", "be brief"}},
                      {{"role", "user"}, {"content", json::array({{{"type", "text"}, {"text", "hi"}}})}},
                      {{"role", "assistant"}, {"content", nullptr},
                       {"tool_calls", json::array({{{"id", "c1"}, {"type", "function"},
                                                    {"function", {{"name", "f"}, {"arguments", "{\"x\":1}"}}}}})}},
                      {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "42"}}});
  ChatParams c = parse_chat_params(b, opt);
  EXPECT_EQ(c.messages.size(), 4u);
  EXPECT_TRUE(c.enable_thinking);  // reference default
  EXPECT_EQ(c.chat_template_kwargs["enable_thinking"], true);
  EXPECT_TRUE(c.add_generation_prompt);
}

TEST(Params, ChatMessagesInvalid) {
  ServerOptions opt;
  auto bad = [&](json b) { return status_of([&] { parse_chat_params(b, opt); }); };
  EXPECT_EQ(bad(json::object()), 400);
  EXPECT_EQ(bad({{"messages", nullptr}}), 400);
  EXPECT_EQ(bad({{"messages", "hello"}}), 400);
  EXPECT_EQ(bad({{"messages", 12}}), 400);
  EXPECT_EQ(bad(chat_body(json::array())), 400);
  EXPECT_EQ(bad(chat_body({json::object()})), 400);
  EXPECT_EQ(bad(chat_body({1, 2})), 400);
  EXPECT_EQ(bad(chat_body({{{"role", "wizard"}, {"content", "x"}}})), 400);
  EXPECT_EQ(bad(chat_body({{{"role", 5}, {"content", "x"}}})), 400);
  EXPECT_EQ(bad(chat_body({{{"role", "user"}, {"content", 5}}})), 400);
  EXPECT_EQ(bad(chat_body({{{"role", "user"}}})), 400);
  EXPECT_EQ(bad(chat_body({{{"role", "user"}, {"content", json::array({{{"type", "image_url"}}})}}})), 400);
  EXPECT_EQ(bad(chat_body({{{"role", "user"}, {"content", json::array({{{"type", "text"}}})}}})), 400);
  EXPECT_EQ(bad(chat_body({{{"role", "user"}, {"content", "a"}},
                           {{"role", "assistant"}, {"content", "b"}},
                           {{"role", "assistant"}, {"content", "c"}}})),
            400);
  EXPECT_EQ(bad(chat_body({{{"role", "assistant"}, {"content", nullptr},
                            {"tool_calls", json::array({{{"function", {{"name", "f"}, {"arguments", "{oops"}}}}})}}})),
            400);
  EXPECT_EQ(bad(chat_body({{{"role", "user"}, {"content", "x"}, {"tool_calls", json::array()}}})), 400);
  json b = chat_body({{{"role", "user"}, {"content", "x"}}});
  b["tools"] = "nope";
  EXPECT_EQ(bad(b), 400);
  b["tools"] = json::array({{{"type", "function"}, {"function", {{"name", ""}}}}});
  EXPECT_EQ(bad(b), 400);
  b.erase("tools");
  b["tool_choice"] = "sometimes";
  EXPECT_EQ(bad(b), 400);
  b["tool_choice"] = "required";  // no tools
  EXPECT_EQ(bad(b), 400);
  b.erase("tool_choice");
  b["response_format"] = {{"type", "yaml"}};
  EXPECT_EQ(bad(b), 400);
  b["response_format"] = {{"type", "text"}};
  EXPECT_EQ(bad(b), 0);
  b["continue_final_message"] = true;
  b["add_generation_prompt"] = true;
  EXPECT_EQ(bad(b), 400);
  b["add_generation_prompt"] = false;
  EXPECT_EQ(bad(b), 0);
}

TEST(Params, ChatThinkingSwitches) {
  ServerOptions opt;
  json b = chat_body({{{"role", "user"}, {"content", "x"}}});
  b["chat_template_kwargs"] = {{"enable_thinking", false}};
  EXPECT_FALSE(parse_chat_params(b, opt).enable_thinking);
  b.erase("chat_template_kwargs");
  b["reasoning_effort"] = "none";
  ChatParams c = parse_chat_params(b, opt);
  EXPECT_FALSE(c.enable_thinking);
  EXPECT_EQ(c.chat_template_kwargs["enable_thinking"], false);
  ServerOptions off;
  off.enable_thinking = false;
  EXPECT_FALSE(parse_chat_params(chat_body({{{"role", "user"}, {"content", "x"}}}), off).enable_thinking);
  b.erase("reasoning_effort");
  b["chat_template_kwargs"] = 3;
  EXPECT_EQ(status_of([&] { parse_chat_params(b, opt); }), 400);
}

TEST(Params, ToolChoiceFunctionObject) {
  ServerOptions opt;
  json b = chat_body({{{"role", "user"}, {"content", "x"}}});
  b["tools"] = json::array({{{"type", "function"}, {"function", {{"name", "a"}}}},
                            {{"type", "function"}, {"function", {{"name", "b"}}}}});
  b["tool_choice"] = {{"type", "function"}, {"function", {{"name", "b"}}}};
  ChatParams c = parse_chat_params(b, opt);
  EXPECT_EQ(c.tool_choice, "required");
  ASSERT_EQ(c.tools.size(), 1u);
  EXPECT_EQ(c.tools[0]["function"]["name"], "b");
  b["tool_choice"] = "none";
  EXPECT_TRUE(parse_chat_params(b, opt).tools.empty());
}

TEST(Params, Prompts) {
  auto one = parse_prompts("hello", true);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_TRUE(one[0][0].is_text);
  auto ids = parse_prompts(json::array({1, 2, 3}), true);
  ASSERT_EQ(ids.size(), 1u);
  ASSERT_EQ(ids[0].size(), 3u);
  EXPECT_FALSE(ids[0][1].is_text);
  EXPECT_EQ(ids[0][1].token, 2);
  auto mixed = parse_prompts(json::array({"a", 5, "b"}), true);
  ASSERT_EQ(mixed.size(), 1u);
  EXPECT_EQ(mixed[0].size(), 3u);
  auto batch = parse_prompts(json::array({"a", "b"}), true);
  EXPECT_EQ(batch.size(), 2u);
  auto batch_ids = parse_prompts(json::array({json::array({1, 2}), "x"}), true);
  EXPECT_EQ(batch_ids.size(), 2u);
  EXPECT_EQ(parse_prompts(json::array({"a", "b"}), false).size(), 1u);
  auto bad = [](json p) { return status_of([&] { parse_prompts(p, true); }); };
  EXPECT_EQ(bad(nullptr), 400);
  EXPECT_EQ(bad(5), 400);
  EXPECT_EQ(bad(json::array({-1})), 400);
  EXPECT_EQ(bad(json::array({1.5})), 400);
  EXPECT_EQ(bad(json::array({json::array({json::array({1})})})), 400);
  EXPECT_EQ(bad({{"prompt_string", "x"}, {"multimodal_data", json::array({"AAAA"})}}), 400);
  EXPECT_EQ(status_of([] { parse_prompts(json::array({"a", "b", "c"}), true, 2); }), 400);
}

TEST(Params, TokenizeBodies) {
  TokenizeParams t = parse_tokenize({{"content", "hi"}, {"with_pieces", true}});
  EXPECT_TRUE(t.with_pieces);
  EXPECT_FALSE(t.add_special);
  EXPECT_TRUE(t.parse_special);
  EXPECT_EQ(status_of([] { parse_tokenize(json::object()); }), 400);
  EXPECT_EQ(status_of([] { parse_tokenize({{"content", 5}}); }), 400);
  auto ids = parse_token_ids({{"tokens", {1, 2}}}, "tokens", 10);
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 2}));
  EXPECT_TRUE(parse_token_ids(json::object(), "tokens", 10).empty());
  EXPECT_EQ(status_of([] { parse_token_ids({{"tokens", {10}}}, "tokens", 10); }), 400);
  EXPECT_EQ(status_of([] { parse_token_ids({{"tokens", {-1}}}, "tokens", 10); }), 400);
  EXPECT_EQ(status_of([] { parse_token_ids({{"tokens", {"a"}}}, "tokens", 10); }), 400);
  EXPECT_EQ(status_of([] { parse_token_ids({{"tokens", "a"}}, "tokens", 10); }), 400);
}
