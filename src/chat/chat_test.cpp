// Chat layer tests: the worked examples of spec/gemma4-chat.md §12 (with our built-in current-
// format template, and with the legacy template from the GGUF where the spec states the
// differences), system/user/assistant/multi-turn conversations, message normalization (§2),
// the legacy rewrite (§6.4), the generation-prompt post-fix (§3), prefill (§10), fallbacks and errors.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "chat/chat.h"
#include "core/error.h"
#include "core/testdata.h"

using namespace fitserve::chat;
using nlohmann::json;
namespace test = fitserve::core::test;

namespace {

const std::string Q = "<|\"|>";

ChatTemplate legacy() {
  std::ifstream f(test::repo_data("chat/gemma4.jinja"), std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ChatTemplate::from_source(ss.str(), "<bos>", "<eos>");
}

json weather_tool() {
  return json::parse(R"([{"type":"function","function":{"name":"get_weather",
    "description":"Look up current weather for a city.",
    "parameters":{"type":"object","properties":{"city":{"type":"string","description":"City name, e.g. Oslo"},
      "unit":{"type":"string","enum":["celsius","fahrenheit"]},
      "days":{"type":"integer","description":"Forecast length"}},"required":["city"]}}}])");
}

const std::string kWeatherDecl =
    "<|tool>declaration:get_weather{description:" + Q + "Look up current weather for a city." + Q +
    ",parameters:{properties:{city:{description:" + Q + "City name, e.g. Oslo" + Q + ",type:" + Q + "STRING" + Q +
    "},days:{description:" + Q + "Forecast length" + Q + ",type:" + Q + "INTEGER" + Q + "},unit:{enum:[" + Q + "celsius" +
    Q + "," + Q + "fahrenheit" + Q + "],type:" + Q + "STRING" + Q + "}},required:[" + Q + "city" + Q + "],type:" + Q +
    "OBJECT" + Q + "}}<tool|>";

ChatPrompt render(const ChatTemplate& t, const std::string& messages, const json& tools = nullptr, bool thinking = true) {
  ChatParams p;
  p.messages = json::parse(messages);
  p.tools = tools;
  p.enable_thinking = thinking;
  return t.render(p);
}

const char* kExampleC = R"([{"role":"system","content":"Use tools when useful."},{"role":"user","content":"Weather in Oslo?"},
  {"role":"assistant","content":null,"reasoning_content":"Need live data.","tool_calls":[{"id":"c1","type":"function",
   "function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\",\"days\":1}"}}]},
  {"role":"tool","tool_call_id":"c1","content":"{\"temp_c\": -3}"}])";

}  // namespace

// ---- worked examples, built-in (current format) template --------------------------------------
TEST(ChatExamples, A_ThinkingOffSystemAndUser) {
  std::string want =
      "<|turn>system\nYou are terse.<turn|>\n<|turn>user\nName a prime above 10.<turn|>\n<|turn>model\n<|channel>thought\n<channel|>";
  const char* msgs = R"([{"role":"system","content":"  You are terse.  "},{"role":"user","content":"Name a prime above 10."}])";
  for (const ChatTemplate& t : {ChatTemplate::builtin_gemma4(), legacy()}) {
    ChatPrompt r = render(t, msgs, nullptr, false);
    EXPECT_EQ(r.prompt, want);
    EXPECT_EQ(r.generation_prompt, "<|turn>model\n<|channel>thought\n<channel|>");
    EXPECT_FALSE(r.thinking);
  }
  // chat_template_kwargs.enable_thinking=false has the same effect as the server switch
  EXPECT_EQ(legacy().apply(json::parse(msgs), nullptr, true, {{"enable_thinking", false}}), want);
}

TEST(ChatExamples, B_ThinkingOnWithTools) {
  const char* msgs = R"([{"role":"user","content":"Weather in Oslo?"}])";
  ChatPrompt r = render(ChatTemplate::builtin_gemma4(), msgs, weather_tool());
  EXPECT_EQ(r.prompt, "<|turn>system\n<|think|>\n" + kWeatherDecl + "<turn|>\n<|turn>user\nWeather in Oslo?<turn|>\n<|turn>model\n");
  EXPECT_EQ(r.generation_prompt, "<|turn>model\n");
  // legacy template: no newline after <|think|> (as in the golden server renderings)
  ChatPrompt l = render(legacy(), msgs, weather_tool());
  EXPECT_EQ(l.prompt, "<|turn>system\n<|think|>" + kWeatherDecl + "<turn|>\n<|turn>user\nWeather in Oslo?<turn|>\n<|turn>model\n");
}

