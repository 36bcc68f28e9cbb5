// tokenizer/cases.cpp — reading the .inp/.out test-vector format.
#include "tokenizer/cases.h"

#include <charconv>

#include "core/error.h"

namespace fitserve::tokenizer {

std::vector<std::string> split_cases(std::string_view inp) {
  static constexpr std::string_view kSep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  // A file that ends with the separator (with or without its final newline) has no empty
  // case after it.
  bool trailing = false;
  if (inp.size() >= kSep.size() && inp.substr(inp.size() - kSep.size()) == kSep) {
    inp.remove_suffix(kSep.size());
    trailing = true;
  } else if (inp.size() >= kSep.size() - 1 && inp.substr(inp.size() - (kSep.size() - 1)) == kSep.substr(0, kSep.size() - 1)) {
    inp.remove_suffix(kSep.size() - 1);
    trailing = true;
  }
  if (inp.empty() && !trailing) return out;
  size_t pos = 0;
  while (true) {
    const size_t p = inp.find(kSep, pos);
    if (p == std::string_view::npos) {
      out.emplace_back(inp.substr(pos));
      break;
    }
    out.emplace_back(inp.substr(pos, p - pos));
    pos = p + kSep.size();
  }
  return out;
}

std::vector<int32_t> parse_ids(std::string_view line) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < line.size()) {
    const char c = line[i];
    if (c == ' ' || c == '\t' || c == ',' || c == '\r' || c == '\n') {
      ++i;
      continue;
    }
    int32_t v = 0;
    const auto [ptr, ec] = std::from_chars(line.data() + i, line.data() + line.size(), v);
    if (ec != std::errc() || ptr == line.data() + i)
      throw core::Error("tokenizer", "not a token id list: '" + std::string(line.substr(0, 80)) + "'",
                        "give space-separated integers, e.g. \"2 9259 1902\"");
    ids.push_back(v);
    i = static_cast<size_t>(ptr - line.data());
  }
  return ids;
}

}  // namespace fitserve::tokenizer
