// chat/gemma4_parser.cpp — the Gemma 4 output grammar of spec/gemma4-chat.md §8 as a
// hand-written parser with a partial (streaming) mode, plus the §9 streaming diffs.
//
// Grammar (no tools): [<|turn>model\n] ( [thought] content )+ , rest ignored
//   thought = ( <|channel> not followed by "thought" )* <|channel>thought ws REASONING <channel|>
//   content = text up to <|channel> / <channel|> (tools mode: also <|tool_call>)
// Tools auto: units as above, skip to the first <|tool_call>, then 0..N calls.
// Tools required: start, optional thought, >= 1 calls.  JSON output: start, optional thought,
// ```json JSON ```.
// Choices where the spec is silent: an unterminated thought at the end of a final parse keeps
// its text as reasoning (as streaming showed it); calls may be separated by whitespace.
#include "chat/gemma4_parser.h"

#include <random>

#include "core/error.h"

namespace fitserve::chat {

using nlohmann::json;

namespace {

constexpr std::string_view kStart = "<|turn>model\n";
constexpr std::string_view kChanOpen = "<|channel>";
constexpr std::string_view kChanClose = "<channel|>";
constexpr std::string_view kThought = "thought";
constexpr std::string_view kCallOpen = "<|tool_call>";
constexpr std::string_view kCallClose = "<tool_call|>";
constexpr std::string_view kCallKeyword = "call:";
constexpr std::string_view kQuote = "<|\"|>";
constexpr std::string_view kFenceOpen = "```json";
constexpr std::string_view kFenceClose = "```";
constexpr int kMaxArgDepth = 64;

[[noreturn]] void format_error() {
  throw core::Error("format", "The model produced output that does not match the expected peg-gemma4 format");
}

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool starts(std::string_view s, size_t pos, std::string_view lit) { return s.substr(pos, lit.size()) == lit; }
// `tail` (which runs to the end of the input) is a non-empty proper prefix of `lit`
bool proper_prefix(std::string_view tail, std::string_view lit) {
  return !tail.empty() && tail.size() < lit.size() && lit.substr(0, tail.size()) == tail;
}
// Length of the longest suffix of `s` that is a proper prefix of one of `lits`.
size_t held_suffix(std::string_view s, std::initializer_list<std::string_view> lits) {
  size_t longest = 0;
  for (auto lit : lits) longest = std::max(longest, lit.size());
  for (size_t k = std::min(s.size(), longest - 1); k > 0; --k)
    for (auto lit : lits)
      if (proper_prefix(s.substr(s.size() - k), lit)) return k;
  return 0;
}

void escape_json_chars(std::string& out, std::string_view s) {
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          static const char* hex = "0123456789abcdef";
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

enum class St { Ok, Partial, Fail };
// What a partial parse ended in: free text of content or reasoning that ran to the end of the
// input with nothing held back (so appending text without '<' only extends that field).
enum class Tail { None, Content, Reasoning };

// Gemma dict syntax -> compact JSON text (a prefix of it when the input ends early).
class ArgParser {
 public:
  ArgParser(std::string_view s, size_t start) : pos(start), s_(s) {}
  size_t pos;
  std::string out;

  St dict() {
    Depth d(*this);
    if (depth_ > kMaxArgDepth) return St::Fail;
    out += '{';
    ++pos;
    skip_ws();
    if (end()) return St::Partial;
    if (s_[pos] == '}') {
      out += '}';
      ++pos;
      return St::Ok;
    }
    while (true) {
      size_t k = pos;
      while (pos < s_.size() && s_[pos] != ':' && s_[pos] != '}') ++pos;
      if (end()) {
        out += '"';
        escape_json_chars(out, sanitize_utf8(s_.substr(k), true));
        return St::Partial;
      }
      if (s_[pos] == '}' || pos == k) return St::Fail;
      out += '"';
      escape_json_chars(out, sanitize_utf8(s_.substr(k, pos - k), false));
      out += "\":";
      ++pos;
      skip_ws();
      St v = value();
      if (v != St::Ok) return v;
      if (end()) return St::Partial;
      if (s_[pos] == ',') {
        out += ',';
        ++pos;
        skip_ws();
        if (end()) return St::Partial;
        continue;
      }
      skip_ws();
      if (end()) return St::Partial;
      if (s_[pos] != '}') return St::Fail;
      out += '}';
      ++pos;
      return St::Ok;
    }
  }

 private:
  struct Depth {
    explicit Depth(ArgParser& p) : p(p) { ++p.depth_; }
    ~Depth() { --p.depth_; }
    ArgParser& p;
  };
  bool end() const { return pos >= s_.size(); }
  void skip_ws() {
    while (pos < s_.size() && is_ws(s_[pos])) ++pos;
  }

  St array() {
    Depth d(*this);
    if (depth_ > kMaxArgDepth) return St::Fail;
    out += '[';
    ++pos;
    skip_ws();
    if (end()) return St::Partial;
    if (s_[pos] == ']') {
      out += ']';
      ++pos;
      return St::Ok;
    }
    while (true) {
      St v = value();
      if (v != St::Ok) return v;
      if (end()) return St::Partial;
      if (s_[pos] == ',') {
        out += ',';
        ++pos;
        skip_ws();
        if (end()) return St::Partial;
        continue;
      }
      skip_ws();
      if (end()) return St::Partial;
      if (s_[pos] != ']') return St::Fail;
      out += ']';
      ++pos;
      return St::Ok;
    }
  }

  St value() {
    if (end()) return St::Partial;
    std::string_view rest = s_.substr(pos);
    if (starts(s_, pos, kQuote)) {
      size_t b = pos + kQuote.size();
      size_t e = s_.find(kQuote, b);
      out += '"';
      if (e != std::string_view::npos) {
        escape_json_chars(out, sanitize_utf8(s_.substr(b, e - b), false));
        out += '"';
        pos = e + kQuote.size();
        return St::Ok;
      }
      std::string_view tail = s_.substr(b);
      size_t h = held_suffix(tail, {kQuote});
      escape_json_chars(out, sanitize_utf8(tail.substr(0, tail.size() - h), h == 0));
      pos = s_.size();
      return St::Partial;
    }
    if (proper_prefix(rest, kQuote)) return St::Partial;
    char c = s_[pos];
    if (c == '{') return dict();
    if (c == '[') return array();
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    for (std::string_view lit : {std::string_view("true"), std::string_view("false"), std::string_view("null")}) {
      if (starts(s_, pos, lit)) {
        out += lit;
        pos += lit.size();
        return St::Ok;
      }
      if (proper_prefix(rest, lit)) return St::Partial;
    }
    return St::Fail;
  }

  St number() {
    size_t b = pos;
    auto digit = [&](size_t i) { return i < s_.size() && s_[i] >= '0' && s_[i] <= '9'; };
    auto partial = [&]() {
      out += s_.substr(b, pos - b);
      return St::Partial;
    };
    if (s_[pos] == '-') ++pos;
    if (end()) return partial();
    if (s_[pos] == '0') {
      ++pos;
    } else if (digit(pos)) {
      while (digit(pos)) ++pos;
    } else {
      return St::Fail;
    }
    if (end()) return partial();
    if (s_[pos] == '.') {
      ++pos;
      if (end()) return partial();
      if (!digit(pos)) return St::Fail;
      while (digit(pos)) ++pos;
      if (end()) return partial();
    }
    if (s_[pos] == 'e' || s_[pos] == 'E') {
      ++pos;
      if (end()) return partial();
      if (s_[pos] == '+' || s_[pos] == '-') ++pos;
      if (end()) return partial();
      if (!digit(pos)) return St::Fail;
      while (digit(pos)) ++pos;
      if (end()) return partial();
    }
    out += s_.substr(b, pos - b);
    return St::Ok;
  }

  std::string_view s_;
  int depth_ = 0;
};

class OutputParser {
 public:
  OutputParser(std::string_view s, const ParseOptions& o, bool partial) : s_(s), o_(o), partial_(partial) {}

  Tail tail() const { return tail_; }

  ChatMessage run() {
    if (starts(s_, 0, kStart)) {
      pos_ = kStart.size();
    } else if (partial_ && proper_prefix(s_, kStart)) {
      return msg_;
    }
    if (o_.json_output) {
      json_mode();
    } else if (o_.tools && o_.tool_choice == ToolChoice::Required) {
      required_mode();
    } else {
      bool tools = o_.tools && o_.tool_choice != ToolChoice::None;
      units(tools);
      if (tools && !held_) calls();
    }
    return msg_;
  }

 private:
  enum class Th { None, Done, Held };

  size_t n() const { return s_.size(); }

  void add_content(std::string_view piece, bool at_end) { msg_.content += sanitize_utf8(piece, partial_ && at_end); }
  void add_reasoning(std::string_view piece, bool at_end) {
    msg_.reasoning_content += sanitize_utf8(piece, partial_ && at_end);
  }

  Th thought() {
    tail_ = Tail::None;
    const size_t begin = pos_;
    size_t p = pos_;
    while (true) {
      std::string_view rest = s_.substr(p);
      if (!starts(s_, p, kChanOpen)) {
        if (partial_ && proper_prefix(rest, kChanOpen)) return Th::Held;
        return Th::None;
      }
      std::string_view after = s_.substr(p + kChanOpen.size());
      if (after.substr(0, kThought.size()) == kThought) break;
      if (partial_ && (after.empty() || proper_prefix(after, kThought))) return Th::Held;
      p += kChanOpen.size();  // a stray <|channel> not followed by "thought": dropped
    }
    size_t q = p + kChanOpen.size() + kThought.size();
    while (q < n() && is_ws(s_[q])) ++q;
    size_t e = s_.find(kChanClose, q);
    if (e != std::string_view::npos) {
      if (o_.extract_reasoning) add_reasoning(s_.substr(q, e - q), false);
      else add_content(s_.substr(begin, e + kChanClose.size() - begin), false);
      pos_ = e + kChanClose.size();
      return Th::Done;
    }
    size_t h = partial_ ? held_suffix(s_.substr(q), {kChanClose}) : 0;
    if (o_.extract_reasoning) add_reasoning(s_.substr(q, n() - h - q), h == 0);
    else add_content(s_.substr(begin, n() - h - begin), h == 0);
    // more plain text would simply extend the reasoning (not while only whitespace was seen:
    // that is still skipped)
    if (h == 0) tail_ = !o_.extract_reasoning ? Tail::Content : (q < n() ? Tail::Reasoning : Tail::None);
    pos_ = n();
    if (partial_) held_ = true;
    return partial_ ? Th::Held : Th::Done;
  }

  void content(bool tools) {
    tail_ = Tail::None;
    size_t e = n();
    for (auto stop : {kChanOpen, kChanClose, kCallOpen}) {
      if (stop == kCallOpen && !tools) continue;
      size_t f = s_.find(stop, pos_);
      if (f < e) e = f;
    }
    if (e == n() && partial_) {
      size_t h = tools ? held_suffix(s_.substr(pos_), {kChanOpen, kChanClose, kCallOpen})
                       : held_suffix(s_.substr(pos_), {kChanOpen, kChanClose});
      add_content(s_.substr(pos_, n() - h - pos_), h == 0);
      pos_ = n() - h;
      if (h) held_ = true;
      else tail_ = Tail::Content;
      return;
    }
    add_content(s_.substr(pos_, e - pos_), false);
    pos_ = e;
  }

  void units(bool tools) {
    while (pos_ < n() && !held_) {
      size_t start = pos_;
      Th th = thought();
      if (th == Th::Held) {
        held_ = true;
        return;
      }
      if (held_) return;
      content(tools);
      if (pos_ == start) break;
    }
  }

  // <|tool_call>call:NAME{...}<tool_call|>; appends the call (partial or whole) when NAME is complete.
  St call() {
    size_t p = pos_ + kCallOpen.size();
    std::string_view rest = s_.substr(p);
    if (!starts(s_, p, kCallKeyword)) return (partial_ && (rest.empty() || proper_prefix(rest, kCallKeyword))) ? St::Partial : St::Fail;
    p += kCallKeyword.size();
    std::string name;
    if (!o_.tool_names.empty()) {
      bool could_grow = false;
      for (const auto& nm : o_.tool_names) {
        std::string with_brace = nm + "{";
        if (starts(s_, p, with_brace)) {
          if (nm.size() > name.size()) name = nm;
        } else if (proper_prefix(s_.substr(p), with_brace) || p == n()) {
          could_grow = true;
        }
      }
      if (name.empty()) return (partial_ && could_grow) ? St::Partial : St::Fail;
      p += name.size();
    } else {
      size_t q = p;
      while (q < n() && s_[q] != '{' && !is_ws(s_[q]) && s_[q] != '<') ++q;
      if (q == n()) return partial_ ? St::Partial : St::Fail;
      if (s_[q] != '{' || q == p) return St::Fail;
      name = std::string(s_.substr(p, q - p));
      p = q;
    }
    ArgParser ap(s_, p);
    St st = ap.dict();
    if (st == St::Fail) return St::Fail;
    ToolCall tc{"", name, ap.out};
    if (st == St::Partial) {
      if (!partial_) return St::Fail;
      msg_.tool_calls.push_back(std::move(tc));
      return St::Partial;
    }
    p = ap.pos;
    if (starts(s_, p, kCallClose)) {
      msg_.tool_calls.push_back(std::move(tc));
      pos_ = p + kCallClose.size();
      return St::Ok;
    }
    if (partial_ && (p == n() || proper_prefix(s_.substr(p), kCallClose))) {
      msg_.tool_calls.push_back(std::move(tc));
      return St::Partial;
    }
    return St::Fail;
  }

  void calls() {
    size_t first = s_.find(kCallOpen, pos_);
    if (first == std::string_view::npos) return;
    pos_ = first;
    size_t count = 0;
    while (starts(s_, pos_, kCallOpen)) {
      if (!o_.parallel_tool_calls && count == 1) break;
      if (call() != St::Ok) break;
      ++count;
      size_t p = pos_;
      while (p < n() && is_ws(s_[p])) ++p;
      if (!starts(s_, p, kCallOpen)) break;
      pos_ = p;
    }
  }

  void required_mode() {
    Th th = thought();
    if (th == Th::Held || held_) return;
    while (pos_ < n() && is_ws(s_[pos_])) ++pos_;
    if (!starts(s_, pos_, kCallOpen)) {
      if (partial_) return;  // cut-off marker, or text the grammar would not have allowed
      format_error();
    }
    calls();
    if (!partial_ && msg_.tool_calls.empty()) format_error();
  }

  void json_mode() {
    Th th = thought();
    if (th == Th::Held || held_) return;
    while (pos_ < n() && is_ws(s_[pos_])) ++pos_;
    if (!starts(s_, pos_, kFenceOpen)) {
      if (partial_) return;  // a cut-off or (impossible under the grammar) missing fence: nothing yet
      format_error();
    }
    size_t b = pos_ + kFenceOpen.size();
    size_t e = s_.find(kFenceClose, b);
    std::string_view body;
    if (e != std::string_view::npos) {
      body = s_.substr(b, e - b);
    } else {
      body = s_.substr(b);
      if (partial_) body = body.substr(0, body.size() - held_suffix(body, {kFenceClose}));
    }
    size_t l = 0, r = body.size();
    while (l < r && is_ws(body[l])) ++l;
    while (r > l && is_ws(body[r - 1])) --r;  // trailing space is held back while partial too
    msg_.content = sanitize_utf8(body.substr(l, r - l), partial_ && e == std::string_view::npos);
  }

  std::string_view s_;
  const ParseOptions& o_;
  bool partial_;
  size_t pos_ = 0;
  bool held_ = false;  // the input ends inside a marker or thought: nothing after it is parsed
  Tail tail_ = Tail::None;
  ChatMessage msg_;
};

// Length of the valid UTF-8 sequence at s[i], 0 if invalid, -k if it is a valid but
// incomplete prefix of k bytes running to the end.
int utf8_seq(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  int len;
  unsigned char lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) len = 2;
  else if (c == 0xe0) len = 3, lo = 0xa0;
  else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) len = 3;
  else if (c == 0xed) len = 3, hi = 0x9f;
  else if (c == 0xf0) len = 4, lo = 0x90;
  else if (c >= 0xf1 && c <= 0xf3) len = 4;
  else if (c == 0xf4) len = 4, hi = 0x8f;
  else return 0;
  for (int k = 1; k < len; ++k) {
    if (i + static_cast<size_t>(k) >= s.size()) return -k;
    unsigned char x = b(static_cast<size_t>(k));
    unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xbf;
    if (x < l || x > h) return 0;
  }
  return len;
}

}  // namespace