TEST(ChatExamples, C_ToolResultFedBack) {
  std::string head = "<|turn>system\nUse tools when useful." + kWeatherDecl + "<turn|>\n<|turn>user\nWeather in Oslo?<turn|>\n<|turn>model\n";
  std::string call = "<|tool_call>call:get_weather{city:" + Q + "Oslo" + Q + ",days:1}<tool_call|>";
  ChatPrompt r = render(ChatTemplate::builtin_gemma4(), kExampleC, weather_tool(), false);
  EXPECT_EQ(r.prompt, head + "<|channel>thought\nNeed live data.\n<channel|>" + call + "<|tool_response>response:get_weather{value:" +
                          Q + "{\"temp_c\": -3}" + Q + "}<tool_response|>");
  EXPECT_EQ(r.generation_prompt, "");
  // legacy template (§6.4): the result is parsed as JSON and rendered as a dict, prior reasoning
  // is not rendered, and the generation prompt is the empty thought block when thinking is off
  ChatPrompt l = render(legacy(), kExampleC, weather_tool(), false);
  EXPECT_EQ(l.prompt, head + call + "<|tool_response>response:get_weather{temp_c:-3}<tool_response|><|channel>thought\n<channel|>");
  EXPECT_EQ(l.generation_prompt, "<|channel>thought\n<channel|>");
}

TEST(ChatExamples, C_FinalAnswerSentBackContinuesTheModelTurn) {
  json msgs = json::parse(kExampleC);
  msgs.push_back({{"role", "assistant"}, {"content", "It is -3 °C in Oslo right now."}, {"reasoning_content", "Easy."}});
  msgs.push_back({{"role", "user"}, {"content", "Thanks!"}});
  ChatPrompt r = render(ChatTemplate::builtin_gemma4(), msgs.dump(), weather_tool(), false);
  std::string tail = "<|tool_call>call:get_weather{city:" + Q + "Oslo" + Q + ",days:1}<tool_call|><|tool_response>response:get_weather{value:" +
                     Q + "{\"temp_c\": -3}" + Q +
                     "}<tool_response|>It is -3 °C in Oslo right now.<turn|>\n<|turn>user\nThanks!<turn|>\n<|turn>model\n<|channel>thought\n<channel|>";
  EXPECT_NE(r.prompt.find("Weather in Oslo?<turn|>\n<|turn>model\n" + tail), std::string::npos) << r.prompt;
  EXPECT_EQ(r.prompt.find("Need live data."), std::string::npos);  // reasoning before the last user message is dropped
  EXPECT_EQ(r.prompt.find("Easy."), std::string::npos);
}

TEST(ChatExamples, D_ImageBecomesTheMediaMarker) {
  ChatParams p;
  p.messages = json::parse(R"([{"role":"user","content":[{"type":"text","text":"Describe this:"},
    {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}])");
  p.enable_thinking = false;
  p.media_marker = "<__media_ABC__>";
  for (const ChatTemplate& t : {ChatTemplate::builtin_gemma4(), legacy()}) {
    ChatPrompt r = t.render(p);
    EXPECT_EQ(r.prompt, "<|turn>user\nDescribe this:<__media_ABC__><turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
    ASSERT_EQ(r.media.size(), 1u);
    EXPECT_EQ(r.media[0]["image_url"]["url"], "data:image/png;base64,AAAA");
  }
  p.media_marker.clear();
  try {
    ChatTemplate::builtin_gemma4().render(p);
    FAIL() << "media without a projector must be refused";
  } catch (const fitserve::core::Error& e) {
    EXPECT_EQ(e.code(), "request");
  }
}

