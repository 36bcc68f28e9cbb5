// cli/args.h — a small flag parser for the subcommands (llama.cpp-style flag names).
// Offers: Args(argc, argv, spec) where spec lists each flag with its aliases and whether it takes
// a value; get/has/get_int/get_float/positional(); unknown flags throw core::Error naming the
// closest known flags ("did you mean --temp?"); malformed numbers throw naming the flag.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fitserve::cli {

struct FlagSpec {
  std::vector<std::string> names;  // e.g. {"-c", "--ctx-size"}; the first is canonical
  bool takes_value = true;
  std::string help;
};

class Args {
 public:
  Args(int argc, char** argv, const std::vector<FlagSpec>& spec, const std::string& command);
  bool has(const std::string& canonical) const { return values_.count(canonical) > 0; }
  std::string get(const std::string& canonical, const std::string& dflt = "") const;
  int64_t get_int(const std::string& canonical, int64_t dflt) const;
  double get_float(const std::string& canonical, double dflt) const;
  const std::vector<std::string>& positional() const { return pos_; }
  bool help() const { return help_; }
  std::string usage() const;

 private:
  std::string command_;
  std::vector<FlagSpec> spec_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> pos_;
  bool help_ = false;
};

// Parses "20G", "512M", "1.5GiB", "123456" into bytes (decimal G/M/K, binary GiB/MiB/KiB).
uint64_t parse_bytes(const std::string& s);

}  // namespace fitserve::cli
