// server/flags.h — command-line flags of `fitserve serve`, compatible with llama-server's common ones.
// Offers: parse_serve_args(args) -> ServeConfig (throws core::Error("usage") with a clear message;
// an unknown flag lists the closest known ones), serve_help() (the --help text), close_flags().
// Both "-c 4096" and "--ctx-size=4096" forms are accepted.
#pragma once
#include <string>
#include <vector>

#include "server/options.h"

namespace fitserve::server {

struct ParsedArgs {
  ServeConfig config;
  bool help = false;
};

ParsedArgs parse_serve_args(const std::vector<std::string>& args);
std::string serve_help();
// Known flag names closest to `unknown` (edit distance or prefix), best first, at most `max`.
std::vector<std::string> close_flags(const std::string& unknown, size_t max = 3);

}  // namespace fitserve::server