// ---- conversations ----------------------------------------------------------------------------
TEST(ChatConversations, MultiTurnWithThinkingHiddenFromHistory) {
  const char* msgs = R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},
    {"role":"assistant","content":"<|channel>thought\nhidden<channel|>Hello!"},{"role":"user","content":"Bye"}])";
  std::string want =
      "<|turn>system\n<|think|>Be brief.<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\nHello!<turn|>\n<|turn>user\nBye<turn|>\n<|turn>model\n";
  EXPECT_EQ(render(legacy(), msgs).prompt, want);
  std::string builtin_want = want;
  builtin_want.replace(builtin_want.find("<|think|>"), 9, "<|think|>\n");
  EXPECT_EQ(render(ChatTemplate::builtin_gemma4(), msgs).prompt, builtin_want);
}

TEST(ChatConversations, NoSystemTurnWithoutThinkingToolsOrSystem) {
  const char* msgs = R"([{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello."}])";
  ChatParams p;
  p.messages = json::parse(msgs);
  p.enable_thinking = false;
  p.add_generation_prompt = false;
  p.prefill_assistant = false;
  for (const ChatTemplate& t : {ChatTemplate::builtin_gemma4(), legacy()})
    EXPECT_EQ(t.render(p).prompt, "<|turn>user\nHi<turn|>\n<|turn>model\nHello.<turn|>\n");
}

TEST(ChatConversations, DeveloperRoleAndTextParts) {
  const char* msgs = R"([{"role":"developer","content":"Rules."},{"role":"user","content":[{"type":"text","text":"Hello "},{"type":"text","text":" world"}]}])";
  for (const ChatTemplate& t : {ChatTemplate::builtin_gemma4(), legacy()}) {
    ChatPrompt r = render(t, msgs, nullptr, false);
    EXPECT_EQ(r.prompt, "<|turn>system\nRules.<turn|>\n<|turn>user\nHelloworld<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
  }
}

TEST(ChatConversations, PostFixAfterToolResultsAndContent) {
  json msgs = json::parse(kExampleC);
  msgs.push_back({{"role", "assistant"}, {"content", "Cold."}});
  for (const ChatTemplate& t : {ChatTemplate::builtin_gemma4(), legacy()}) {
    ChatParams p;
    p.messages = msgs;
    p.tools = weather_tool();
    p.prefill_assistant = false;
    ChatPrompt r = t.render(p);
    EXPECT_EQ(r.generation_prompt, "<|turn>model\n");
    const std::string tail = "<tool_response|>Cold.<turn|>\n<|turn>model\n";
    ASSERT_GE(r.prompt.size(), tail.size());
    EXPECT_EQ(r.prompt.substr(r.prompt.size() - tail.size()), tail) << r.prompt;
  }
}

TEST(ChatConversations, ThinkingSwitches) {
  const char* msgs = R"([{"role":"user","content":"Hi"}])";
  ChatTemplate t = legacy();
  ChatParams p;
  p.messages = json::parse(msgs);
  EXPECT_TRUE(t.render(p).thinking);
  p.reasoning_effort = "none";
  EXPECT_FALSE(t.render(p).thinking);
  EXPECT_EQ(t.render(p).generation_prompt, "<|turn>model\n<|channel>thought\n<channel|>");
  p.reasoning_effort.clear();
  p.template_kwargs = {{"enable_thinking", "no"}};
  EXPECT_THROW(t.render(p), fitserve::core::Error);
}

// ---- prefill / continue_final_message (§10) -----------------------------------------------------
TEST(ChatPrefill, TrailingAssistantIsContinued) {
  ChatParams p;
  p.messages = json::parse(R"([{"role":"user","content":"Count"},{"role":"assistant","content":"1, 2,"}])");
  ChatPrompt r = ChatTemplate::builtin_gemma4().render(p);
  EXPECT_TRUE(r.prefill);
  EXPECT_EQ(r.generation_prompt, "<|turn>model\n<|channel>thought\n<channel|>1, 2,");
  EXPECT_EQ(r.prompt, "<|turn>system\n<|think|>\n<turn|>\n<|turn>user\nCount<turn|>\n" + r.generation_prompt);

  p.messages = json::parse(R"([{"role":"user","content":"Q"},{"role":"assistant","content":"","reasoning_content":"Let me"}])");
  r = legacy().render(p);
  EXPECT_EQ(r.generation_prompt, "<|turn>model\n<|channel>thought\nLet me");

  p.continue_final_message = ContinueMode::Content;
  p.add_generation_prompt = false;
  r = legacy().render(p);
  EXPECT_EQ(r.generation_prompt, "<|turn>model\n<|channel>thought\nLet me<channel|>");
}

TEST(ChatPrefill, Errors) {
  auto code_of = [](ChatParams p) {
    try {
      ChatTemplate::builtin_gemma4().render(p);
    } catch (const fitserve::core::Error& e) {
      return e.code();
    }
    return std::string("none");
  };
  ChatParams p;
  p.messages = json::parse(R"([{"role":"user","content":"Q"},{"role":"assistant","content":"a"},{"role":"assistant","content":"b"}])");
  EXPECT_EQ(code_of(p), "request");  // two trailing assistant messages
  p.messages = json::parse(R"([{"role":"user","content":"Q"},{"role":"assistant","content":"a"}])");
  p.continue_final_message = ContinueMode::Auto;
  EXPECT_EQ(code_of(p), "request");  // add_generation_prompt defaults to true
  p.add_generation_prompt = false;
  EXPECT_EQ(code_of(p), "none");
  p.messages = json::parse(R"([{"role":"user","content":"Q"},{"role":"assistant","content":"",
    "tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}])");
  EXPECT_EQ(code_of(p), "request");  // cannot continue tool calls
  p.messages = json::parse(R"([{"role":"user","content":"Q"}])");
  EXPECT_EQ(code_of(p), "request");  // nothing to continue
}

// ---- normalization and the legacy rewrite ------------------------------------------------------
TEST(ChatNormalize, InvalidMessagesAreRequestErrors) {
  for (const char* bad : {"null", "\"hi\"", "5", "[]", "[{}]", "[1]", "[{\"role\":5,\"content\":\"x\"}]",
                          "[{\"role\":\"user\",\"content\":5}]", "[{\"role\":\"user\",\"content\":[{\"type\":\"audio_blob\"}]}]",
                          "[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]", "[{\"role\":\"user\",\"content\":[\"x\"]}]",
                          "[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"name\":\"f\",\"arguments\":\"{bad\"}}]}]",
                          "[{\"role\":\"assistant\",\"tool_calls\":{}}]", "[{\"role\":\"tool\",\"tool_call_id\":7}]"}) {
    SCOPED_TRACE(bad);
    try {
      normalize_messages(json::parse(bad));
      ADD_FAILURE() << "accepted";
    } catch (const fitserve::core::Error& e) {
      EXPECT_EQ(e.code(), "request");
    }
  }
  try {
    normalize_messages(json::parse(R"([{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{bad"}}]}])"));
  } catch (const fitserve::core::Error& e) {
    EXPECT_EQ(e.message(), "Failed to parse tool call arguments as JSON");
  }
}

