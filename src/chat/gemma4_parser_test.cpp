// Gemma 4 output parsing and streaming: the cases of spec/gemma4-chat.md §8, §9 and §12
// (worked examples A, B, C, E), argument conversion, partial hold-back, UTF-8, and
// stream/non-stream consistency under arbitrary chunking.
#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "chat/chat.h"
#include "chat/gemma4_parser.h"
#include "core/error.h"
#include "core/testdata.h"

using namespace fitserve::chat;
using nlohmann::json;
namespace test = fitserve::core::test;

namespace {

const std::string Q = "<|\"|>";
const std::string kThinkOffPrompt = "<|turn>model\n<|channel>thought\n<channel|>";

ParseOptions weather_tools() {
  ParseOptions o;
  o.tools = true;
  o.tool_names = {"get_weather"};
  return o;
}

ChatMessage parse(const std::string& s, const ParseOptions& o = {}, bool partial = false) {
  return parse_gemma4_output(s, o, partial);
}

std::function<std::string()> counter_ids() {
  auto n = std::make_shared<int>(0);
  return [n] { return "id" + std::to_string((*n)++); };
}

// Feeds `text` in the given piece sizes; returns the deltas of all pushes and the finish.
std::vector<json> stream(StreamParser& sp, const std::string& text, const std::vector<size_t>& cuts) {
  std::vector<json> all;
  size_t pos = 0;
  for (size_t c : cuts) {
    if (pos >= text.size()) break;
    size_t len = std::min(c, text.size() - pos);
    for (auto& d : sp.push(std::string_view(text).substr(pos, len))) all.push_back(d);
    pos += len;
  }
  if (pos < text.size())
    for (auto& d : sp.push(std::string_view(text).substr(pos))) all.push_back(d);
  for (auto& d : sp.finish()) all.push_back(d);
  return all;
}

// Rebuilds a message from deltas, checking the per-chunk rules of §9 on the way.
ChatMessage accumulate(const std::vector<json>& deltas) {
  ChatMessage m;
  for (const auto& d : deltas) {
    EXPECT_EQ(d.size(), 1u) << d.dump();  // one field per chunk
    if (d.contains("content")) {
      EXPECT_FALSE(d["content"].get<std::string>().empty());
      m.content += d["content"].get<std::string>();
    }
    if (d.contains("reasoning_content")) {
      EXPECT_FALSE(d["reasoning_content"].get<std::string>().empty());
      m.reasoning_content += d["reasoning_content"].get<std::string>();
    }
    if (d.contains("tool_calls")) {
      for (const auto& tc : d["tool_calls"]) {
        size_t idx = tc["index"].get<size_t>();
        if (idx == m.tool_calls.size()) {  // first delta of a call: id, type, name
          EXPECT_TRUE(tc.contains("id"));
          EXPECT_EQ(tc["type"], "function");
          EXPECT_FALSE(tc["function"]["name"].get<std::string>().empty());
          m.tool_calls.push_back({tc["id"], tc["function"]["name"], tc["function"].value("arguments", "")});
        } else {
          if (idx >= m.tool_calls.size()) {
            ADD_FAILURE() << "delta for unknown call " << idx;
            continue;
          }
          EXPECT_FALSE(tc.contains("id"));
          EXPECT_FALSE(tc["function"].contains("name"));
          EXPECT_FALSE(tc["function"].contains("id"));
          m.tool_calls[idx].arguments += tc["function"]["arguments"].get<std::string>();
        }
      }
    }
  }
  return m;
}

void expect_same(const ChatMessage& a, const ChatMessage& b) {
  EXPECT_EQ(a.content, b.content);
  EXPECT_EQ(a.reasoning_content, b.reasoning_content);
  ASSERT_EQ(a.tool_calls.size(), b.tool_calls.size());
  for (size_t i = 0; i < a.tool_calls.size(); ++i) {
    EXPECT_EQ(a.tool_calls[i].id, b.tool_calls[i].id);
    EXPECT_EQ(a.tool_calls[i].name, b.tool_calls[i].name);
    EXPECT_EQ(a.tool_calls[i].arguments, b.tool_calls[i].arguments);
  }
}

}  // namespace

// ---- worked examples (spec §12) --------------------------------------------------------------
TEST(Gemma4Parser, ExampleA_ThinkingOffContent) {
  ChatMessage m = parse(kThinkOffPrompt + "13 is prime.");
  EXPECT_EQ(m.to_json(), json::parse(R"({"role":"assistant","content":"13 is prime."})"));
  EXPECT_EQ(finish_reason(m, StopKind::Eog), "stop");
  EXPECT_EQ(finish_reason(m, StopKind::Length), "length");
}

