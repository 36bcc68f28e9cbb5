// chat/gemma4_parser.h — Gemma 4 model output -> OpenAI message fields, whole and streamed.
// Offers: parse_gemma4_output() (spec/gemma4-chat.md §8: reasoning, content and tool calls from
//         generation_prompt + generated text, in final or partial mode), diff_messages() (the
//         per-token streaming deltas of §9), StreamParser (feeds text pieces, keeps tool-call ids
//         stable, returns `delta` objects ready for chat.completion.chunk), finish_reason(), and
//         sanitize_utf8(). Malformed final output throws core::Error("format").
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace fitserve::chat {

enum class ToolChoice { Auto, None, Required };

struct ParseOptions {
  bool tools = false;                   // tools were declared in the request
  ToolChoice tool_choice = ToolChoice::Auto;
  bool parallel_tool_calls = true;      // false: at most one call
  std::vector<std::string> tool_names;  // declared names; empty: accept any name
  bool extract_reasoning = true;        // false = reasoning_format "none": thought blocks stay in content
  bool json_output = false;             // response_format json_object/json_schema: content is the fenced JSON
};

struct ToolCall {
  std::string id;         // assigned by StreamParser / assign_tool_call_ids
  std::string name;
  std::string arguments;  // compact JSON text (a prefix of it while partial)
};

struct ChatMessage {
  std::string content;
  std::string reasoning_content;
  std::vector<ToolCall> tool_calls;
  // {"role":"assistant","content":C,"reasoning_content"?:R,"tool_calls"?:[...]} (spec §8)
  nlohmann::json to_json() const;
};

// Parses `text` = generation prompt + generated text. In partial mode, cut-off markers, strings
// and incomplete UTF-8 at the end are held back. In final mode a mismatch throws
// core::Error("format", "The model produced output that does not match the expected peg-gemma4 format").
ChatMessage parse_gemma4_output(std::string_view text, const ParseOptions& opts, bool partial);

// Streaming deltas from prev to cur, in the order reasoning, content, tool calls (argument
// suffix of the last known call, then each new call in full). Each element is one chunk's
// `delta` object; empty strings are never produced. Throws core::Error("internal") when cur
// does not extend prev (unless allow_shrink, used for the final parse).
std::vector<nlohmann::json> diff_messages(const ChatMessage& prev, const ChatMessage& cur, bool allow_shrink = false);

// Random 32-character alphanumeric id.
std::string random_tool_call_id();

// Gives every call an id, reusing ids[i] for call i and appending new ones.
void assign_tool_call_ids(ChatMessage& msg, std::vector<std::string>& ids,
                          const std::function<std::string()>& make_id = random_tool_call_id);

class StreamParser {
 public:
  // `generation_prompt` is ChatPrompt::generation_prompt; its own parse (e.g. a prefill) is the
  // starting state, so it is not streamed again.
  StreamParser(ParseOptions opts, std::string generation_prompt,
               std::function<std::string()> make_id = random_tool_call_id);

  // Appends generated text; returns the deltas it produced (possibly none).
  std::vector<nlohmann::json> push(std::string_view piece);
  // Final parse of everything; returns the remaining deltas. Throws core::Error("format").
  std::vector<nlohmann::json> finish();

  const ChatMessage& message() const { return msg_; }  // latest parse (ids assigned)
  const std::string& generated() const { return generated_; }

 private:
  ParseOptions opts_;
  std::string prompt_, generated_;
  ChatMessage msg_;
  std::vector<std::string> ids_;
  std::function<std::string()> make_id_;
  int tail_ = 0;  // how the last parse ended (see the fast path in push)
};

enum class StopKind { Eog, StopWord, Length };
// "tool_calls" if the message has calls and generation stopped at EOG or a stop word, "stop"
// otherwise, "length" for n_predict / context limits.
std::string finish_reason(const ChatMessage& msg, StopKind stop);

// Replaces invalid UTF-8 with U+FFFD; with hold_incomplete_tail an incomplete sequence at the
// very end is dropped instead (it may complete with the next token).
std::string sanitize_utf8(std::string_view s, bool hold_incomplete_tail);

}  // namespace fitserve::chat