std::string sanitize_utf8(std::string_view s, bool hold_incomplete_tail) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    int k = utf8_seq(s, i);
    if (k > 0) {
      out.append(s.substr(i, static_cast<size_t>(k)));
      i += static_cast<size_t>(k);
    } else if (k < 0 && hold_incomplete_tail) {
      break;
    } else {
      out += "\xEF\xBF\xBD";
      i += k < 0 ? static_cast<size_t>(-k) : 1;
    }
  }
  return out;
}

json ChatMessage::to_json() const {
  json m = {{"role", "assistant"}, {"content", content}};
  if (!reasoning_content.empty()) m["reasoning_content"] = reasoning_content;
  if (!tool_calls.empty()) {
    json calls = json::array();
    for (const auto& c : tool_calls)
      calls.push_back({{"id", c.id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    m["tool_calls"] = std::move(calls);
  }
  return m;
}

ChatMessage parse_gemma4_output(std::string_view text, const ParseOptions& opts, bool partial) {
  return OutputParser(text, opts, partial).run();
}

namespace {
ChatMessage parse_with_tail(std::string_view text, const ParseOptions& opts, int& tail) {
  OutputParser p(text, opts, true);
  ChatMessage m = p.run();
  tail = static_cast<int>(p.tail());
  return m;
}
bool incomplete_utf8_tail(std::string_view s) {
  for (size_t back = 1; back <= 3 && back <= s.size(); ++back) {
    size_t i = s.size() - back;
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xc0) == 0x80) continue;  // continuation byte: look further back
    return utf8_seq(s, i) < 0;
  }
  return false;
}
// no '<' (so no marker can start) and complete, valid UTF-8
bool plain_text(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '<') return false;
    int k = utf8_seq(s, i);
    if (k <= 0) return false;
    i += static_cast<size_t>(k);
  }
  return true;
}
}  // namespace