TEST(Gemma4Parser, ExampleB_ReasoningAndToolCall) {
  std::string out = "<|channel>thought\nNeed live data for Oslo.<channel|><|tool_call>call:get_weather{city:" + Q + "Oslo" +
                    Q + ",unit:" + Q + "celsius" + Q + "}<tool_call|>";
  ChatMessage m = parse("<|turn>model\n" + out, weather_tools());
  std::vector<std::string> ids;
  assign_tool_call_ids(m, ids);
  json j = m.to_json();
  EXPECT_EQ(j["content"], "");
  EXPECT_EQ(j["reasoning_content"], "Need live data for Oslo.");
  ASSERT_EQ(j["tool_calls"].size(), 1u);
  const json& tc = j["tool_calls"][0];
  EXPECT_EQ(tc["type"], "function");
  EXPECT_EQ(tc["function"]["name"], "get_weather");
  EXPECT_EQ(tc["function"]["arguments"], R"({"city":"Oslo","unit":"celsius"})");
  std::string id = tc["id"];
  EXPECT_EQ(id.size(), 32u);
  for (char c : id) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << id;
  EXPECT_EQ(finish_reason(m, StopKind::Eog), "tool_calls");
}

TEST(Gemma4Parser, ExampleB_Streamed) {
  std::string out = "<|channel>thought\nNeed live data for Oslo.<channel|><|tool_call>call:get_weather{city:" + Q + "Oslo" +
                    Q + ",unit:" + Q + "celsius" + Q + "}<tool_call|>";
  StreamParser sp(weather_tools(), "<|turn>model\n", counter_ids());
  std::vector<json> deltas = stream(sp, out, std::vector<size_t>(out.size(), 1));
  // accumulated arguments pass through the states shown in the spec
  std::vector<std::string> states;
  std::string args;
  bool first_call_delta = true;
  for (const auto& d : deltas) {
    if (!d.contains("tool_calls")) continue;
    const json& tc = d["tool_calls"][0];
    EXPECT_EQ(tc["index"], 0);
    if (first_call_delta) {
      EXPECT_EQ(tc["id"], "id0");
      EXPECT_EQ(tc["function"]["name"], "get_weather");
      EXPECT_EQ(tc["function"]["arguments"], "{");
      first_call_delta = false;
    }
    args += tc["function"]["arguments"].get<std::string>();
    states.push_back(args);
  }
  for (const char* want : {"{", "{\"city", "{\"city\":", "{\"city\":\"", "{\"city\":\"Os", "{\"city\":\"Oslo\"",
                           "{\"city\":\"Oslo\",\"unit\":\"celsius\"}"})
    EXPECT_NE(std::find(states.begin(), states.end(), want), states.end()) << want;
  ChatMessage acc = accumulate(deltas);
  expect_same(acc, sp.message());
  EXPECT_EQ(sp.message().reasoning_content, "Need live data for Oslo.");
  EXPECT_EQ(sp.message().tool_calls.at(0).arguments, R"({"city":"Oslo","unit":"celsius"})");
  // the reasoning deltas come before any tool-call delta
  size_t first_tool = 0;
  while (first_tool < deltas.size() && !deltas[first_tool].contains("tool_calls")) ++first_tool;
  for (size_t i = first_tool; i < deltas.size(); ++i) EXPECT_FALSE(deltas[i].contains("reasoning_content"));
}

TEST(Gemma4Parser, ExampleC_AnswerAfterToolResult) {
  ChatMessage m = parse("It is -3 °C in Oslo right now.", weather_tools());
  EXPECT_EQ(m.content, "It is -3 °C in Oslo right now.");
  EXPECT_TRUE(m.tool_calls.empty());
  EXPECT_EQ(finish_reason(m, StopKind::Eog), "stop");
}

TEST(Gemma4Parser, ExampleE_EdgeParses) {
  ChatMessage a = parse("<|channel>thought<channel|>Hi");
  EXPECT_EQ(a.reasoning_content, "");
  EXPECT_EQ(a.content, "Hi");
  EXPECT_FALSE(a.to_json().contains("reasoning_content"));

  ChatMessage b = parse("<|channel><|channel>thought\nx<channel|>Hi<|channel>thought\n<channel|><channel|>");
  EXPECT_EQ(b.reasoning_content, "x");
  EXPECT_EQ(b.content, "Hi");

  ParseOptions none;
  none.extract_reasoning = false;
  EXPECT_EQ(parse("<|channel>thought\nx<channel|>Hi", none).content, "<|channel>thought\nx<channel|>Hi");
  EXPECT_EQ(parse("<|channel>thought\nx<channel|>Hi", none).reasoning_content, "");
  // thinking off: the prepended empty thought block lands in content too
  EXPECT_EQ(parse(kThinkOffPrompt + "Hi", none).content, "<|channel>thought\n<channel|>Hi");
}

