// server/streams.cpp — SSE stream sources (see streams.h).
#include "server/streams.h"

#include "server/handlers.h"
#include "tokenizer/tokenizer.h"

namespace fitserve::server {

using json = nlohmann::json;

void record_result(ServerState& st, const GenOptions& g, const engine::Result& r) {
  st.metrics.record(r);
  std::lock_guard<std::mutex> lock(st.slots_mu);
  if (r.slot_id >= 0 && static_cast<size_t>(r.slot_id) < st.slot_params.size())
    st.slot_params[r.slot_id] = generation_settings(g);
}

std::unique_ptr<HttpError> result_error(const engine::Result& r) {
  if (r.finish_reason == "error")
    return std::make_unique<HttpError>(500, "server_error", r.error.empty() ? "generation failed" : r.error);
  if (r.finish_reason == "cancelled")
    return std::make_unique<HttpError>(503, "unavailable_error", "the request was cancelled (server shutting down)");
  return nullptr;
}

PieceFn piece_fn(const engine::Engine& eng) {
  const auto* tok = &eng.tokenizer();
  return [tok](int32_t id) { return tok->token_to_piece(id, false); };
}

namespace {

// Pulls items of a JobGroup and lets a subclass turn them into SSE bytes.
class GenStream : public StreamSource {
 public:
  GenStream(ServerState& st, std::unique_ptr<JobGroup> group, const GenOptions& g)
      : st_(st), group_(std::move(group)), g_(g), done_(group_->size(), false) {}

  bool next(std::string& out, std::chrono::milliseconds wait) override {
    if (finished_) return false;
    if (!started_) {
      started_ = true;
      on_start(out);
      if (!out.empty()) return true;
    }
    items_.clear();
    if (!group_->wait(items_, wait)) return true;
    for (auto& it : items_) {
      if (it.index < 0 || static_cast<size_t>(it.index) >= done_.size() || done_[it.index]) continue;
      if (it.done) {
        done_[it.index] = true;
        ++n_done_;
        if (auto err = result_error(it.result)) {
          out += sse_data(err->to_json());
          finished_ = true;
          return false;
        }
        record_result(st_, g_, it.result);
        try {
          on_done(it.index, it.result, n_done_ == done_.size(), out);
        } catch (const HttpError& e) {
          out += sse_data(e.to_json());
          finished_ = true;
          return false;
        }
      } else {
        on_token(it.index, it.event, out);
      }
    }
    if (n_done_ == done_.size()) {
      on_all_done(out);
      finished_ = true;
      return false;
    }
    return true;
  }
  int ping_interval_s() const override { return g_.sse_ping_s; }

 protected:
  virtual void on_start(std::string& out) {}
  virtual void on_token(int index, const engine::TokenEvent& ev, std::string& out) = 0;
  virtual void on_done(int index, const engine::Result& r, bool last, std::string& out) = 0;
  virtual void on_all_done(std::string& out) {}

  ServerState& st_;
  std::unique_ptr<JobGroup> group_;
  GenOptions g_;
  std::vector<bool> done_;
  size_t n_done_ = 0;
  bool started_ = false, finished_ = false;
  std::vector<JobItem> items_;
};

class ChatStream final : public GenStream {
 public:
  ChatStream(ServerState& st, std::unique_ptr<JobGroup> group, ChatParams cp, RenderedChat rc, GenOptions g,
             std::string id)
      : GenStream(st, std::move(group), g), id_(std::move(id)), piece_(piece_fn(*st.engine)) {
    for (size_t i = 0; i < done_.size(); ++i) choices_.push_back({st.chat->stream(rc, cp), json::array()});
  }

 private:
  struct Choice {
    std::unique_ptr<ChatStreamParser> parser;
    json pending_lp;  // log-probs of tokens whose text has not shown up in a delta yet
  };

