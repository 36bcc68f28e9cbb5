// cli/test_exec.h — for CLI tests: run the real `fitserve` binary (FITSERVE_BIN) with a shell
// argument string and capture its exit status, stdout and stderr. Header-only, tests only.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/text.h"

namespace fitserve::cli::test {

struct CmdResult {
  int rc = -1;
  bool signaled = false;  // died from a signal (or exit > 128): never acceptable
  std::string out, err;
};

inline CmdResult run_fitserve(const std::string& args) {
  static int n = 0;
  std::string base = ::testing::TempDir() + "fs_cmd_" + std::to_string(::getpid()) + "_" + std::to_string(n++);
  std::string cmd = std::string(FITSERVE_BIN) + " " + args + " >" + base + ".out 2>" + base + ".err </dev/null";
  int st = std::system(cmd.c_str());
  CmdResult r;
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.signaled = !WIFEXITED(st) || WEXITSTATUS(st) > 128;
  r.out = core::read_file(base + ".out");
  r.err = core::read_file(base + ".err");
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  return r;
}

}  // namespace fitserve::cli::test