// ---- grammar details ------------------------------------------------------------------------
TEST(Gemma4Parser, SeveralThoughtAndContentUnitsConcatenate) {
  ChatMessage m = parse("<|turn>model\n<|channel>thought\nA<channel|>one <|channel>thought\nB<channel|>two");
  EXPECT_EQ(m.reasoning_content, "AB");
  EXPECT_EQ(m.content, "one two");
}

TEST(Gemma4Parser, ParsingStopsAtUnmatchedMarker) {
  EXPECT_EQ(parse("Hi<channel|>ignored").content, "Hi");
  EXPECT_EQ(parse("Hi<|channel>not a thought").content, "Hi");
  EXPECT_EQ(parse("no markers at all").content, "no markers at all");
  EXPECT_EQ(parse("").content, "");
}

TEST(Gemma4Parser, ArgumentsConversion) {
  auto args = [](const std::string& dict) {
    ChatMessage m = parse("<|tool_call>call:f{" + dict + "}<tool_call|>", [] {
      ParseOptions o;
      o.tools = true;
      return o;
    }());
    EXPECT_EQ(m.tool_calls.size(), 1u) << dict;
    return m.tool_calls.empty() ? std::string("<none>") : m.tool_calls[0].arguments;
  };
  EXPECT_EQ(args(""), "{}");
  EXPECT_EQ(args("city:" + Q + "Oslo" + Q + ",days:2"), R"({"city":"Oslo","days":2})");
  EXPECT_EQ(args("b:1,a:2"), R"({"b":1,"a":2})");  // emitted order, not sorted
  EXPECT_EQ(args("x:-1.5e3,y:true,z:false,w:null"), R"({"x":-1.5e3,"y":true,"z":false,"w":null})");
  EXPECT_EQ(args("l:[1, " + Q + "a" + Q + ",[],{}],d:{k:{}}"), R"({"l":[1,"a",[],{}],"d":{"k":{}}})");
  EXPECT_EQ(args("s:" + Q + "say \"hi\"\n\\ done" + Q), R"({"s":"say \"hi\"\n\\ done"})");
  EXPECT_EQ(args("ключ:" + Q + "日本語 🦙" + Q), R"({"ключ":"日本語 🦙"})");
  EXPECT_EQ(args("a: 1, b:2 "), R"({"a":1,"b":2})");
  // every result is valid JSON
  EXPECT_TRUE(json::accept(args("l:[1,2],s:" + Q + "\t" + Q)));
}

TEST(Gemma4Parser, MalformedCallsAreNotCalls) {
  ParseOptions o = weather_tools();
  // unknown name: no call, the text before it is content
  ChatMessage m = parse("Let me look.<|tool_call>call:get_time{}<tool_call|>", o);
  EXPECT_EQ(m.content, "Let me look.");
  EXPECT_TRUE(m.tool_calls.empty());
  // bad value, missing close
  EXPECT_TRUE(parse("<|tool_call>call:get_weather{city:Oslo}<tool_call|>", o).tool_calls.empty());
  EXPECT_TRUE(parse("<|tool_call>call:get_weather{city:" + Q + "Oslo" + Q + "}", o).tool_calls.empty());
  EXPECT_TRUE(parse("<|tool_call>call:get_weather{city:" + Q + "Os", o).tool_calls.empty());
  // deep nesting is refused, not a crash
  std::string deep(5000, '[');
  EXPECT_TRUE(parse("<|tool_call>call:get_weather{a:" + deep + "}<tool_call|>", o).tool_calls.empty());
}

TEST(Gemma4Parser, ParallelCallsAndTheLimit) {
  ParseOptions o;
  o.tools = true;
  o.tool_names = {"a", "ab"};
  std::string out = "<|tool_call>call:a{x:1}<tool_call|><|tool_call>call:ab{y:2}<tool_call|>\n<|tool_call>call:a{}<tool_call|>";
  ChatMessage m = parse(out, o);
  ASSERT_EQ(m.tool_calls.size(), 3u);
  EXPECT_EQ(m.tool_calls[1].name, "ab");
  EXPECT_EQ(m.tool_calls[1].arguments, R"({"y":2})");
  o.parallel_tool_calls = false;
  EXPECT_EQ(parse(out, o).tool_calls.size(), 1u);
  // tool_choice none: the call syntax is plain content up to the first marker
  o.parallel_tool_calls = true;
  o.tool_choice = ToolChoice::None;
  EXPECT_TRUE(parse("Hi" + out, o).tool_calls.empty());
  EXPECT_EQ(parse("Hi" + out, o).content, "Hi" + out);
}

