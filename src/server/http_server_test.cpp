// server/http_server_test.cpp — the HTTP server in-process with the real engine on stories260K:
// endpoints, auth, limits, errors, streaming, cancellation on disconnect, graceful drain.
#include "server/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "core/testdata.h"
#include "engine/engine.h"

using namespace fitserve;
using namespace fitserve::server;
using json = nlohmann::json;

namespace {

engine::Engine* shared_engine() {
  static std::unique_ptr<engine::Engine> eng = [] {
    engine::EngineOptions o;
    o.model_path = core::test::repo_data("stories260K.gguf");
    o.n_ctx = 512;
    o.n_parallel = 2;
    o.n_threads = 1;
    return engine::Engine::create(o);
  }();
  return eng.get();
}

// A server on a free port, serving from a thread.
struct Live {
  ServerState st;
  HttpServer http;
  std::thread th;
  int port = 0;
  explicit Live(ServerOptions o) : st(std::move(o)), http(st, 16) {
    st.opt.port = 0;
    port = http.bind();
    th = std::thread([this] { http.run(); });
    st.attach(*shared_engine());
  }
  ~Live() {
    http.stop();
    th.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    return c;
  }
};

ServerOptions base_options() {
  ServerOptions o;
  o.sampling.temperature = 0;
  return o;
}

json body_json(const httplib::Result& r) { return json::parse(r->body, nullptr, false); }

void expect_error(const httplib::Result& r, int status, const std::string& type) {
  ASSERT_TRUE(r) << "no response";
  EXPECT_EQ(r->status, status) << r->body;
  json j = body_json(r);
  ASSERT_TRUE(j.is_object()) << r->body;
  ASSERT_TRUE(j.contains("error")) << r->body;
  EXPECT_EQ(j["error"]["type"], type) << r->body;
  EXPECT_EQ(j["error"]["code"], status);
  EXPECT_TRUE(j["error"]["message"].is_string());
}

std::vector<json> sse_events(const std::string& body, bool* saw_done = nullptr) {
  std::vector<json> out;
  std::istringstream in(body);
  std::string line;
  if (saw_done) *saw_done = false;
  while (std::getline(in, line)) {
    if (line.rfind("data: ", 0) != 0) continue;
    std::string data = line.substr(6);
    if (data == "[DONE]") {
      if (saw_done) *saw_done = true;
      continue;
    }
    out.push_back(json::parse(data));
  }
  return out;
}

json chat_req(const std::string& text, int max_tokens) {
  return {{"messages", json::array({{{"role", "user"}, {"content", text}}})}, {"max_tokens", max_tokens},
          {"temperature", 0}};
}

}  // namespace

TEST(ApiKey, ConstantTimeCompare) {
  EXPECT_TRUE(api_key_ok("abc", {"abc"}));
  EXPECT_TRUE(api_key_ok("k2", {"k1", "k2"}));
  EXPECT_FALSE(api_key_ok("abd", {"abc"}));
  EXPECT_FALSE(api_key_ok("ab", {"abc"}));
  EXPECT_FALSE(api_key_ok("abcd", {"abc"}));
  EXPECT_FALSE(api_key_ok("", {"abc"}));
  EXPECT_FALSE(api_key_ok("", {""}));
  EXPECT_EQ(request_api_key("Bearer xyz", ""), "xyz");
  EXPECT_EQ(request_api_key("xyz", ""), "xyz");
  EXPECT_EQ(request_api_key("", "abc"), "abc");
}

TEST(HttpServer, ReadOnlyEndpoints) {
  Live s(base_options());
  auto c = s.client();
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(body_json(h)["status"], "ok");
  EXPECT_NE(h->get_header_value("Content-Type").find("application/json"), std::string::npos);
  auto m = c.Get("/v1/models");
  ASSERT_TRUE(m);
  json mj = body_json(m);
  EXPECT_EQ(mj["data"][0]["id"], "stories260K");
  auto p = c.Get("/props");
  json pj = body_json(p);
  EXPECT_EQ(pj["total_slots"], 2);
  EXPECT_EQ(pj["default_generation_settings"]["n_ctx"], 256);
  EXPECT_NE(pj["model_path"].get<std::string>().find(".gguf"), std::string::npos);
  auto sl = c.Get("/slots");
  json sj = body_json(sl);
  ASSERT_TRUE(sj.is_array());
  EXPECT_EQ(sj.size(), 2u);
  EXPECT_EQ(sj[0]["n_ctx"], 256);
  auto me = c.Get("/metrics");
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200);
  EXPECT_NE(me->body.find("# TYPE llamacpp:prompt_tokens_total counter"), std::string::npos);
  expect_error(c.Get("/nope"), 404, "not_found_error");
  expect_error(c.Post("/props", "{}", "application/json"), 501, "not_supported_error");
}

