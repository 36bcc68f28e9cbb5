// server/params.h — parsing and validation of request bodies (pure functions, no engine).
// Offers:
//   parse_json_body(body, max_depth)   JSON object or HttpError 400 (bad JSON, too deep, not object)
//   Fields                             typed, range-checked access to optional request fields
//   parse_gen_options(body, api, ...)  sampling / n_predict / stop / n / stream / logprobs ...
//   parse_chat_params(body, ...)       validated messages, tools, tool_choice, template switches
//   parse_prompts(json, ...)           completion prompts: string, token ids, mixed, or a batch
//   parse_tokenize / parse_token_ids   bodies of /tokenize and /detokenize
// Every invalid input throws HttpError (400 invalid_request_error) with a message naming the field.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "server/http_error.h"
#include "server/options.h"

namespace fitserve::server {

using json = nlohmann::json;

// Parses a request body. Rejects invalid JSON, nesting deeper than max_depth (checked before
// parsing, so a hostile body cannot exhaust the stack) and anything but a JSON object.
json parse_json_body(std::string_view body, int max_depth);
// Deepest nesting of arrays/objects in a JSON text (strings are skipped; stops early past limit).
int json_depth(std::string_view text, int limit);

// Optional fields of a JSON object; absent and null both mean "use the default".
class Fields {
 public:
  explicit Fields(const json& obj) : obj_(obj) {}
  bool has(const char* key) const;
  const json* get(const char* key) const;  // nullptr when absent or null
  std::optional<double> number(const char* key, double lo, double hi) const;
  std::optional<int64_t> integer(const char* key, int64_t lo, int64_t hi) const;
  std::optional<bool> boolean(const char* key) const;
  std::optional<std::string> string(const char* key) const;

 private:
  const json& obj_;
};

enum class Api { Chat, OaiCompletion, Native };

// Everything a generating endpoint needs besides the prompt.
struct GenOptions {
  engine::Request req;              // all but `prompt`
  int n = 1;                        // completions per prompt
  bool stream = false;
  bool include_usage = false;       // stream_options.include_usage
  bool timings_per_token = false;
  bool return_tokens = false;
  bool logprobs = false;            // report per-token log-probs
  int top_logprobs = 0;             // alternatives listed per token
  int sse_ping_s = 30;
  bool seed_given = false;
};

// `n_slots` bounds `n`; ServerOptions gives defaults (sampling, n_predict cap, ping interval).
GenOptions parse_gen_options(const json& body, Api api, const ServerOptions& opt, int n_slots);

struct ChatParams {
  json messages = json::array();    // validated, as sent
  json tools = json::array();       // validated; empty when tool_choice is "none"
  std::string tool_choice = "auto"; // auto | none | required
  bool parallel_tool_calls = true;
  bool add_generation_prompt = true;
  bool add_generation_prompt_given = false;
  json continue_final_message;      // null, bool, or "content" / "reasoning_content"
  json chat_template_kwargs = json::object();  // server defaults merged with the request's
  bool enable_thinking = true;
  std::string reasoning_effort;     // "" = not given
  std::string reasoning_format = "deepseek";   // none | auto | deepseek | deepseek-legacy
};

ChatParams parse_chat_params(const json& body, const ServerOptions& opt);

// One piece of a completion prompt: text to tokenize, or a token id.
struct PromptPiece {
  bool is_text = true;
  std::string text;
  int32_t token = -1;
};
using Prompt = std::vector<PromptPiece>;

// "text" | [ids] | ["text", id, ...] | [prompt, prompt, ...] (when allow_batch).
// {"prompt_string": "...", "multimodal_data": [...]} is refused (no multimodal projector).
std::vector<Prompt> parse_prompts(const json& prompt, bool allow_batch, size_t max_prompts = 64);

struct TokenizeParams {
  Prompt content;
  bool add_special = false;
  bool parse_special = true;
  bool with_pieces = false;
};
TokenizeParams parse_tokenize(const json& body);
// "tokens": [ids] for /detokenize; each id must be in [0, n_vocab).
std::vector<int32_t> parse_token_ids(const json& body, const char* key, int32_t n_vocab);

}  // namespace fitserve::server