TEST(Gemma4Parser, RequiredToolChoice) {
  ParseOptions o = weather_tools();
  o.tool_choice = ToolChoice::Required;
  ChatMessage m = parse("<|turn>model\n<|channel>thought\nok<channel|><|tool_call>call:get_weather{}<tool_call|>", o);
  EXPECT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.reasoning_content, "ok");
  try {
    parse("<|turn>model\nJust text.", o);
    FAIL() << "expected a format error";
  } catch (const fitserve::core::Error& e) {
    EXPECT_EQ(e.code(), "format");
    EXPECT_NE(e.message().find("peg-gemma4"), std::string::npos);
  }
  EXPECT_NO_THROW(parse("<|turn>model\nJust te", o, /*partial=*/true));
}

TEST(Gemma4Parser, JsonResponseFormat) {
  ParseOptions o;
  o.json_output = true;
  ChatMessage m = parse(kThinkOffPrompt + "```json\n{\"a\": [1, 2]}\n```", o);
  EXPECT_EQ(m.content, "{\"a\": [1, 2]}");
  EXPECT_THROW(parse(kThinkOffPrompt + "{\"a\": 1}", o), fitserve::core::Error);
  EXPECT_EQ(parse(kThinkOffPrompt + "```json\n{\"a\": 1}\n`", o, true).content, "{\"a\": 1}");
}

TEST(Gemma4Parser, PartialHoldsBackCutMarkers) {
  EXPECT_EQ(parse("Hello <chan", {}, true).content, "Hello ");
  EXPECT_EQ(parse("Hello <chan", {}, false).content, "Hello <chan");
  EXPECT_EQ(parse("Hello <|channel>tho", {}, true).content, "Hello ");
  EXPECT_EQ(parse("<|turn>mod", {}, true).content, "");
  EXPECT_EQ(parse("<|channel>thought\nabc<chann", {}, true).reasoning_content, "abc");
  ParseOptions o = weather_tools();
  EXPECT_EQ(parse("Sure <|tool_c", o, true).content, "Sure ");
  ChatMessage m = parse("<|tool_call>call:get_wea", o, true);
  EXPECT_TRUE(m.tool_calls.empty());  // a call appears only once its name is complete
  m = parse("<|tool_call>call:get_weather{city:" + Q + "Os<|\"", o, true);
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"city\":\"Os");
}

