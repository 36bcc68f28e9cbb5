// server/http_server.cpp — cpp-httplib wiring, auth, limits, SSE plumbing, signals (see http_server.h).
#include "server/http_server.h"

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <new>

#include <httplib.h>

#include "core/error.h"
#include "server/handlers.h"
#include "server/params.h"

namespace fitserve::server {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

bool api_key_ok(const std::string& given, const std::vector<std::string>& keys) {
  bool ok = false;
  for (const auto& key : keys) {
    // Walk the longer of the two so the time depends only on the lengths.
    size_t n = std::max(given.size(), key.size());
    unsigned char diff = given.size() == key.size() ? 0 : 1;
    for (size_t i = 0; i < n; ++i) {
      unsigned char a = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
      unsigned char b = i < key.size() ? static_cast<unsigned char>(key[i]) : 0;
      diff |= static_cast<unsigned char>(a ^ b);
    }
    ok |= (diff == 0) & !key.empty();
  }
  return ok;
}

std::string request_api_key(const std::string& authorization, const std::string& x_api_key) {
  if (!authorization.empty()) {
    std::string a = authorization;
    if (a.size() >= 7 && (a.compare(0, 7, "Bearer ") == 0 || a.compare(0, 7, "bearer ") == 0)) a = a.substr(7);
    while (!a.empty() && a.front() == ' ') a.erase(a.begin());
    while (!a.empty() && a.back() == ' ') a.pop_back();
    return a;
  }
  return x_api_key;
}

namespace {

bool is_public_path(const std::string& path) { return path == "/health" || path == "/v1/health"; }

void add_cors(const httplib::Request& req, httplib::Response& res) {
  if (req.has_header("Origin")) {
    res.set_header("Access-Control-Allow-Origin", req.get_header_value("Origin"));
    res.set_header("Access-Control-Allow-Credentials", "true");
  }
}

void set_error(const httplib::Request& req, httplib::Response& res, const HttpError& e) {
  res.status = e.status();
  res.set_content(dump(e.to_json()), "application/json; charset=utf-8");
  add_cors(req, res);
}

HttpError error_for_status(int status) {
  switch (status) {
    case 400: return bad_request("bad request");
    case 401: return unauthorized();
    case 404: return not_found();
    case 405: return HttpError(405, "invalid_request_error", "method not allowed");
    case 413: return HttpError(413, "invalid_request_error", "request body is too large");
    case 414: return HttpError(414, "invalid_request_error", "request URI is too long");
    case 501: return not_supported("not implemented");
    case 503: return unavailable("service unavailable");
    default:
      return HttpError(status, status >= 500 ? "server_error" : "invalid_request_error",
                       "HTTP error " + std::to_string(status));
  }
}

}  // namespace

struct HttpServer::Impl {
  ServerState& st;
  httplib::Server svr;
  int port = 0;
  std::atomic<int> handlers_inflight{0};
  std::atomic<int> streams_open{0};