std::vector<json> diff_messages(const ChatMessage& prev, const ChatMessage& cur, bool allow_shrink) {
  std::vector<json> out;
  auto text_delta = [&](const std::string& a, const std::string& b, const char* field) {
    if (b.size() < a.size() || b.compare(0, a.size(), a) != 0) {
      if (allow_shrink) return;
      throw core::Error("internal", std::string("streamed ") + field + " changed retroactively");
    }
    if (b.size() > a.size()) out.push_back({{field, b.substr(a.size())}});
  };
  text_delta(prev.reasoning_content, cur.reasoning_content, "reasoning_content");
  text_delta(prev.content, cur.content, "content");
  if (cur.tool_calls.size() < prev.tool_calls.size()) {
    if (allow_shrink) return out;
    throw core::Error("internal", "the tool-call list shrank while streaming");
  }
  if (!prev.tool_calls.empty()) {
    size_t i = prev.tool_calls.size() - 1;
    const std::string& a = prev.tool_calls[i].arguments;
    const std::string& b = cur.tool_calls[i].arguments;
    if (b.size() > a.size() && b.compare(0, a.size(), a) == 0) {
      out.push_back({{"tool_calls", json::array({{{"index", i}, {"function", {{"arguments", b.substr(a.size())}}}}})}});
    } else if (b != a && !allow_shrink) {
      throw core::Error("internal", "streamed tool-call arguments changed retroactively");
    }
  }
  for (size_t i = prev.tool_calls.size(); i < cur.tool_calls.size(); ++i) {
    const ToolCall& c = cur.tool_calls[i];
    json fn = {{"name", c.name}};
    if (!c.arguments.empty()) fn["arguments"] = c.arguments;
    out.push_back({{"tool_calls", json::array({{{"index", i}, {"id", c.id}, {"type", "function"}, {"function", fn}}})}});
  }
  return out;
}