TEST(Gemma4Parser, Utf8IsSanitized) {
  EXPECT_EQ(sanitize_utf8("a\xff" "b", false), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(sanitize_utf8("a\xE6\x97", true), "a");              // incomplete tail held back
  EXPECT_EQ(sanitize_utf8("a\xE6\x97", false), "a\xEF\xBF\xBD");  // ... or replaced when final
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80", false), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(parse("日本\xE8", {}, true).content, "日本");
  EXPECT_EQ(parse("日本\xE8", {}, false).content, "日本\xEF\xBF\xBD");
}

// ---- streaming ------------------------------------------------------------------------------
TEST(Gemma4Parser, PrefillIsNotStreamedAgain) {
  std::string gen = "<|turn>model\n<|channel>thought\nI was thinking";
  StreamParser sp({}, gen, counter_ids());
  EXPECT_EQ(sp.message().reasoning_content, "I was thinking");
  auto d1 = sp.push(" more");
  ASSERT_EQ(d1.size(), 1u);
  EXPECT_EQ(d1[0], json({{"reasoning_content", " more"}}));
  auto d2 = sp.push("<channel|>Answer");
  ASSERT_EQ(d2.size(), 1u);
  EXPECT_EQ(d2[0], json({{"content", "Answer"}}));
  EXPECT_TRUE(sp.finish().empty());
  EXPECT_EQ(sp.message().reasoning_content, "I was thinking more");
  EXPECT_EQ(sp.message().content, "Answer");
}

TEST(Gemma4Parser, StreamEqualsFinalUnderAnyChunking) {
  const std::vector<std::pair<std::string, ParseOptions>> cases = {
      {"<|turn>model\n<|channel>thought\nLet me think… 🤔 about <it>.<channel|>The answer is <b>42</b>.", {}},
      {kThinkOffPrompt + "Plain answer with <tags> and <|\"|> quotes", {}},
      {"<|turn>model\nSure.<|tool_call>call:get_weather{city:" + Q + "Zürich \"CH\"" + Q + ",days:[1,2.5e1,-3],opts:{deep:{x:null}},ok:true}<tool_call|><|tool_call>call:get_weather{}<tool_call|>",
       weather_tools()},
      {"<|turn>model\n<|channel>thought\nx<channel|>A<|channel>thought\ny<channel|>B<channel|>ignored", {}},
      {"<|turn>model\n<|channel>thought\n  \n lead space\xE6\x97\xA5\xE6\x9C\xAC bad\xFF\xE6\x97 ok<channel|>  text \xF0\x9F\xA6\x99\xE8 end", {}},
      {"<|turn>model\n<|channel>thought\n  \n lead space<channel|>  text", [] {
         ParseOptions o;
         o.extract_reasoning = false;
         return o;
       }()},
  };
  std::mt19937 rng(1234);
  for (const auto& [text, opts] : cases) {
    ChatMessage want = parse(text, opts);
    for (int trial = 0; trial < 30; ++trial) {
      std::vector<size_t> cuts;
      for (size_t i = 0; i < text.size(); ++i) cuts.push_back(1 + rng() % 6);
      StreamParser sp(opts, "", counter_ids());
      auto deltas = stream(sp, text, cuts);
      ChatMessage got = accumulate(deltas);
      ChatMessage expect = want;
      std::vector<std::string> ids;
      assign_tool_call_ids(expect, ids, counter_ids());
      expect_same(got, expect);
      expect_same(sp.message(), expect);
    }
  }
}

TEST(Gemma4Parser, TruncatedCallIsDroppedAtTheEnd) {
  // length limit hit inside a call: streaming showed a partial call, the final message has none
  StreamParser sp(weather_tools(), "<|turn>model\n", counter_ids());
  auto d = sp.push("<|tool_call>call:get_weather{city:" + Q + "Os");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NO_THROW(sp.finish());
  EXPECT_TRUE(sp.message().tool_calls.empty());
}

TEST(Gemma4Parser, CallBrokenAfterItWasStreamedStaysFrozen) {
  // without a grammar the model may break the call syntax after part of it was streamed
  StreamParser sp(weather_tools(), "<|turn>model\n", counter_ids());
  auto d1 = sp.push("<|tool_call>call:get_weather{city:" + Q + "Oslo" + Q + "}<tool_");
  ASSERT_EQ(d1.size(), 1u);
  EXPECT_EQ(d1[0]["tool_calls"][0]["function"]["arguments"], "{\"city\":\"Oslo\"}");
  std::vector<json> d2;
  EXPECT_NO_THROW(d2 = sp.push(":oops{"));
  EXPECT_TRUE(d2.empty());
  ASSERT_EQ(sp.message().tool_calls.size(), 1u);  // what the client saw
  EXPECT_NO_THROW(sp.finish());
  EXPECT_TRUE(sp.message().tool_calls.empty());   // the final message: no valid call
  // a value that turns out invalid
  StreamParser sp2(weather_tools(), "", counter_ids());
  EXPECT_EQ(sp2.push("<|tool_call>call:get_weather{city:").size(), 1u);
  EXPECT_NO_THROW(sp2.push("Oslo}<tool_call|>"));
  EXPECT_NO_THROW(sp2.finish());
}

// ---- golden: the reference server's outputs parse back to its content ------------------------
TEST(Gemma4Parser, GoldenServerOutputs) {
  std::string path = test::testdata("golden/chat-gemma4-full-vocab.json");
  if (!test::exists(path)) GTEST_SKIP() << "missing " << path;
  std::ifstream f(path);
  json cases = json::parse(f);
  std::ifstream tf(test::repo_data("chat/gemma4.jinja"));
  std::stringstream src;
  src << tf.rdbuf();
  ChatTemplate t = ChatTemplate::from_source(src.str(), "<bos>", "<eos>");
  for (const auto& c : cases) {
    ChatParams p;
    p.messages = c["request"]["messages"];
    p.tools = c["request"].value("tools", json());
    ChatPrompt r = t.render(p);
    ParseOptions o;
    o.tools = !p.tools.is_null();
    StreamParser sp(o, r.generation_prompt, counter_ids());
    std::string out = c["content"];
    auto deltas = stream(sp, out, std::vector<size_t>(out.size(), 3));
    json msg = sp.message().to_json();
    EXPECT_EQ(msg["content"], c["content"]);
    EXPECT_EQ(msg.contains("reasoning_content"), !c["reasoning_content"].is_null());
    EXPECT_EQ(msg.contains("tool_calls"), !c["tool_calls"].is_null());
    EXPECT_EQ(accumulate(deltas).content, c["content"].get<std::string>());
  }
}