  void on_start(std::string& out) override {
    for (size_t i = 0; i < choices_.size(); ++i)
      out += sse_data(chat_chunk(id_, st_.card, static_cast<int>(i), {{"role", "assistant"}, {"content", nullptr}},
                                 nullptr));
  }

  void emit(int index, Choice& c, std::vector<json> deltas, std::string& out) {
    for (size_t k = 0; k < deltas.size(); ++k) {
      json chunk = chat_chunk(id_, st_.card, index, std::move(deltas[k]), nullptr);
      if (k + 1 == deltas.size() && !c.pending_lp.empty()) {
        chunk["choices"][0]["logprobs"] = {{"content", c.pending_lp}};
        c.pending_lp = json::array();
      }
      out += sse_data(chunk);
    }
  }

  void on_token(int index, const engine::TokenEvent& ev, std::string& out) override {
    Choice& c = choices_[index];
    if (g_.logprobs) c.pending_lp.push_back(logprob_entry(ev, piece_, g_.top_logprobs));
    if (ev.text.empty()) return;
    emit(index, c, c.parser->push(ev.text), out);
  }

  void on_done(int index, const engine::Result& r, bool last, std::string& out) override {
    Choice& c = choices_[index];
    emit(index, c, c.parser->finish(r.text), out);
    ChatMsg msg = c.parser->message();
    json chunk = chat_chunk(id_, st_.card, index, json::object(), finish_reason(r, !msg.tool_calls.empty()));
    if (!c.pending_lp.empty()) chunk["choices"][0]["logprobs"] = {{"content", c.pending_lp}};
    if (last) chunk["timings"] = timings_json(r.timings);
    out += sse_data(chunk);
    n_prompt_ = r.n_prompt;
    cached_ = r.timings.cache_n;
    n_completion_ += static_cast<int32_t>(r.tokens.size());
    last_timings_ = r.timings;
  }

  void on_all_done(std::string& out) override {
    if (g_.include_usage) {
      json u = {{"id", id_}, {"object", "chat.completion.chunk"}, {"created", unix_now()},
                {"model", st_.card.id}, {"system_fingerprint", st_.card.fingerprint}, {"choices", json::array()},
                {"usage", usage_json(n_prompt_, n_completion_, cached_)}, {"timings", timings_json(last_timings_)}};
      out += sse_data(u);
    }
    out += "data: [DONE]\n\n";
  }

  std::string id_;
  PieceFn piece_;
  std::vector<Choice> choices_;
  int32_t n_prompt_ = 0, cached_ = 0, n_completion_ = 0;
  engine::Timings last_timings_;
};

class CompletionStream final : public GenStream {
 public:
  CompletionStream(ServerState& st, std::unique_ptr<JobGroup> group, GenOptions g, std::string id)
      : GenStream(st, std::move(group), g), id_(std::move(id)), piece_(piece_fn(*st.engine)) {}

 private:
  void on_token(int index, const engine::TokenEvent& ev, std::string& out) override {
    json lp = nullptr;
    if (g_.logprobs) lp = {{"content", json::array({logprob_entry(ev, piece_, g_.top_logprobs)})}};
    if (ev.text.empty() && lp.is_null()) return;
    json choice = {{"text", ev.text}, {"index", index}, {"logprobs", lp}, {"finish_reason", nullptr}};
    out += sse_data(text_completion(id_, st_.card, json::array({choice}), nullptr, nullptr));
  }

  void on_done(int index, const engine::Result& r, bool last, std::string& out) override {
    // Prompts repeat for each of the n choices; count each prompt once.
    if (index % g_.n == 0) {
      n_prompt_ += r.n_prompt;
      cached_ += r.timings.cache_n;
    }
    n_completion_ += static_cast<int32_t>(r.tokens.size());
    json choice = {{"text", ""}, {"index", index}, {"logprobs", nullptr}, {"finish_reason", finish_reason(r, false)}};
    json usage = last ? usage_json(n_prompt_, n_completion_, cached_) : json();
    json timings = last ? timings_json(r.timings) : json();
    out += sse_data(text_completion(id_, st_.card, json::array({choice}), usage, timings));
  }