std::string random_tool_call_id() {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, sizeof(kChars) - 2);
  std::string id(32, ' ');
  for (char& c : id) c = kChars[pick(rng)];
  return id;
}

void assign_tool_call_ids(ChatMessage& msg, std::vector<std::string>& ids, const std::function<std::string()>& make_id) {
  for (size_t i = 0; i < msg.tool_calls.size(); ++i) {
    if (i >= ids.size()) ids.push_back(make_id());
    msg.tool_calls[i].id = ids[i];
  }
}

StreamParser::StreamParser(ParseOptions opts, std::string generation_prompt, std::function<std::string()> make_id)
    : opts_(std::move(opts)), prompt_(std::move(generation_prompt)), make_id_(std::move(make_id)) {
  msg_ = parse_with_tail(prompt_, opts_, tail_);
  assign_tool_call_ids(msg_, ids_, make_id_);
}

namespace {
// cur's calls continue what prev showed: same calls, the last one's arguments extended.
bool calls_extend(const ChatMessage& prev, const ChatMessage& cur) {
  if (cur.tool_calls.size() < prev.tool_calls.size()) return false;
  for (size_t i = 0; i < prev.tool_calls.size(); ++i) {
    const ToolCall& a = prev.tool_calls[i];
    const ToolCall& b = cur.tool_calls[i];
    if (a.name != b.name) return false;
    bool last = i + 1 == prev.tool_calls.size();
    if (last ? b.arguments.compare(0, a.arguments.size(), a.arguments) != 0 : a.arguments != b.arguments) return false;
  }
  return true;
}
}  // namespace

