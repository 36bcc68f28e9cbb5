// cli/main.cpp — `fitserve <command> ...`: dispatch to the registered subcommands.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli/command.h"
#include "core/error.h"

namespace fitserve::cli {
std::map<std::string, Command>& commands() {
  static std::map<std::string, Command> m;
  return m;
}
}  // namespace fitserve::cli

static void usage() {
  std::fprintf(stderr, "usage: fitserve <command> [options]\n\ncommands:\n");
  for (auto& [name, c] : fitserve::cli::commands())
    std::fprintf(stderr, "  %-12s %s\n", name.c_str(), c.summary.c_str());
  std::fprintf(stderr, "\nRun `fitserve <command> --help` for a command's options.\n");
}

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage();
    return argc < 2 ? 1 : 0;
  }
  auto& cmds = fitserve::cli::commands();
  auto it = cmds.find(argv[1]);
  if (it == cmds.end()) {
    std::fprintf(stderr, "error: unknown command '%s'\n", argv[1]);
    usage();
    return 1;
  }
  try {
    return it->second.fn(argc - 1, argv + 1);
  } catch (const fitserve::core::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