  void on_all_done(std::string& out) override { out += "data: [DONE]\n\n"; }

  std::string id_;
  PieceFn piece_;
  int32_t n_prompt_ = 0, cached_ = 0, n_completion_ = 0;
};

class NativeStream final : public GenStream {
 public:
  NativeStream(ServerState& st, std::unique_ptr<JobGroup> group, GenOptions g, std::vector<std::vector<int32_t>> prompts)
      : GenStream(st, std::move(group), g), prompts_(std::move(prompts)), piece_(piece_fn(*st.engine)),
        predicted_(done_.size(), 0) {}

 private:
  void on_token(int index, const engine::TokenEvent& ev, std::string& out) override {
    ++predicted_[index];
    if (ev.text.empty() && !g_.return_tokens && !g_.logprobs) return;
    json c = {{"index", index}, {"content", ev.text},
              {"tokens", g_.return_tokens ? json::array({ev.token}) : json::array()},
              {"stop", false}, {"id_slot", -1}, {"tokens_predicted", predicted_[index]},
              {"tokens_evaluated", prompts_[static_cast<size_t>(index) / g_.n].size()}};
    if (g_.logprobs)
      c["completion_probabilities"] = json::array({logprob_entry(ev, piece_, g_.top_logprobs)});
    out += sse_data(c);
  }

  void on_done(int index, const engine::Result& r, bool last, std::string& out) override {
    out += sse_data(native_result_json(st_, g_, r, prompts_[static_cast<size_t>(index) / g_.n], index, "", json()));
  }

  std::vector<std::vector<int32_t>> prompts_;
  PieceFn piece_;
  std::vector<int32_t> predicted_;
};

}  // namespace

json native_result_json(ServerState& st, const GenOptions& g, const engine::Result& r,
                        const std::vector<int32_t>& prompt, int index, const std::string& content,
                        const json& probs) {
  int32_t predicted = static_cast<int32_t>(r.tokens.size());
  bool truncated = r.finish_reason == "length" && (g.req.n_predict < 0 || predicted < g.req.n_predict);
  json j = {{"index", index},
            {"content", content},
            {"tokens", g.return_tokens ? json(r.tokens) : json::array()},
            {"id_slot", r.slot_id},
            {"stop", true},
            {"model", st.card.id},
            {"tokens_predicted", predicted},
            {"tokens_evaluated", r.n_prompt},
            {"generation_settings", generation_settings(g)},
            {"prompt", st.engine->tokenizer().detokenize(prompt, true)},
            {"has_new_line", content.find('\n') != std::string::npos},
            {"truncated", truncated},
            {"stop_type", stop_type(r)},
            {"stopping_word", r.stop_word},
            {"tokens_cached", r.n_prompt + predicted},
            {"timings", timings_json(r.timings)}};
  if (!probs.is_null()) j["completion_probabilities"] = probs;
  return j;
}

std::unique_ptr<StreamSource> make_chat_stream(ServerState& st, std::unique_ptr<JobGroup> group, ChatParams cp,
                                               RenderedChat rc, GenOptions g, std::string id) {
  return std::make_unique<ChatStream>(st, std::move(group), std::move(cp), std::move(rc), std::move(g), std::move(id));
}

std::unique_ptr<StreamSource> make_completion_stream(ServerState& st, std::unique_ptr<JobGroup> group, GenOptions g,
                                                     std::string id) {
  return std::make_unique<CompletionStream>(st, std::move(group), std::move(g), std::move(id));
}

std::unique_ptr<StreamSource> make_native_stream(ServerState& st, std::unique_ptr<JobGroup> group, GenOptions g,
                                                 std::vector<std::vector<int32_t>> prompts) {
  return std::make_unique<NativeStream>(st, std::move(group), std::move(g), std::move(prompts));
}

}  // namespace fitserve::server