std::vector<json> StreamParser::push(std::string_view piece) {
  if (piece.empty()) return {};
  // Fast path (most tokens): plain text while the parse ends in free content/reasoning
  // only extends that field, so the O(length) re-parse is skipped.
  const Tail tail = static_cast<Tail>(tail_);
  if (tail != Tail::None && plain_text(piece) &&
      !incomplete_utf8_tail(generated_.empty() ? std::string_view(prompt_) : std::string_view(generated_))) {
    generated_.append(piece);
    std::string& field = tail == Tail::Content ? msg_.content : msg_.reasoning_content;
    field.append(piece);
    return {json{{tail == Tail::Content ? "content" : "reasoning_content", std::string(piece)}}};
  }
  generated_.append(piece);
  ChatMessage cur = parse_with_tail(prompt_ + generated_, opts_, tail_);
  assign_tool_call_ids(cur, ids_, make_id_);
  // Output that breaks the call syntax after a call was shown (possible without a grammar):
  // the calls stay as the client saw them; the final parse decides what the message holds.
  if (!calls_extend(msg_, cur)) cur.tool_calls = msg_.tool_calls;
  auto deltas = diff_messages(msg_, cur);
  msg_ = std::move(cur);
  return deltas;
}

std::vector<json> StreamParser::finish() {
  ChatMessage cur = parse_gemma4_output(prompt_ + generated_, opts_, false);
  assign_tool_call_ids(cur, ids_, make_id_);
  auto deltas = diff_messages(msg_, cur, /*allow_shrink=*/true);
  msg_ = std::move(cur);
  return deltas;
}

std::string finish_reason(const ChatMessage& msg, StopKind stop) {
  if (stop == StopKind::Length) return "length";
  return msg.tool_calls.empty() ? "stop" : "tool_calls";
}

}  // namespace fitserve::chat
