// plan/nginx_fixture.h — test-only: a private nginx on 127.0.0.1 serving chosen files (with HTTP
// Range support; /norange/ serves the same files with ranges disabled), for the header-over-HTTP
// tests. Offers test::Nginx: start(files) -> false (with why()) when nginx is missing or does not
// come up; url(name); stop() (also on destruction). No daemon; config, pid and logs in a temp dir.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "plan/test_util.h"

extern char** environ;

namespace fitserve::plan::test {

class Nginx {
 public:
  ~Nginx() { stop(); }

  static std::string binary() {
    for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"})
      if (core::test::exists(p)) return p;
    return "";
  }

  // files: absolute paths; each is served as /<basename> (symlinked into the web root).
  bool start(const std::vector<std::string>& files) {
    bin_ = binary();
    if (bin_.empty()) return fail("nginx not installed (looked in /usr/sbin, /usr/bin, /usr/local/sbin)");
    dir_ = temp_dir();
    std::string www = dir_ + "/www";
    ::mkdir(www.c_str(), 0755);
    for (const auto& f : files) {
      std::string name = f.substr(f.find_last_of('/') + 1);
      if (::symlink(f.c_str(), (www + "/" + name).c_str()) != 0) return fail("cannot symlink " + f);
    }
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = free_port();
      if (port_ <= 0) return fail("no free port");
      write_config(www);
      std::string conf = dir_ + "/nginx.conf", err = dir_ + "/error.log";
      std::vector<std::string> args = {bin_, "-p", dir_ + "/", "-e", err, "-c", conf};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      if (::posix_spawn(&pid_, bin_.c_str(), nullptr, nullptr, argv.data(), environ) != 0) return fail("posix_spawn failed");
      if (wait_listening()) return true;
      stop();
    }
    return fail("nginx did not start; see " + dir_ + "/error.log");
  }

  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st = 0;
      for (int i = 0; i < 100; ++i) {
        if (::waitpid(pid_, &st, WNOHANG) == pid_) {
          pid_ = -1;
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
      pid_ = -1;
    }
  }

  std::string url(const std::string& name, bool ranges = true) const {
    return "http://127.0.0.1:" + std::to_string(port_) + (ranges ? "/" : "/norange/") + name;
  }
  int port() const { return port_; }
  const std::string& why() const { return why_; }

  static int free_port() {
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    int port = -1;
    if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port = ntohs(a.sin_port);
    ::close(s);
    return port;
  }

 private:
  bool fail(const std::string& w) {
    why_ = w;
    return false;
  }

  void write_config(const std::string& www) {
    std::ofstream c(dir_ + "/nginx.conf");
    c << "daemon off;\nmaster_process off;\nworker_processes 1;\n"
      << "pid " << dir_ << "/nginx.pid;\nerror_log " << dir_ << "/error.log warn;\n"
      << "events { worker_connections 64; }\n"
      << "http {\n  access_log " << dir_ << "/access.log;\n"
      << "  client_body_temp_path " << dir_ << "/t_body;\n  proxy_temp_path " << dir_ << "/t_proxy;\n"
      << "  fastcgi_temp_path " << dir_ << "/t_fcgi;\n  uwsgi_temp_path " << dir_ << "/t_uwsgi;\n"
      << "  scgi_temp_path " << dir_ << "/t_scgi;\n  default_type application/octet-stream;\n"
      << "  server {\n    listen 127.0.0.1:" << port_ << ";\n    root " << www << ";\n"
      << "    location /norange/ { alias " << www << "/; max_ranges 0; }\n  }\n}\n";
  }

  bool wait_listening() {
    for (int i = 0; i < 250; ++i) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return false;  // exited (port taken, bad config)
      }
      int s = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(port_));
      bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      ::close(s);
      if (ok) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::string bin_, dir_, why_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace fitserve::plan::test