  Impl(ServerState& s, int n_threads) : st(s) {
    signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the server
    size_t n = static_cast<size_t>(std::max(4, n_threads));
    svr.new_task_queue = [n] { return new httplib::ThreadPool(n); };
    svr.set_payload_max_length(st.opt.max_body_bytes);
    svr.set_read_timeout(st.opt.timeout_s, 0);
    svr.set_write_timeout(st.opt.timeout_s, 0);
    svr.set_keep_alive_timeout(5);
    svr.set_default_headers({{"Server", "llama.cpp"}});
    svr.set_tcp_nodelay(true);

    svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (req.method == "OPTIONS") {
        add_cors(req, res);
        res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
        res.set_header("Access-Control-Allow-Headers", "*");
        if (!req.has_header("Origin")) res.set_header("Access-Control-Allow-Credentials", "false");
        res.status = 200;
        return httplib::Server::HandlerResponse::Handled;
      }
      if (!st.ready.load()) {
        set_error(req, res, HttpError(503, "unavailable_error", "Loading model"));
        return httplib::Server::HandlerResponse::Handled;
      }
      if (!st.opt.api_keys.empty() && !is_public_path(req.path)) {
        std::string key = request_api_key(req.get_header_value("Authorization"), req.get_header_value("X-Api-Key"));
        if (!api_key_ok(key, st.opt.api_keys)) {
          set_error(req, res, unauthorized());
          return httplib::Server::HandlerResponse::Handled;
        }
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty() || res.is_chunked_content_provider_) return httplib::Server::HandlerResponse::Unhandled;
      set_error(req, res, error_for_status(res.status));
      return httplib::Server::HandlerResponse::Handled;
    }));
    svr.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
      set_error(req, res, server_error("internal error"));
    });
    if (st.opt.verbose)
      svr.set_logger([](const httplib::Request& req, const httplib::Response& res) {
        std::fprintf(stderr, "fitserve: %s %s -> %d\n", req.method.c_str(), req.path.c_str(), res.status);
      });

    using R = const httplib::Request&;
    auto get = [this](const char* path, std::function<Reply(R)> fn) {
      svr.Get(path, [this, fn](R req, httplib::Response& res) { dispatch(req, res, fn); });
    };
    auto post = [this](const char* path, std::function<Reply(ServerState&, const json&)> fn) {
      svr.Post(path, [this, fn](R req, httplib::Response& res) {
        dispatch(req, res, [this, fn](R rq) { return fn(st, parse_json_body(rq.body, st.opt.max_json_depth)); });
      });
    };
    get("/health", [this](R) { return handle_health(st); });
    get("/v1/health", [this](R) { return handle_health(st); });
    get("/models", [this](R) { return handle_models(st); });
    get("/v1/models", [this](R) { return handle_models(st); });
    get("/props", [this](R) { return handle_props(st); });
    get("/slots", [this](R req) {
      std::string f = req.get_param_value("fail_on_no_slot");
      return handle_slots(st, !f.empty() && f != "0" && f != "false");
    });
    get("/metrics", [this](R) { return handle_metrics(st); });
    svr.Post("/props", [this](R req, httplib::Response& res) {
      set_error(req, res, not_supported("This server does not support changing global properties."));
    });
    post("/tokenize", handle_tokenize);
    post("/detokenize", handle_detokenize);
    post("/apply-template", handle_apply_template);
    post("/v1/chat/completions", handle_chat_completions);
    post("/chat/completions", handle_chat_completions);
    post("/v1/completions", handle_completions);
    post("/completion", handle_native_completion);
    post("/completions", handle_native_completion);
  }

  void dispatch(const httplib::Request& req, httplib::Response& res,
                const std::function<Reply(const httplib::Request&)>& fn) {
    struct Count {
      std::atomic<int>& c;
      explicit Count(std::atomic<int>& x) : c(x) { c.fetch_add(1); }
      ~Count() { c.fetch_sub(1); }
    } count(handlers_inflight);
    add_cors(req, res);
    try {
      Reply r = fn(req);
      res.status = r.status;
      if (r.stream) {
        start_stream(res, std::shared_ptr<StreamSource>(std::move(r.stream)));
      } else {
        res.set_content(r.body, r.content_type);
      }
    } catch (const HttpError& e) {
      set_error(req, res, e);
    } catch (const core::Error& e) {
      set_error(req, res, from_core_error(e));
    } catch (const json::exception& e) {
      set_error(req, res, bad_request(std::string("invalid request: ") + e.what()));
    } catch (const std::bad_alloc&) {
      set_error(req, res, server_error("out of memory"));
    } catch (const std::exception& e) {
      set_error(req, res, server_error(e.what()));
    }
  }

  void start_stream(httplib::Response& res, std::shared_ptr<StreamSource> src) {
    streams_open.fetch_add(1);
    auto last_write = std::make_shared<Clock::time_point>(Clock::now());
    res.set_chunked_content_provider(
        "text/event-stream",
        [src, last_write](size_t, httplib::DataSink& sink) {
          std::string out;
          bool more;
          try {
            more = src->next(out, std::chrono::milliseconds(500));
          } catch (const HttpError& e) {
            out += sse_data(e.to_json());
            more = false;
          } catch (const std::exception& e) {
            out += sse_data(server_error(e.what()).to_json());
            more = false;
          }
          if (!out.empty()) {
            if (!sink.write(out.data(), out.size())) return false;  // client gone: cancel
            *last_write = Clock::now();
          } else if (int ping = src->ping_interval_s();
                     ping > 0 && Clock::now() - *last_write > std::chrono::seconds(ping)) {
            if (!sink.write(":\n\n", 3)) return false;
            *last_write = Clock::now();
          }
          if (!more) sink.done();
          return true;
        },
        [this, src](bool) mutable {
          src.reset();  // cancels unfinished engine work, freeing the slots
          streams_open.fetch_sub(1);
        });
  }
};

HttpServer::HttpServer(ServerState& st, int n_threads) : impl_(std::make_unique<Impl>(st, n_threads)) {}
HttpServer::~HttpServer() = default;

int HttpServer::bind() {
  auto& s = impl_->svr;
  if (impl_->st.opt.port == 0) {
    int p = s.bind_to_any_port(impl_->st.opt.host);
    if (p <= 0) throw core::Error("io", "cannot listen on " + impl_->st.opt.host, "check --host");
    impl_->port = p;
  } else {
    if (!s.bind_to_port(impl_->st.opt.host, impl_->st.opt.port))
      throw core::Error("io", "cannot listen on " + impl_->st.opt.host + ":" + std::to_string(impl_->st.opt.port),
                        "is the port already in use? pick another with --port");
    impl_->port = impl_->st.opt.port;
  }
  return impl_->port;
}

void HttpServer::run() { impl_->svr.listen_after_bind(); }

void HttpServer::drain_and_stop(int timeout_ms) {
  impl_->st.draining.store(true);
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline &&
         (impl_->st.active.load() > 0 || impl_->streams_open.load() > 0 || impl_->handlers_inflight.load() > 0))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop();
}

void HttpServer::stop() { impl_->svr.stop(); }

// ---- signals ----

namespace {
constexpr int kWakeSignal = SIGUSR2;
sigset_t shutdown_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, kWakeSignal);
  return set;
}
}  // namespace

void block_shutdown_signals() {
  sigset_t set = shutdown_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

SignalWatcher::SignalWatcher(std::function<void(int)> on_signal, std::function<void(int)> on_force) {
  thread_ = std::thread([this, on_signal = std::move(on_signal), on_force = std::move(on_force)] {
    sigset_t set = shutdown_set();
    int count = 0;
    while (!stop_.load()) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == kWakeSignal) continue;  // stop_ is checked by the loop
      if (count++ == 0) {
        // Drain on another thread so that a second signal can still force the exit.
        drain_ = std::thread([on_signal, sig] { on_signal(sig); });
      } else if (on_force) {
        on_force(sig);
      }
    }
  });
}

SignalWatcher::~SignalWatcher() {
  stop_.store(true);
  if (thread_.joinable()) {
    pthread_kill(thread_.native_handle(), kWakeSignal);
    thread_.join();
  }
  if (drain_.joinable()) drain_.join();
}

}  // namespace fitserve::server
