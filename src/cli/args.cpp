#include "cli/args.h"

#include <algorithm>
#include <cmath>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "core/text.h"

namespace fitserve::cli {


Args::Args(int argc, char** argv, const std::vector<FlagSpec>& spec, const std::string& command)
    : command_(command), spec_(spec) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      help_ = true;
      continue;
    }
    if (a.size() > 1 && a[0] == '-' && !(a.size() > 1 && (std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.'))) {
      std::string name = a, inline_val;
      bool has_inline = false;
      if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
        name = a.substr(0, eq);
        inline_val = a.substr(eq + 1);
        has_inline = true;
      }
      const FlagSpec* f = nullptr;
      for (auto& s : spec_)
        for (auto& n : s.names)
          if (n == name) f = &s;
      if (!f) {
        std::vector<std::pair<size_t, std::string>> close;
        for (auto& s : spec_)
          for (auto& n : s.names) close.emplace_back(core::edit_distance(name, n), n);
        std::sort(close.begin(), close.end());
        std::string hint;
        for (size_t k = 0; k < close.size() && k < 3 && close[k].first <= std::max<size_t>(3, name.size() / 2); ++k)
          hint += (hint.empty() ? "did you mean " : " or ") + close[k].second;
        throw core::Error("usage", command_ + ": unknown option '" + name + "'",
                          hint.empty() ? "see `fitserve " + command_ + " --help`" : hint + "?");
      }
      std::string val = "1";
      if (f->takes_value) {
        if (has_inline) val = inline_val;
        else if (i + 1 < argc) val = argv[++i];
        else throw core::Error("usage", command_ + ": option " + name + " needs a value");
      }
      values_[f->names[0]] = val;
    } else {
      pos_.push_back(a);
    }
  }
}

std::string Args::get(const std::string& c, const std::string& dflt) const {
  auto it = values_.find(c);
  return it == values_.end() ? dflt : it->second;
}

int64_t Args::get_int(const std::string& c, int64_t dflt) const {
  auto it = values_.find(c);
  if (it == values_.end()) return dflt;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end || errno)
    throw core::Error("usage", command_ + ": " + c + " expects an integer, got '" + it->second + "'");
  return v;
}

double Args::get_float(const std::string& c, double dflt) const {
  auto it = values_.find(c);
  if (it == values_.end()) return dflt;
  char* end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end || !std::isfinite(v))
    throw core::Error("usage", command_ + ": " + c + " expects a number, got '" + it->second + "'");
  return v;
}

std::string Args::usage() const {
  std::string u;
  for (auto& s : spec_) {
    std::string names;
    for (auto& n : s.names) names += (names.empty() ? "" : ", ") + n;
    if (s.takes_value) names += " V";
    char buf[512];
    std::snprintf(buf, sizeof buf, "  %-28s %s\n", names.c_str(), s.help.c_str());
    u += buf;
  }
  return u;
}

uint64_t parse_bytes(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end == s.c_str() || !(v >= 0) || !std::isfinite(v)) throw core::Error("usage", "bad size '" + s + "'", "use e.g. 20G, 512M, 20GiB");
  std::string u(end);
  for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  double m = 1;
  if (u == "" || u == "B") m = 1;
  else if (u == "K" || u == "KB") m = 1e3;
  else if (u == "M" || u == "MB") m = 1e6;
  else if (u == "G" || u == "GB") m = 1e9;
  else if (u == "T" || u == "TB") m = 1e12;
  else if (u == "KIB") m = 1024.0;
  else if (u == "MIB") m = 1024.0 * 1024;
  else if (u == "GIB") m = 1024.0 * 1024 * 1024;
  else if (u == "TIB") m = 1024.0 * 1024 * 1024 * 1024;
  else throw core::Error("usage", "bad size unit in '" + s + "'", "use K, M, G, T (decimal) or KiB, MiB, GiB, TiB");
  return static_cast<uint64_t>(v * m);
}

}  // namespace fitserve::cli