TEST(HttpServer, DisabledEndpoints) {
  ServerOptions o = base_options();
  o.metrics = false;
  o.slots = false;
  Live s(o);
  auto c = s.client();
  expect_error(c.Get("/metrics"), 501, "not_supported_error");
  expect_error(c.Get("/slots"), 501, "not_supported_error");
}

TEST(HttpServer, ApiKey) {
  ServerOptions o = base_options();
  o.api_keys = {"sk-one", "sk-two"};
  Live s(o);
  auto c = s.client();
  EXPECT_EQ(c.Get("/health")->status, 200);
  for (const char* path : {"/v1/models", "/props", "/slots", "/metrics", "/models"})
    expect_error(c.Get(path), 401, "authentication_error");
  for (const char* path : {"/v1/chat/completions", "/v1/completions", "/completion", "/tokenize", "/detokenize",
                           "/apply-template"})
    expect_error(c.Post(path, "{}", "application/json"), 401, "authentication_error");
  expect_error(c.Get("/v1/models", {{"Authorization", "Bearer sk-wrong"}}), 401, "authentication_error");
  EXPECT_EQ(c.Get("/v1/models", {{"Authorization", "Bearer sk-two"}})->status, 200);
  EXPECT_EQ(c.Get("/v1/models", {{"X-Api-Key", "sk-one"}})->status, 200);
  auto r = c.Post("/v1/chat/completions", {{"Authorization", "Bearer sk-one"}}, chat_req("hi", 2).dump(),
                  "application/json");
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST(HttpServer, InvalidRequests) {
  ServerOptions o = base_options();
  o.max_body_bytes = 4096;
  o.max_json_depth = 16;
  Live s(o);
  auto c = s.client();
  auto post = [&](const char* path, const std::string& b) { return c.Post(path, b, "application/json"); };
  expect_error(post("/v1/chat/completions", "{not json"), 400, "invalid_request_error");
  expect_error(post("/v1/chat/completions", "[]"), 400, "invalid_request_error");
  expect_error(post("/v1/chat/completions", "{}"), 400, "invalid_request_error");
  expect_error(post("/v1/chat/completions", R"({"messages":[]})"), 400, "invalid_request_error");
  expect_error(post("/v1/chat/completions", R"({"messages":[{"role":"bogus","content":"x"}]})"), 400,
               "invalid_request_error");
  expect_error(post("/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"max_tokens":-3})"), 400,
               "invalid_request_error");
  expect_error(post("/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"n":5})"), 400,
               "invalid_request_error");
  expect_error(post("/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"temperature":"x"})"), 400,
               "invalid_request_error");
  expect_error(post("/v1/completions", R"({"prompt":[1,2,99999]})"), 400, "invalid_request_error");
  expect_error(post("/completion", R"({"n_predict":3})"), 400, "invalid_request_error");
  expect_error(post("/detokenize", R"({"tokens":[-1]})"), 400, "invalid_request_error");
  std::string deep = "{\"a\":" + std::string(40, '[') + std::string(40, ']') + "}";
  expect_error(post("/tokenize", deep), 400, "invalid_request_error");
  expect_error(post("/tokenize", std::string(8000, ' ') + "{}"), 413, "invalid_request_error");
  // A prompt longer than a slot's context (256 tokens).
  std::string long_text;
  for (int i = 0; i < 300; ++i) long_text += "Once upon a time ";
  auto r = post("/v1/chat/completions", chat_req(long_text.substr(0, 3000), 4).dump());
  ASSERT_TRUE(r);
  if (r->status == 413) GTEST_SKIP() << "body limit hit first";
  expect_error(r, 400, "exceed_context_size_error");
  json e = body_json(r)["error"];
  EXPECT_GT(e["n_prompt_tokens"].get<int>(), 256);
  EXPECT_EQ(e["n_ctx"], 256);
  // The server still works and no slot leaked.
  auto ok = post("/v1/chat/completions", chat_req("hi", 2).dump());
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(shared_engine()->metrics().requests_processing, 0u);
  EXPECT_EQ(s.st.active.load(), 0);
}

TEST(HttpServer, ChatNonStreamAndStreamAgree) {
  Live s(base_options());
  auto c = s.client();
  json req = chat_req("Tell me a story", 12);
  auto r = c.Post("/v1/chat/completions", req.dump(), "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  json j = body_json(r);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(j["model"], "stories260K");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["completion_tokens"], 12);
  // prompt_tokens equals the tokenized /apply-template prompt (+BOS).
  auto t = c.Post("/apply-template", req.dump(), "application/json");
  std::string prompt = body_json(t)["prompt"];
  auto tk = c.Post("/tokenize", json({{"content", prompt}, {"add_special", true}}).dump(), "application/json");
  EXPECT_EQ(j["usage"]["prompt_tokens"], body_json(tk)["tokens"].size());
  EXPECT_TRUE(j["timings"]["predicted_n"].is_number());
  std::string content = j["choices"][0]["message"]["content"];
  EXPECT_FALSE(content.empty());

  req["stream"] = true;
  req["stream_options"] = {{"include_usage", true}};
  auto sr = c.Post("/v1/chat/completions", req.dump(), "application/json");
  ASSERT_EQ(sr->status, 200);
  EXPECT_NE(sr->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  bool done = false;
  auto ev = sse_events(sr->body, &done);
  EXPECT_TRUE(done);
  ASSERT_GE(ev.size(), 3u);
  EXPECT_EQ(ev[0]["choices"][0]["delta"], json({{"role", "assistant"}, {"content", nullptr}}));
  std::string streamed, id = ev[0]["id"];
  std::string finish;
  for (size_t i = 0; i < ev.size(); ++i) {
    EXPECT_EQ(ev[i]["id"], id);
    if (ev[i]["choices"].empty()) {
      EXPECT_EQ(i, ev.size() - 1);  // usage chunk is last
      EXPECT_EQ(ev[i]["usage"]["completion_tokens"], 12);
      continue;
    }
    const json& d = ev[i]["choices"][0]["delta"];
    if (i > 0) EXPECT_FALSE(d.contains("role"));
    if (d.contains("content") && d["content"].is_string()) {
      EXPECT_FALSE(d["content"].get<std::string>().empty());
      streamed += d["content"].get<std::string>();
    }
    if (!ev[i]["choices"][0]["finish_reason"].is_null()) finish = ev[i]["choices"][0]["finish_reason"];
  }
  EXPECT_EQ(streamed, content);
  EXPECT_EQ(finish, "length");
}

TEST(HttpServer, CompletionsNativeAndTokens) {
  Live s(base_options());
  auto c = s.client();
  auto r = c.Post("/v1/completions", R"({"prompt":"Once upon a time","max_tokens":8,"temperature":0})",
                  "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  json j = body_json(r);
  EXPECT_EQ(j["object"], "text_completion");
  std::string text = j["choices"][0]["text"];
  EXPECT_EQ(j["usage"]["completion_tokens"], 8);
  auto n = c.Post("/completion", R"({"prompt":"Once upon a time","n_predict":8,"temperature":0,"return_tokens":true})",
                  "application/json");
  json nj = body_json(n);
  EXPECT_EQ(nj["content"], text);
  EXPECT_EQ(nj["stop"], true);
  EXPECT_EQ(nj["stop_type"], "limit");
  EXPECT_EQ(nj["tokens"].size(), 8u);
  EXPECT_EQ(nj["tokens_predicted"], 8);
  // Streaming native: chunks then the final object, no [DONE].
  auto ns = c.Post("/completion", R"({"prompt":"Once upon a time","n_predict":8,"temperature":0,"stream":true})",
                   "application/json");
  bool done = true;
  auto ev = sse_events(ns->body, &done);
  EXPECT_FALSE(done);
  std::string streamed;
  for (auto& e : ev) {
    EXPECT_TRUE(e["stop"].is_boolean());
    streamed += e["content"].get<std::string>();
  }
  EXPECT_EQ(streamed, text);
  EXPECT_EQ(ev.back()["stop"], true);
  // Stop strings end the text before the stop word.
  std::string word = text.size() > 4 ? text.substr(text.size() / 2, 2) : "";
  if (!word.empty()) {
    json sreq = {{"prompt", "Once upon a time"}, {"n_predict", 8}, {"temperature", 0}, {"stop", word}};
    json sj = body_json(c.Post("/completion", sreq.dump(), "application/json"));
    EXPECT_EQ(sj["stop_type"], "word");
    EXPECT_EQ(sj["stopping_word"], word);
    EXPECT_EQ(sj["content"], text.substr(0, text.find(word)));
  }
  // tokenize / detokenize round trip, pieces.
  json tk = body_json(c.Post("/tokenize", R"({"content":"Hello world","with_pieces":true})", "application/json"));
  ASSERT_FALSE(tk["tokens"].empty());
  EXPECT_TRUE(tk["tokens"][0].contains("piece"));
  json ids = json::array();
  for (auto& t : tk["tokens"]) ids.push_back(t["id"]);
  json dt = body_json(c.Post("/detokenize", json({{"tokens", ids}}).dump(), "application/json"));
  EXPECT_EQ(dt["content"], "Hello world");
  json with_bos = body_json(c.Post("/tokenize", R"({"content":"Hello","add_special":true})", "application/json"));
  EXPECT_EQ(with_bos["tokens"][0], 1);
}

TEST(HttpServer, NChoicesAndLogprobs) {
  Live s(base_options());
  auto c = s.client();
  json req = chat_req("Hello", 4);
  req["n"] = 2;
  req["logprobs"] = true;
  req["top_logprobs"] = 3;
  auto r = c.Post("/v1/chat/completions", req.dump(), "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  json j = body_json(r);
  ASSERT_EQ(j["choices"].size(), 2u);
  EXPECT_EQ(j["choices"][1]["index"], 1);
  EXPECT_EQ(j["choices"][0]["message"]["content"], j["choices"][1]["message"]["content"]);  // greedy
  const json& lp = j["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(lp.size(), 4u);
  std::string joined;
  for (auto& e : lp) {
    EXPECT_LE(e["logprob"].get<double>(), 0.0);
    EXPECT_EQ(e["top_logprobs"].size(), 3u);
    EXPECT_TRUE(e["bytes"].is_array());
    joined += e["token"].get<std::string>();
  }
  EXPECT_EQ(joined, j["choices"][0]["message"]["content"]);
  EXPECT_EQ(j["usage"]["completion_tokens"], 8);
}

namespace {
// Opens a raw connection, sends a streaming request, reads a little, and hangs up.
void stream_and_hang_up(int port, const std::string& body) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  std::string req = "POST /completion HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  char buf[512];
  size_t got = 0;
  while (got < 600) {  // headers + a few chunks
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
}
}  // namespace

TEST(HttpServer, DisconnectFreesSlot) {
  Live s(base_options());
  auto c = s.client();
  uint64_t before = shared_engine()->metrics().tokens_predicted_total;
  // ignore_eos + a budget far beyond what a hang-up leaves time for: only cancellation ends it early.
  stream_and_hang_up(s.port, R"({"prompt":"Once","n_predict":100000,"ignore_eos":true,"stream":true,"id_slot":0})");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((s.st.active.load() > 0 || shared_engine()->metrics().requests_processing > 0) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(s.st.active.load(), 0) << "request still running after the client hung up";
  EXPECT_EQ(shared_engine()->metrics().requests_processing, 0u);
  // Cancelled before the slot's context (256) filled up.
  uint64_t produced = shared_engine()->metrics().tokens_predicted_total - before;
  EXPECT_LT(produced, 250u);
  // /slots reports every slot idle (no other request runs meanwhile).
  bool idle = false;
  while (!idle && std::chrono::steady_clock::now() < deadline) {
    idle = true;
    for (auto& sl : body_json(c.Get("/slots"))) idle = idle && !sl["is_processing"].get<bool>();
    if (!idle) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(idle) << "/slots still shows a busy slot (the engine must publish slot states when a request is cancelled)";
  // Slot 0 takes a new request at once.
  auto r = c.Post("/completion", R"({"prompt":"Once","n_predict":2,"id_slot":0})", "application/json");
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServer, DrainFinishesStreams) {
  Live s(base_options());
  std::string body;
  std::thread client([&] {
    auto c = s.client();
    auto r = c.Post("/v1/chat/completions",
                    json({{"messages", json::array({{{"role", "user"}, {"content", "Hi"}}})},
                          {"max_tokens", 60}, {"ignore_eos", true}, {"stream", true}})
                        .dump(),
                    "application/json");
    if (r) body = r->body;
  });
  // Wait until the request is running, then drain.
  for (int i = 0; i < 500 && s.st.active.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::thread drain([&] { s.http.drain_and_stop(20000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  client.join();
  drain.join();
  bool done = false;
  auto ev = sse_events(body, &done);
  EXPECT_TRUE(done) << body.substr(0, 400);
  ASSERT_FALSE(ev.empty());
}
