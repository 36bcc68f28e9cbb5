// chat/jinja_strings.h — small string helpers shared by the engine's filters and methods.
// Offers: ASCII case mapping, Python-style strip/split/replace/title/capitalize.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace fitserve::chat::jinja::str {

inline constexpr std::string_view kWhitespace = " \t\n\r\v\f";

inline std::string upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}
inline std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}
inline std::string lstrip(std::string_view s, std::string_view chars = kWhitespace) {
  size_t b = s.find_first_not_of(chars);
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b));
}
inline std::string rstrip(std::string_view s, std::string_view chars = kWhitespace) {
  size_t e = s.find_last_not_of(chars);
  return e == std::string_view::npos ? std::string() : std::string(s.substr(0, e + 1));
}
inline std::string strip(std::string_view s, std::string_view chars = kWhitespace) {
  return rstrip(lstrip(s, chars), chars);
}
// Python str.split(): sep empty means "runs of whitespace, empty parts dropped".
inline std::vector<std::string> split(std::string_view s, std::string_view sep, long long maxsplit = -1) {
  std::vector<std::string> out;
  if (sep.empty()) {
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && kWhitespace.find(s[i]) != std::string_view::npos) ++i;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && static_cast<long long>(out.size()) >= maxsplit) {
        out.push_back(rstrip(s.substr(i)));
        break;
      }
      size_t j = i;
      while (j < s.size() && kWhitespace.find(s[j]) == std::string_view::npos) ++j;
      out.emplace_back(s.substr(i, j - i));
      i = j;
    }
    return out;
  }
  size_t start = 0;
  while (true) {
    if (maxsplit >= 0 && static_cast<long long>(out.size()) >= maxsplit) break;
    size_t p = s.find(sep, start);
    if (p == std::string_view::npos) break;
    out.emplace_back(s.substr(start, p - start));
    start = p + sep.size();
  }
  out.emplace_back(s.substr(start));
  return out;
}
inline size_t count(std::string_view s, std::string_view sub) {
  if (sub.empty()) return s.size() + 1;
  size_t n = 0;
  for (size_t p = s.find(sub); p != std::string_view::npos; p = s.find(sub, p + sub.size())) ++n;
  return n;
}
// Replaces up to `limit` occurrences (limit < 0: all). The caller checks the result size first
// with replaced_size().
inline std::string replace(std::string_view s, std::string_view from, std::string_view to, long long limit = -1) {
  std::string out;
  if (from.empty()) {  // Python inserts `to` between characters (bytes here) and at both ends
    long long n = 0;
    for (size_t i = 0; i <= s.size(); ++i) {
      if (limit < 0 || n < limit) {
        out += to;
        ++n;
      }
      if (i < s.size()) out += s[i];
    }
    return out;
  }
  size_t start = 0;
  long long n = 0;
  while (limit < 0 || n < limit) {
    size_t p = s.find(from, start);
    if (p == std::string_view::npos) break;
    out.append(s.substr(start, p - start));
    out.append(to);
    start = p + from.size();
    ++n;
  }
  out.append(s.substr(start));
  return out;
}
inline size_t replaced_size(std::string_view s, std::string_view from, std::string_view to) {
  size_t n = count(s, from);
  return s.size() + n * to.size();
}
inline std::string capitalize(std::string_view s) {
  std::string out = lower(std::string(s));
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}
inline std::string title(std::string_view s) {
  std::string out(s);
  bool start = true;
  for (char& c : out) {
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (alpha) {
      if (start && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (!start && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      start = false;
    } else {
      start = true;  // Python str.title(): any uncased character starts a new word
    }
  }
  return out;
}

}  // namespace fitserve::chat::jinja::str
