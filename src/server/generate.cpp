// server/generate.cpp — the generating endpoints: /v1/chat/completions, /v1/completions and the
// native /completion (see handlers.h). Streams are built in streams.cpp.
#include "server/handlers.h"
#include "server/jobs.h"
#include "server/streams.h"
#include "tokenizer/tokenizer.h"

namespace fitserve::server {

using json = nlohmann::json;

namespace {

void refuse_if_draining(ServerState& st) {
  if (st.draining.load()) throw unavailable("the server is shutting down");
}

// One engine request per (prompt, choice): prompt-major, `g.n` choices each. With an explicit
// seed, choice k uses seed + k so that the n answers differ but stay reproducible.
std::vector<engine::Request> make_requests(const GenOptions& g, const std::vector<std::vector<int32_t>>& prompts) {
  std::vector<engine::Request> reqs;
  for (const auto& p : prompts)
    for (int k = 0; k < g.n; ++k) {
      engine::Request r = g.req;
      r.prompt = p;
      if (k > 0 && g.seed_given) r.sampling.seed = (r.sampling.seed + static_cast<uint64_t>(k)) & 0xFFFFFFFFu;
      reqs.push_back(std::move(r));
    }
  return reqs;
}

std::unique_ptr<JobGroup> start_jobs(ServerState& st, const GenOptions& g,
                                     const std::vector<std::vector<int32_t>>& prompts) {
  try {
    return JobGroup::start(*st.engine, make_requests(g, prompts), &st.active);
  } catch (const core::Error& e) {
    throw from_core_error(e);
  }
}

void throw_if_failed(const std::vector<engine::Result>& results) {
  for (const auto& r : results)
    if (auto err = result_error(r)) throw *err;
}

Reply sse_reply(std::unique_ptr<StreamSource> s) {
  Reply r;
  r.content_type = "text/event-stream";
  r.stream = std::move(s);
  return r;
}

}  // namespace

Reply handle_chat_completions(ServerState& st, const json& body) {
  refuse_if_draining(st);
  ChatParams cp = parse_chat_params(body, st.opt);
  GenOptions g = parse_gen_options(body, Api::Chat, st.opt, st.n_slots());
  if (g.logprobs && g.stream && !cp.tools.empty())
    throw bad_request("logprobs are not supported with tools when streaming");
  RenderedChat rc = st.chat->render(cp);
  for (const auto& s : rc.additional_stops) g.req.stop.push_back(s);
  std::vector<std::vector<int32_t>> prompts{st.engine->tokenizer().tokenize(rc.prompt, true, true)};
  check_context(*st.engine, prompts[0].size());
  auto group = start_jobs(st, g, prompts);
  std::string id = "chatcmpl-" + random_id(32);
  if (g.stream) return sse_reply(make_chat_stream(st, std::move(group), std::move(cp), std::move(rc), g, id));

  std::vector<std::vector<engine::TokenEvent>> events;
  auto results = group->wait_all(g.logprobs ? &events : nullptr);
  throw_if_failed(results);
  PieceFn piece = piece_fn(*st.engine);
  json choices = json::array();
  int32_t n_completion = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    record_result(st, g, r);
    ChatMsg msg = st.chat->parse(rc, cp, r.text);
    json choice = {{"index", i}, {"finish_reason", finish_reason(r, !msg.tool_calls.empty())},
                   {"message", message_json(msg)}};
    if (g.logprobs) {
      json lp = json::array();
      for (const auto& ev : events[i]) lp.push_back(logprob_entry(ev, piece, g.top_logprobs));
      choice["logprobs"] = {{"content", lp}};
    }
    choices.push_back(std::move(choice));
    n_completion += static_cast<int32_t>(r.tokens.size());
  }
  const auto& r0 = results.front();
  return Reply::json_body(chat_completion(id, st.card, std::move(choices),
                                          usage_json(r0.n_prompt, n_completion, r0.timings.cache_n),
                                          timings_json(results.back().timings)));
}

Reply handle_completions(ServerState& st, const json& body) {
  refuse_if_draining(st);
  GenOptions g = parse_gen_options(body, Api::OaiCompletion, st.opt, st.n_slots());
  auto it = body.find("prompt");
  if (it == body.end()) throw bad_request("'prompt' is required");
  auto parsed = parse_prompts(*it, /*allow_batch=*/true);
  if (parsed.size() * static_cast<size_t>(g.n) > 256) throw bad_request("too many completions in one request");
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& p : parsed) {
    prompts.push_back(tokenize_prompt(*st.engine, p, true));
    check_context(*st.engine, prompts.back().size());
  }
  auto group = start_jobs(st, g, prompts);
  std::string id = "cmpl-" + random_id(32);
  if (g.stream) return sse_reply(make_completion_stream(st, std::move(group), g, id));

  std::vector<std::vector<engine::TokenEvent>> events;
  auto results = group->wait_all(g.logprobs ? &events : nullptr);
  throw_if_failed(results);
  PieceFn piece = piece_fn(*st.engine);
  json choices = json::array();
  int32_t n_prompt = 0, n_completion = 0, cached = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    record_result(st, g, r);
    json lp = nullptr;
    if (g.logprobs) {
      lp = {{"content", json::array()}};
      for (const auto& ev : events[i]) lp["content"].push_back(logprob_entry(ev, piece, g.top_logprobs));
    }
    choices.push_back({{"text", r.text}, {"index", i}, {"logprobs", lp}, {"finish_reason", finish_reason(r, false)}});
    if (i % static_cast<size_t>(g.n) == 0) {
      n_prompt += r.n_prompt;
      cached += r.timings.cache_n;
    }
    n_completion += static_cast<int32_t>(r.tokens.size());
  }
  return Reply::json_body(text_completion(id, st.card, std::move(choices), usage_json(n_prompt, n_completion, cached),
                                          timings_json(results.back().timings)));
}

Reply handle_native_completion(ServerState& st, const json& body) {
  refuse_if_draining(st);
  GenOptions g = parse_gen_options(body, Api::Native, st.opt, st.n_slots());
  auto it = body.find("prompt");
  if (it == body.end()) throw bad_request("'prompt' is required");
  auto parsed = parse_prompts(*it, /*allow_batch=*/true);
  if (parsed.size() * static_cast<size_t>(g.n) > 256) throw bad_request("too many completions in one request");
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& p : parsed) {
    prompts.push_back(tokenize_prompt(*st.engine, p, true));
    check_context(*st.engine, prompts.back().size());
  }
  auto group = start_jobs(st, g, prompts);
  if (g.stream) return sse_reply(make_native_stream(st, std::move(group), g, std::move(prompts)));

  std::vector<std::vector<engine::TokenEvent>> events;
  auto results = group->wait_all(g.logprobs ? &events : nullptr);
  throw_if_failed(results);
  PieceFn piece = piece_fn(*st.engine);
  json out = json::array();
  for (size_t i = 0; i < results.size(); ++i) {
    record_result(st, g, results[i]);
    json probs;
    if (g.logprobs) {
      probs = json::array();
      for (const auto& ev : events[i]) probs.push_back(logprob_entry(ev, piece, g.top_logprobs));
    }
    out.push_back(native_result_json(st, g, results[i], prompts[i / static_cast<size_t>(g.n)], static_cast<int>(i),
                                     results[i].text, probs));
  }
  if (out.size() == 1) return Reply::json_body(out[0]);
  return Reply::json_body(out);
}

}  // namespace fitserve::server