TEST(ChatNormalize, Shape) {
  json n = normalize_messages(json::parse(R"([
    {"role":"developer","content":null,"extra":1},
    {"role":"assistant","content":"x","reasoning_content":"","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{\"k\":[1]}"}}]},
    {"role":"tool","tool_call_id":"a","name":"f","content":[{"type":"text","text":"r"}]}])"));
  EXPECT_EQ(n[0], json::parse(R"({"role":"system","content":""})"));
  EXPECT_EQ(n[1], json::parse(R"({"role":"assistant","content":"x","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":{"k":[1]}}}]})"));
  EXPECT_EQ(n[2], json::parse(R"({"role":"tool","tool_call_id":"a","name":"f","content":[{"type":"text","text":"r"}]})"));
  // text parts around media: joined with \n, never next to a marker
  std::vector<json> media;
  json m = normalize_messages(json::parse(R"([{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"},
    {"type":"image_url","image_url":{"url":"u1"}},{"type":"text","text":"c"},{"type":"input_audio","input_audio":{"data":"d"}}]}])"),
                              "<M>", &media);
  EXPECT_EQ(m[0]["content"], "a\nb<M>c<M>");
  EXPECT_EQ(media.size(), 2u);
}

TEST(ChatNormalize, Tools) {
  json t = normalize_tools(json::parse(R"([{"type":"function","function":{"name":"f","strict":true,"parameters":"{\"type\":\"object\"}"}}])"));
  EXPECT_EQ(t, json::parse(R"([{"type":"function","function":{"name":"f","description":"","parameters":{"type":"object"}}}])"));
  EXPECT_EQ(normalize_tools(nullptr), json::array());
  for (const char* bad : {"{}", "[1]", "[{\"type\":\"web\"}]", "[{\"function\":{}}]", "[{\"function\":{\"name\":\"f\",\"parameters\":\"{x\"}}]",
                          "[{\"function\":{\"name\":\"f\",\"parameters\":[1]}}]"})
    EXPECT_THROW(normalize_tools(json::parse(bad)), fitserve::core::Error) << bad;
}

