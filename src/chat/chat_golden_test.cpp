// Golden rendering tests: the Gemma 4 template from the GGUF must reproduce, byte for byte, the
// prompts the reference server rendered (testdata/golden/chat-gemma4-full-vocab.json, requests
// through llama-server with its defaults, and gemma4-full-vocab-Q8_0.chat.json, direct
// common_chat_templates_apply calls with the generation prompt and preserved tokens).
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "chat/chat.h"
#include "core/error.h"
#include "core/testdata.h"

using fitserve::chat::ChatParams;
using fitserve::chat::ChatTemplate;
using fitserve::chat::TemplateKind;
using nlohmann::json;
namespace test = fitserve::core::test;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

ChatTemplate gemma4_from_gguf() {
  std::string path = test::repo_data("chat/gemma4.jinja");
  std::string src = read_file(path);
  EXPECT_FALSE(src.empty()) << "missing " << path;
  return ChatTemplate::from_source(src, "<bos>", "<eos>");
}

// gemma4-full-vocab-Q8_0.chat.json uses llama.cpp's internal message shape: flat tool calls
// {name, arguments, id}, tool results with tool_name, tools {name, description, parameters (string)}.
json to_openai_messages(const json& msgs) {
  json out = json::array();
  for (const auto& m : msgs) {
    json o = {{"role", m["role"]}, {"content", m["content"]}};
    if (m.contains("tool_calls")) {
      o["tool_calls"] = json::array();
      for (const auto& c : m["tool_calls"])
        o["tool_calls"].push_back({{"id", c["id"]},
                                   {"type", "function"},
                                   {"function", {{"name", c["name"]}, {"arguments", c["arguments"]}}}});
    }
    if (m.contains("tool_name")) o["name"] = m["tool_name"];
    if (m.contains("tool_call_id")) o["tool_call_id"] = m["tool_call_id"];
    out.push_back(o);
  }
  return out;
}

json to_openai_tools(const json& tools) {
  json out = json::array();
  for (const auto& t : tools)
    out.push_back({{"type", "function"},
                   {"function", {{"name", t["name"]}, {"description", t["description"]}, {"parameters", t["parameters"]}}}});
  return out;
}

}  // namespace

// tests/data/chat/gemma4.jinja must be exactly the GGUF's tokenizer.chat_template string
// (extract_template.py wrote it; here the metadata record is located directly: key, type 8, u64 length).
TEST(ChatGolden, ExtractedTemplateMatchesTheGguf) {
  for (const char* rel : {"models/gemma4-full-vocab-Q8_0.gguf", "vocab/ggml-vocab-gemma-4.gguf"}) {
    std::string path = test::testdata(rel);
    if (!test::exists(path)) GTEST_SKIP() << "missing " << path;
    std::string gguf = read_file(path);
    const std::string key = "tokenizer.chat_template";
    std::string needle = std::string(1, static_cast<char>(key.size())) + std::string(7, '\0') + key + std::string("\x08\0\0\0", 4);
    size_t at = gguf.find(needle);
    ASSERT_NE(at, std::string::npos) << path;
    size_t p = at + needle.size();
    ASSERT_LE(p + 8, gguf.size());
    uint64_t len = 0;
    for (int i = 7; i >= 0; --i) len = (len << 8) | static_cast<unsigned char>(gguf[p + static_cast<size_t>(i)]);
    ASSERT_LE(p + 8 + len, gguf.size());
    EXPECT_EQ(gguf.substr(p + 8, len), read_file(test::repo_data("chat/gemma4.jinja"))) << path;
  }
}

TEST(ChatGolden, TemplateIsTheLegacyGemma4Template) {
  ChatTemplate t = gemma4_from_gguf();
  EXPECT_EQ(t.kind(), TemplateKind::Gemma4Legacy);
}

// Requests sent to llama-server with its defaults: thinking on unless chat_template_kwargs
// turns it off, add_generation_prompt true.
TEST(ChatGolden, ServerRequestsRenderByteForByte) {
  std::string path = test::testdata("golden/chat-gemma4-full-vocab.json");
  if (!test::exists(path)) GTEST_SKIP() << "missing " << path;
  json cases = json::parse(read_file(path));
  ASSERT_TRUE(cases.is_array());
  ASSERT_GE(cases.size(), 6u);
  ChatTemplate t = gemma4_from_gguf();
  for (size_t i = 0; i < cases.size(); ++i) {
    const json& req = cases[i]["request"];
    ChatParams p;
    p.messages = req["messages"];
    p.tools = req.value("tools", json());
    if (req.contains("chat_template_kwargs")) p.template_kwargs = req["chat_template_kwargs"];
    auto r = t.render(p);
    EXPECT_EQ(r.prompt, cases[i]["rendered_prompt"].get<std::string>()) << "case " << i;
    EXPECT_TRUE(r.thinking);
    // the same through the short API
    EXPECT_EQ(t.apply(req["messages"], p.tools, true, p.template_kwargs), cases[i]["rendered_prompt"].get<std::string>())
        << "case " << i;
  }
}

TEST(ChatGolden, TemplateApplyCasesWithGenerationPrompt) {
  std::string path = test::testdata("golden/gemma4-full-vocab-Q8_0.chat.json");
  if (!test::exists(path)) GTEST_SKIP() << "missing " << path;
  json doc = json::parse(read_file(path));
  ASSERT_EQ(doc["schema"], "g4gold-chat/1");
  ASSERT_GE(doc["cases"].size(), 8u);
  ChatTemplate t = gemma4_from_gguf();
  for (const auto& c : doc["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    ChatParams p;
    p.messages = to_openai_messages(c["messages"]);
    if (c.contains("tools")) p.tools = to_openai_tools(c["tools"]);
    p.add_generation_prompt = c["add_generation_prompt"].get<bool>();
    p.enable_thinking = c["enable_thinking"].get<bool>();
    p.prefill_assistant = false;  // common_chat_templates_apply itself does no prefill
    auto r = t.render(p);
    EXPECT_EQ(r.prompt, c["prompt"].get<std::string>());
    EXPECT_EQ(r.generation_prompt, c["generation_prompt"].get<std::string>());
    EXPECT_EQ(json(r.preserved_tokens), c["preserved_tokens"]);
    EXPECT_EQ(json(r.additional_stops), c["additional_stops"]);
  }
}
