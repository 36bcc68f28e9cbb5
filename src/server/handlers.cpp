// server/handlers.cpp — read-only and token endpoints (see handlers.h); generating endpoints
// are in generate.cpp.
#include "server/handlers.h"

#include <chrono>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace fitserve::server {

using json = nlohmann::json;

void ServerState::attach(engine::Engine& eng) {
  engine = &eng;
  const auto& info = eng.info();
  if (start_unix == 0)
    start_unix = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch()).count();
  card = make_model_card(opt.aliases, opt.tags, info.path, start_unix);
  chat = std::make_unique<ChatBridge>(info, opt.chat_template);
  {
    std::lock_guard<std::mutex> lock(slots_mu);
    slot_params.assign(static_cast<size_t>(std::max(1, info.n_parallel)), json());
  }
  ready.store(true);
}

Reply handle_health(ServerState& st) { return Reply::json_body({{"status", "ok"}}); }

Reply handle_models(ServerState& st) { return Reply::json_body(models_json(st.card, st.engine->info())); }

json generation_settings(const GenOptions& g) {
  const auto& s = g.req.sampling;
  json stop = json::array();
  for (const auto& w : g.req.stop) stop.push_back(w);
  return {{"n_predict", g.req.n_predict},
          {"seed", s.seed},
          {"temperature", s.temperature},
          {"top_k", s.top_k},
          {"top_p", s.top_p},
          {"min_p", s.min_p},
          {"repeat_penalty", s.repeat_penalty},
          {"repeat_last_n", s.repeat_last_n},
          {"presence_penalty", s.presence_penalty},
          {"frequency_penalty", s.frequency_penalty},
          {"typical_p", 1.0},
          {"mirostat", 0},
          {"stop", stop},
          {"n_probs", g.req.n_probs},
          {"ignore_eos", g.req.ignore_eos},
          {"logit_bias", json::array()},
          {"cache_prompt", g.req.cache_prompt},
          {"id_slot", g.req.slot_id},
          {"stream", g.stream},
          {"timings_per_token", g.timings_per_token},
          {"samplers", json::array({"penalties", "top_k", "top_p", "min_p", "temperature"})}};
}

Reply handle_props(ServerState& st) {
  const auto& info = st.engine->info();
  GenOptions defaults = parse_gen_options(json::object(), Api::Native, st.opt, st.n_slots());
  json j;
  j["default_generation_settings"] = {{"params", generation_settings(defaults)}, {"n_ctx", info.n_ctx_slot}};
  j["total_slots"] = info.n_parallel;
  j["model_alias"] = st.card.id;
  j["model_path"] = info.path;
  j["modalities"] = {{"vision", false}, {"video", false}, {"audio", false}};
  j["media_marker"] = "";
  j["endpoint_slots"] = st.opt.slots;
  j["endpoint_props"] = false;
  j["endpoint_metrics"] = st.opt.metrics;
  j["ui"] = false;
  j["ui_settings"] = json::object();
  j["chat_template"] = st.chat ? st.chat->template_source() : info.chat_template;
  j["chat_template_caps"] = json::object();
  j["bos_token"] = info.bos_text;
  j["eos_token"] = info.eos_text;
  j["build_info"] = "b1-fitserve";
  j["is_sleeping"] = false;
  j["cors_proxy_enabled"] = false;
  return Reply::json_body(j);
}

Reply handle_slots(ServerState& st, bool fail_on_no_slot) {
  if (!st.opt.slots) throw not_supported("This server does not support slots endpoint. Start it without --no-slots");
  auto slots = st.engine->slots();
  int32_t n_ctx_slot = st.engine->info().n_ctx_slot;
  bool any_idle = false;
  json arr = json::array();
  std::lock_guard<std::mutex> lock(st.slots_mu);
  for (const auto& s : slots) {
    any_idle = any_idle || !s.busy;
    json params;
    if (s.id >= 0 && static_cast<size_t>(s.id) < st.slot_params.size()) params = st.slot_params[s.id];
    arr.push_back(slot_json(s, n_ctx_slot, params));
  }
  if (fail_on_no_slot && !any_idle) throw unavailable("no slot available");
  return Reply::json_body(arr);
}

Reply handle_metrics(ServerState& st) {
  if (!st.opt.metrics) throw not_supported("This server does not support metrics endpoint. Start it without --no-metrics");
  Reply r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = st.metrics.render(st.engine->metrics());
  return r;
}

std::vector<int32_t> tokenize_prompt(const engine::Engine& eng, const Prompt& p, bool add_special) {
  const auto& tok = eng.tokenizer();
  int32_t n_vocab = tok.n_vocab();
  std::vector<int32_t> out;
  for (size_t i = 0; i < p.size(); ++i) {
    const auto& piece = p[i];
    if (piece.is_text) {
      tok.tokenize_into(piece.text, add_special && i == 0, /*parse_special=*/true, out);
    } else {
      if (piece.token < 0 || piece.token >= n_vocab)
        throw bad_request("token id " + std::to_string(piece.token) + " is out of the vocabulary [0, " +
                          std::to_string(n_vocab) + ")");
      out.push_back(piece.token);
    }
  }
  return out;
}

void check_context(const engine::Engine& eng, size_t n_prompt) {
  int32_t n_ctx = eng.info().n_ctx_slot;
  if (n_prompt == 0) throw bad_request("the prompt is empty");
  if (static_cast<int64_t>(n_prompt) >= n_ctx)
    throw HttpError(400, "exceed_context_size_error",
                    "the request exceeds the available context size, try increasing it",
                    {{"n_prompt_tokens", n_prompt}, {"n_ctx", n_ctx}});
}

Reply handle_tokenize(ServerState& st, const json& body) {
  TokenizeParams p = parse_tokenize(body);
  const auto& tok = st.engine->tokenizer();
  std::vector<int32_t> ids;
  int32_t n_vocab = tok.n_vocab();
  for (size_t i = 0; i < p.content.size(); ++i) {
    const auto& piece = p.content[i];
    if (piece.is_text) {
      tok.tokenize_into(piece.text, p.add_special && i == 0, p.parse_special, ids);
    } else {
      if (piece.token < 0 || piece.token >= n_vocab) throw bad_request("token id out of the vocabulary");
      ids.push_back(piece.token);
    }
  }
  json tokens = json::array();
  for (int32_t id : ids) {
    if (!p.with_pieces) {
      tokens.push_back(id);
      continue;
    }
    std::string piece = tok.token_to_piece(id, true);
    json pj = tokenizer::is_valid_utf8(piece) ? json(piece) : bytes_json(piece);
    tokens.push_back({{"id", id}, {"piece", pj}});
  }
  return Reply::json_body({{"tokens", tokens}});
}

Reply handle_detokenize(ServerState& st, const json& body) {
  const auto& tok = st.engine->tokenizer();
  auto ids = parse_token_ids(body, "tokens", tok.n_vocab());
  return Reply::json_body({{"content", tok.detokenize(ids, true)}});
}

Reply handle_apply_template(ServerState& st, const json& body) {
  ChatParams cp = parse_chat_params(body, st.opt);
  RenderedChat r = st.chat->render(cp);
  return Reply::json_body({{"prompt", r.prompt}});
}

}  // namespace fitserve::server
