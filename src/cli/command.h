// cli/command.h — subcommand registry of the `fitserve` binary.
// Offers: FITSERVE_COMMAND(name, summary, fn) registers `int fn(int argc, char** argv)`
// (argv[0] is the subcommand name). main.cpp dispatches and turns core::Error into
// "error: <message>" on stderr with exit status 1. Each subcommand lives in cmd_<name>.cpp.
#pragma once
#include <functional>
#include <map>
#include <string>

namespace fitserve::cli {

using CommandFn = int (*)(int argc, char** argv);
struct Command {
  std::string summary;
  CommandFn fn;
};
std::map<std::string, Command>& commands();

struct Registrar {
  Registrar(const char* name, const char* summary, CommandFn fn) { commands()[name] = {summary, fn}; }
};

}  // namespace fitserve::cli

#define FITSERVE_COMMAND(name, summary, fn) \
  static ::fitserve::cli::Registrar fitserve_cmd_registrar_##fn(name, summary, fn)