TEST(ChatNormalize, LegacyRewrite) {
  json n = normalize_messages(json::parse(R"([{"role":"user","content":"q"},
    {"role":"assistant","content":"","reasoning_content":"r1","tool_calls":[
      {"id":"a","type":"function","function":{"name":"f","arguments":{}}},
      {"id":"b","type":"function","function":{"name":"g","arguments":{}}}]},
    {"role":"tool","tool_call_id":"a","content":"{\"x\": 1}"},
    {"role":"tool","tool_call_id":"b","content":"plain"},
    {"role":"tool","tool_call_id":"zz","content":"7"},
    {"role":"assistant","content":"done"},
    {"role":"user","content":"next"}])"));
  json r = gemma4_legacy_rewrite(n);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1]["content"], "done");
  EXPECT_EQ(r[1]["reasoning_content"], "r1");
  EXPECT_EQ(r[1]["tool_responses"], json::parse(R"([{"name":"f","response":{"x":1}},{"name":"g","response":"plain"},{"name":"zz","response":7}])"));
  EXPECT_EQ(r[2]["content"], "next");
}

// ---- templates and errors ----------------------------------------------------------------------
TEST(ChatTemplates, DetectionAndFallbacks) {
  EXPECT_EQ(ChatTemplate::builtin_gemma4().kind(), TemplateKind::Gemma4);
  EXPECT_EQ(legacy().kind(), TemplateKind::Gemma4Legacy);
  EXPECT_EQ(ChatTemplate::fallback("gemma4", "<bos>", "<eos>").kind(), TemplateKind::Gemma4);
  ChatTemplate chatml = ChatTemplate::fallback("llama", "", "");
  EXPECT_EQ(chatml.kind(), TemplateKind::Generic);
  EXPECT_EQ(chatml.apply(json::parse(R"([{"role":"system","content":"S"},{"role":"user","content":[{"type":"text","text":"U"}]}])"), nullptr, true),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n");
  ChatParams p;
  p.messages = json::parse(R"([{"role":"user","content":"U"},{"role":"assistant","content":"A"}])");
  ChatPrompt r = chatml.render(p);  // generic prefill: the assistant text continues the generation prompt
  EXPECT_EQ(r.prompt, "<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA");
  EXPECT_EQ(r.generation_prompt, "<|im_start|>assistant\nA");
  EXPECT_TRUE(r.preserved_tokens.empty());
}

TEST(ChatTemplates, VariablesPassedToTheTemplate) {
  ChatTemplate t = ChatTemplate::from_source(
      "{{ bos_token }}{{ custom }}|{{ date_string }}|{{ enable_thinking }}|{{ add_generation_prompt is defined }}|{{ tools is defined }}|{{ eos_token }}",
      "<s>", "</s>");
  ChatParams p;
  p.messages = json::parse(R"([{"role":"user","content":"x"}])");
  p.template_kwargs = {{"custom", "C"}};
  p.now_unix = 1767225600;  // 2026-01-01
  ChatPrompt r = t.render(p);
  EXPECT_EQ(r.prompt, "C|01 Jan 2026|True|True|False|</s>");  // leading BOS text stripped
  EXPECT_EQ(t.render_raw({{"custom", 1}, {"bos_token", "<s>"}}), "<s>1|||False|False|");
}

TEST(ChatTemplates, TemplateErrorsAreErrors) {
  try {
    ChatTemplate::from_source("{% for %}", "", "");
    FAIL();
  } catch (const fitserve::core::Error& e) {
    EXPECT_EQ(e.code(), "template");
  }
  ChatTemplate t = ChatTemplate::from_source(
      "{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% endfor %}", "", "");
  try {
    t.apply(json::parse(R"([{"role":"system","content":"x"}])"), nullptr, true);
    FAIL();
  } catch (const fitserve::core::Error& e) {
    EXPECT_EQ(e.code(), "template");
    EXPECT_EQ(e.message().rfind("System role not supported", 0), 0u);
  }
}
