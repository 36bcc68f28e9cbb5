// engine/engine.cpp — Engine implementation: model set loading, slots and the scheduler loop.
#include "engine/engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/thread_pool.h"
#include "engine/runner.h"
#include "engine/speculative.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "plan/compat.h"
#include "plan/headers.h"
#include "tokenizer/tokenizer.h"

namespace fitserve::engine {

Result Engine::generate(Request req, std::function<bool(const TokenEvent&)> on_token) {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Result out;
  submit(std::move(req), std::move(on_token), [&](const Result& r) {
    std::lock_guard<std::mutex> lk(mu);
    out = r;
    done = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lk(mu);
  cv.wait(lk, [&] { return done; });
  return out;
}

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

struct Pending {
  RequestId id;
  Request req;
  std::function<bool(const TokenEvent&)> on_token;
  std::function<void(const Result&)> on_done;
};

struct Slot {
  int32_t id = 0;
  bool busy = false;
  Pending task;
  std::vector<int32_t> cache_tokens;  // tokens whose K/V are in the cache for this slot (positions 0..)
  size_t n_prompt_done = 0;           // prompt tokens already in the cache for the current task
  bool generating = false;
  int32_t next_token = -1;            // sampled, not yet fed
  std::unique_ptr<sampling::Sampler> sampler;
  std::unique_ptr<tokenizer::StreamDecoder> decoder;
  std::string text;                   // generated text so far (all emitted + held)
  size_t emitted = 0;                 // bytes of `text` already sent to on_token
  std::vector<int32_t> generated;
  Timings timings;
  Clock::time_point t_start, t_prompt_done;
  bool cancelled = false;
  int32_t out_row = -1;               // row in this step's logits (the first of its rows)
  // Speculative decoding (§7–§8): this step's drafts (verified after id_last in the same batch)
  // and the target's post-norm hidden of the last decoded row (the drafter's h at pos0).
  std::vector<int32_t> drafts;
  std::vector<float> pending_h;
};

class EngineImpl final : public Engine {
 public:
  explicit EngineImpl(const EngineOptions& opt) : opt_(opt) {
    file_ = std::make_shared<gguf::File>(gguf::File::open(opt.model_path));
    // The memory plan from the headers comes first: companion checks, -c auto, --mem-cap.
    fit_ = plan_for(opt, file_);
    pool_ = std::make_unique<core::ThreadPool>(opt.n_threads);
    model::LoadOptions lo;
    lo.n_threads = pool_->size();
    model_ = model::load_model(*file_, lo);
    if (opt.make_drafter) {
      drafter_ = opt.make_drafter(*model_);
    } else if (!opt.draft_path.empty()) {
      drafter_ = std::make_unique<Drafter>(opt.draft_path, *model_, opt.model_path);
    }
    if (drafter_) check_spec_params(opt.spec);
    auto tm = file_->get_string("tokenizer.ggml.model");
    if (!tm || *tm == "none")
      throw core::Error("model", opt.model_path + ": the model has no tokenizer (tokenizer.ggml.model is " + (tm ? "'none'" : "missing") + ")",
                        "text generation needs a GGUF with its vocabulary; use `fitserve logits --tokens` for token-level runs");
    tok_ = std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::from_gguf(*file_));
    const auto& mi = model_->info();
    if (opt.n_parallel < 1 || opt.n_parallel > 256)
      throw core::Error("usage", "--parallel must be between 1 and 256");
    if (fit_.plan.settings.n_ctx > INT32_MAX) throw core::Error("usage", "context size too large");
    int32_t n_ctx = static_cast<int32_t>(fit_.plan.settings.n_ctx);
    if (n_ctx < 8) throw core::Error("usage", "context size " + std::to_string(n_ctx) + " is too small");
    n_ctx_slot_ = n_ctx / opt.n_parallel;
    if (n_ctx_slot_ < 8) throw core::Error("usage", "context per slot too small: raise -c or lower --parallel");
    n_ubatch_ = std::max(1, std::min(opt.n_ubatch, opt.n_batch));
    auto tk = parse_kv_type(opt.type_k, "-ctk"), tv = parse_kv_type(opt.type_v, "-ctv");
    cache_ = std::make_unique<kv::KvCache>(model_->kv_config(n_ctx_slot_, opt.n_parallel, tk, tv, n_ubatch_));
    slots_.resize(static_cast<size_t>(opt.n_parallel));
    for (int i = 0; i < opt.n_parallel; ++i) slots_[i].id = i;
    // Output rows per slot and step: one, or id_last + up to n_max drafts.
    const size_t rows = static_cast<size_t>(opt.n_parallel) * (drafter_ ? 1 + static_cast<size_t>(opt.spec.n_max) : 1);
    logits_.resize(rows * static_cast<size_t>(mi.n_vocab));
    if (drafter_) hidden_.resize(rows * static_cast<size_t>(mi.n_embd));

    info_.path = opt.model_path;
    info_.name = mi.name;
    info_.architecture = mi.architecture;
    info_.n_vocab = mi.n_vocab;
    info_.n_embd = mi.n_embd;
    info_.n_ctx_train = mi.n_ctx_train;
    info_.n_ctx = n_ctx_slot_ * opt.n_parallel;
    info_.n_ctx_slot = n_ctx_slot_;
    info_.n_parallel = opt.n_parallel;
    info_.n_params = mi.n_params;
    info_.size_bytes = mi.n_bytes;
    info_.chat_template = file_->get_string("tokenizer.chat_template").value_or("");
    if (tok_->bos() >= 0) info_.bos_text = tok_->token_to_piece(tok_->bos(), true);
    if (tok_->eos() >= 0) info_.eos_text = tok_->token_to_piece(tok_->eos(), true);
    publish_slots();  // /slots is complete from the first request on
    thread_ = std::thread([this] { loop(); });
  }

  ~EngineImpl() override { shutdown(0); }

  static plan::FitResult plan_for(const EngineOptions& opt, const std::shared_ptr<gguf::File>& file) {
    plan::ModelHeaders th = plan::read_headers(file, opt.model_path);
    std::optional<plan::ModelHeaders> mh, dh;
    if (!opt.mmproj_path.empty()) mh = plan::open_headers(opt.mmproj_path);
    if (!opt.draft_path.empty()) dh = plan::open_headers(opt.draft_path);
    plan::RunSettings rs;
    if (opt.n_ctx < 0) throw core::Error("usage", "context size must be >= 0 (0 = auto)");
    rs.n_ctx = opt.n_ctx;
    rs.n_seq = opt.n_parallel;
    rs.n_draft = opt.spec.n_max;  // output rows per slot with a drafter: 1 + n_max
    rs.n_batch = opt.n_batch;
    rs.n_ubatch = std::min(opt.n_ubatch, opt.n_batch);
    rs.type_k = parse_kv_type(opt.type_k, "-ctk");
    rs.type_v = parse_kv_type(opt.type_v, "-ctv");
    if (opt.n_ctx > 0) {
      // An explicit -c is used as given (per slot: n_ctx / n_parallel); the plan still checks the fit.
      rs.n_ctx = opt.n_ctx;
    }
    return plan::check_and_fit(plan::ModelSet{&th, mh ? &*mh : nullptr, dh ? &*dh : nullptr}, rs, opt.mem_cap);
  }

  RequestId submit(Request req, std::function<bool(const TokenEvent&)> on_token,
                   std::function<void(const Result&)> on_done) override {
    if (req.prompt.empty()) throw core::Error("request", "the prompt is empty", "send at least one token");
    for (int32_t t : req.prompt)
      if (t < 0 || t >= info_.n_vocab)
        throw core::Error("request", "token id " + std::to_string(t) + " is out of the vocabulary (0.." +
                                         std::to_string(info_.n_vocab - 1) + ")");
    if (static_cast<int64_t>(req.prompt.size()) >= n_ctx_slot_)
      throw core::Error("request",
                        "the request exceeds the available context size: prompt has " + std::to_string(req.prompt.size()) +
                            " tokens, the context of a slot is " + std::to_string(n_ctx_slot_),
                        "shorten the prompt or start the server with a larger -c / fewer --parallel slots");
    if (req.slot_id >= static_cast<int32_t>(slots_.size()))
      throw core::Error("request", "id_slot " + std::to_string(req.slot_id) + " does not exist");
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_) throw core::Error("unavailable", "the server is shutting down");
    RequestId id = ++next_id_;
    queue_.push_back(Pending{id, std::move(req), std::move(on_token), std::move(on_done)});
    metrics_.requests_total++;
    cv_.notify_all();
    return id;
  }

  void cancel(RequestId id) override {
    std::lock_guard<std::mutex> lk(mu_);
    cancelled_.push_back(id);
    cv_.notify_all();
  }

  const tokenizer::Tokenizer& tokenizer() const override { return *tok_; }
  const ModelInfo& info() const override { return info_; }

  std::vector<SlotState> slots() const override {
    std::lock_guard<std::mutex> lk(mu_);
    return slot_states_;
  }
  Metrics metrics() const override {
    std::lock_guard<std::mutex> lk(mu_);
    Metrics m = metrics_;
    m.requests_deferred = queue_.size();
    return m;
  }

  void shutdown(int timeout_ms) override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (!thread_.joinable()) return;
      stopping_ = true;
      drain_deadline_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
      cv_.notify_all();
    }
    thread_.join();
  }

 private:
  // ---------------- scheduler ----------------
  void loop() {
    publish_slots();
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stopping_ || !queue_.empty() || !cancelled_.empty() || any_busy(); });
        if (stopping_ && (Clock::now() >= drain_deadline_)) {
          for (auto& p : queue_) cancelled_.push_back(p.id);
        }
        apply_cancellations_locked();
        assign_slots_locked();
        if (stopping_ && !any_busy() && queue_.empty()) break;
      }
      finish_cancelled();
      if (!any_busy()) {
        publish_slots();
        continue;
      }
      try {
        step();
      } catch (const std::exception& e) {
        // A failed forward pass ends every running request with an error, never the process.
        for (auto& s : slots_)
          if (s.busy) finish(s, "error", e.what());
      }
      publish_slots();
    }
    // Anything left (cancelled during drain) gets its callback.
    for (auto& s : slots_)
      if (s.busy) finish(s, "cancelled");
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& p : queue_) {
      Result r;
      r.finish_reason = "cancelled";
      if (p.on_done) p.on_done(r);
    }
    queue_.clear();
  }

  bool any_busy() const {
    for (auto& s : slots_)
      if (s.busy) return true;
    return false;
  }

  void apply_cancellations_locked() {
    for (RequestId id : cancelled_) {
      for (auto& s : slots_)
        if (s.busy && s.task.id == id) s.cancelled = true;
      for (auto it = queue_.begin(); it != queue_.end(); ++it)
        if (it->id == id) {
          Result r;
          r.finish_reason = "cancelled";
          done_later_.push_back({std::move(it->on_done), r});
          queue_.erase(it);
          break;
        }
    }
    cancelled_.clear();
  }

  void finish_cancelled() {
    for (auto& [cb, r] : done_later_)
      if (cb) cb(r);
    done_later_.clear();
    for (auto& s : slots_)
      if (s.busy && s.cancelled) finish(s, "cancelled");
  }

  void assign_slots_locked() {
    for (auto it = queue_.begin(); it != queue_.end();) {
      Slot* best = nullptr;
      size_t best_common = 0;
      const auto& prompt = it->req.prompt;
      for (auto& s : slots_) {
        if (s.busy) continue;
        if (it->req.slot_id >= 0 && s.id != it->req.slot_id) continue;
        size_t c = 0;
        while (c < s.cache_tokens.size() && c < prompt.size() && s.cache_tokens[c] == prompt[c]) ++c;
        if (!best || c > best_common) {
          best = &s;
          best_common = c;
        }
      }
      if (!best) {
        ++it;
        continue;
      }
      start_task(*best, std::move(*it), best_common);
      it = queue_.erase(it);
    }
  }

  void start_task(Slot& s, Pending&& p, size_t n_common) {
    s.busy = true;
    s.cancelled = false;
    s.task = std::move(p);
    const auto& prompt = s.task.req.prompt;
    if (!s.task.req.cache_prompt) n_common = 0;
    // Always evaluate at least the last prompt token to get its logits.
    if (n_common >= prompt.size()) n_common = prompt.size() - 1;
    // A sliding-window ring may already have evicted what a query at n_common needs.
    if (n_common > 0 && cache_->min_query_pos(s.id) > static_cast<int32_t>(n_common)) n_common = 0;
    cache_->remove(s.id, static_cast<int32_t>(n_common), -1);
    s.cache_tokens.resize(n_common);
    s.n_prompt_done = n_common;
    s.generating = false;
    s.next_token = -1;
    s.sampler = std::make_unique<sampling::Sampler>(s.task.req.sampling, info_.n_vocab);
    for (size_t i = 0; i < prompt.size(); ++i) s.sampler->accept(prompt[i]);
    s.decoder = std::make_unique<tokenizer::StreamDecoder>(*tok_, false);
    s.text.clear();
    s.emitted = 0;
    s.generated.clear();
    s.timings = Timings{};
    s.timings.cache_n = static_cast<int32_t>(n_common);
    s.t_start = Clock::now();
    metrics_.requests_processing++;
  }

  // Speculative decoding: drafts for every generating slot that will be in this step's batch
  // (§8.1: n_draft_max = n_ctx_slot − n_past − 2, at most the remaining n_predict − 1, and what
  // the batch budget leaves), one assistant step per draft position across slots.
  void draft_all(int32_t budget) {
    jobs_.clear();
    std::vector<Slot*> owners;
    for (auto& s : slots_) {
      s.drafts.clear();
      if (!s.busy || !s.generating || budget <= 0) continue;
      const int32_t pos0 = static_cast<int32_t>(s.cache_tokens.size());
      int64_t n = std::min<int64_t>(opt_.spec.n_max, int64_t(n_ctx_slot_) - pos0 - 2);
      if (s.task.req.n_predict >= 0)
        n = std::min<int64_t>(n, int64_t(s.task.req.n_predict) - int64_t(s.generated.size()) - 1);
      n = std::max<int64_t>(0, std::min<int64_t>(n, budget - 1));
      budget -= 1 + static_cast<int32_t>(n);
      if (n == 0 || s.pending_h.size() != static_cast<size_t>(info_.n_embd)) continue;
      DraftJob j;
      j.seq = s.id;
      j.id_last = s.next_token;
      j.pos0 = pos0;
      j.n_max = static_cast<int32_t>(n);
      j.h = s.pending_h.data();
      jobs_.push_back(std::move(j));
      owners.push_back(&s);
    }
    if (jobs_.empty()) return;
    drafter_->draft(jobs_, opt_.spec, *cache_, *pool_, info_.n_vocab, info_.n_embd);
    for (size_t i = 0; i < jobs_.size(); ++i) owners[i]->drafts.swap(jobs_[i].drafts);
  }

  // One forward batch: every generating slot contributes its next token (and its drafts),
  // prompt slots fill the rest.
  void step() {
    model::Batch& b = batch_;
    b.clear();
    int32_t budget = n_ubatch_;
    auto t0 = Clock::now();
    if (drafter_) draft_all(budget);
    for (auto& s : slots_) {
      s.out_row = -1;
      if (!s.busy || !s.generating || budget <= 0) continue;
      const int32_t pos0 = static_cast<int32_t>(s.cache_tokens.size());
      b.add(s.next_token, pos0, s.id, true);
      s.cache_tokens.push_back(s.next_token);
      s.out_row = static_cast<int32_t>(b.n_outputs()) - 1;
      --budget;
      for (size_t i = 0; i < s.drafts.size(); ++i) b.add(s.drafts[i], pos0 + 1 + static_cast<int32_t>(i), s.id, true);
      budget -= static_cast<int32_t>(s.drafts.size());
    }
    for (auto& s : slots_) {
      if (!s.busy || s.generating || budget <= 0) continue;
      const auto& prompt = s.task.req.prompt;
      while (budget > 0 && s.n_prompt_done < prompt.size()) {
        bool last = s.n_prompt_done + 1 == prompt.size();
        b.add(prompt[s.n_prompt_done], static_cast<int32_t>(s.n_prompt_done), s.id, last);
        s.cache_tokens.push_back(prompt[s.n_prompt_done]);
        if (last) s.out_row = static_cast<int32_t>(b.n_outputs()) - 1;
        ++s.n_prompt_done;
        --budget;
      }
    }
    if (b.size() == 0) return;
    model_->forward(b, *cache_, *pool_, logits_.data(), drafter_ ? hidden_.data() : nullptr);
    double dt = ms_since(t0);
    int32_t n_gen = 0, n_prompt = 0;
    for (size_t i = 0; i < b.size(); ++i) (b.output[i] ? n_gen : n_prompt)++;
    {
      std::lock_guard<std::mutex> lk(mu_);
      metrics_.n_decode_total++;
      int busy = 0;
      for (auto& s : slots_) busy += s.busy;
      metrics_.n_busy_slots_per_decode_sum += static_cast<uint64_t>(busy);
    }
    // Attribute time: prompt slots get prompt time, generating slots generation time.
    for (auto& s : slots_) {
      if (!s.busy) continue;
      if (s.generating) {
        if (s.out_row >= 0) {
          s.timings.predicted_ms += dt;
        }
      } else {
        s.timings.prompt_ms += dt;
      }
    }
    for (auto& s : slots_) {
      if (!s.busy || s.out_row < 0) continue;
      if (!s.generating) {
        s.generating = true;
        s.timings.prompt_n = static_cast<int32_t>(s.task.req.prompt.size()) - s.timings.cache_n;
        s.t_prompt_done = Clock::now();
        std::lock_guard<std::mutex> lk(mu_);
        metrics_.prompt_tokens_total += static_cast<uint64_t>(s.timings.prompt_n);
        metrics_.prompt_seconds_total += s.timings.prompt_ms / 1000.0;
      }
      accept_rows(s);
    }
  }

  // Emits the slot's tokens from its rows of this step (§8.3): a draw from row i; while it equals
  // draft i the draft is kept and row i + 1 is drawn. Then rejected drafts leave the cache
  // (§8.4), pending_h becomes the target hidden of the last row drawn from (§7 accept), and the
  // request finishes if a token ended it: exactly the tokens and draws of plain decoding.
  void accept_rows(Slot& s) {
    const int32_t N = static_cast<int32_t>(s.drafts.size());
    int32_t k = 0, last = 0;
    std::string reason, stop_word;
    for (int32_t i = 0;; ++i) {
      const int32_t row = s.out_row + i;
      const int32_t t = sample_and_emit(s, logits_.data() + static_cast<size_t>(row) * info_.n_vocab, &reason, &stop_word);
      last = i;
      const bool match = i < N && t == s.drafts[static_cast<size_t>(i)];
      k += match;
      if (!match || !reason.empty()) break;
      s.cache_tokens.push_back(t);  // draft i + 1 stays: its K/V are already in the cache
    }
    if (drafter_) {
      if (N > 0) {
        cache_->remove(s.id, static_cast<int32_t>(s.cache_tokens.size()), -1);
        s.timings.draft_n += N;
        s.timings.draft_accepted_n += k;
        std::lock_guard<std::mutex> lk(mu_);
        metrics_.spec_drafts_total++;
        metrics_.spec_draft_tokens_total += static_cast<uint64_t>(N);
        metrics_.spec_accepted_tokens_total += static_cast<uint64_t>(k);
      }
      const float* h = hidden_.data() + static_cast<size_t>(s.out_row + last) * info_.n_embd;
      s.pending_h.assign(h, h + info_.n_embd);
    }
    s.drafts.clear();
    if (!reason.empty()) finish_with(s, reason, "", stop_word);
  }

  // Samples one token from logits and sends it through the stop checks and on_token. Returns the
  // token; *reason is set when the request ends with it ("stop", "length", "cancelled").
  int32_t sample_and_emit(Slot& s, const float* logits, std::string* reason_out, std::string* stop_word_out) {
    auto& req = s.task.req;
    int32_t tok = s.sampler->sample(logits);
    s.sampler->accept(tok);
    s.generated.push_back(tok);
    s.timings.predicted_n++;
    {
      std::lock_guard<std::mutex> lk(mu_);
      metrics_.tokens_predicted_total++;
    }
    TokenEvent ev;
    ev.token = tok;
    if (req.n_probs > 0) {
      float lse = 0;
      ev.top = sampling::log_softmax_top(logits, info_.n_vocab, req.n_probs, &lse);
      ev.logprob = logits[tok] - lse;
    }
    const bool eog = tok_->is_eog(tok) && !req.ignore_eos;
    if (!eog) s.text += s.decoder->push(tok);
    // Stop strings: find the earliest complete match; hold back a possible partial match.
    std::string stop_word;
    size_t stop_at = std::string::npos;
    for (const auto& w : req.stop) {
      if (w.empty()) continue;
      size_t from = s.emitted >= w.size() ? s.emitted - w.size() + 1 : 0;
      size_t p = s.text.find(w, from);
      if (p != std::string::npos && p < stop_at) {
        stop_at = p;
        stop_word = w;
      }
    }
    std::string reason;
    if (stop_at != std::string::npos) {
      s.text.resize(stop_at);
      reason = "stop";
    } else if (eog) {
      reason = "stop";
    } else if (req.n_predict >= 0 && static_cast<int32_t>(s.generated.size()) >= req.n_predict) {
      reason = "length";
    } else if (static_cast<int32_t>(s.cache_tokens.size()) + 1 >= n_ctx_slot_) {
      reason = "length";
    }
    size_t safe = s.text.size();
    if (reason.empty()) {
      for (const auto& w : req.stop)
        for (size_t k = std::min(w.size() - 1, s.text.size()); k > 0; --k)
          if (s.text.compare(s.text.size() - k, k, w, 0, k) == 0) {
            safe = std::min(safe, s.text.size() - k);
            break;
          }
    } else if (reason == "length" || eog) {
      s.text += s.decoder->flush();
      safe = s.text.size();
    }
    if (safe > s.emitted) {
      ev.text = s.text.substr(s.emitted, safe - s.emitted);
      s.emitted = safe;
    }
    bool keep = true;
    if (s.task.on_token) keep = s.task.on_token(ev);
    s.next_token = tok;
    if (reason.empty() && !keep) reason = "cancelled";
    *reason_out = reason;
    *stop_word_out = stop_word;
    return tok;
  }

  void finish(Slot& s, const std::string& reason, const std::string& err = "") { finish_with(s, reason, err, ""); }

  void finish_with(Slot& s, const std::string& reason, const std::string& err, const std::string& stop_word) {
    Result r;
    r.text = s.text;
    r.tokens = s.generated;
    r.finish_reason = reason;
    r.stop_word = stop_word;
    r.error = err;
    r.n_prompt = static_cast<int32_t>(s.task.req.prompt.size());
    r.timings = s.timings;
    r.slot_id = s.id;
    if (s.timings.predicted_n > 0) {
      std::lock_guard<std::mutex> lk(mu_);
      metrics_.tokens_predicted_seconds_total += s.timings.predicted_ms / 1000.0;
    }
    // The last sampled token was never fed: the cache holds prompt + generated[0..n-2].
    if (reason == "error") {
      cache_->clear(s.id);
      s.cache_tokens.clear();
    }
    auto cb = std::move(s.task.on_done);
    s.busy = false;
    s.generating = false;
    s.task = Pending{};
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (metrics_.requests_processing) metrics_.requests_processing--;
    }
    publish_slots();  // /slots shows the slot idle before the client hears the request is done
    if (cb) cb(r);
  }

  void publish_slots() {
    std::vector<SlotState> st;
    uint64_t used = 0;
    for (auto& s : slots_) {
      SlotState x;
      x.id = s.id;
      x.busy = s.busy;
      x.request = s.busy ? s.task.id : 0;
      x.n_past = static_cast<int32_t>(s.cache_tokens.size());
      x.n_prompt = s.busy ? static_cast<int32_t>(s.task.req.prompt.size()) : 0;
      x.n_decoded = static_cast<int32_t>(s.generated.size());
      x.speculative = drafter_ != nullptr;
      x.n_draft = s.timings.draft_n;
      x.n_draft_accepted = s.timings.draft_accepted_n;
      used += s.cache_tokens.size();
      st.push_back(x);
    }
    std::lock_guard<std::mutex> lk(mu_);
    slot_states_ = std::move(st);
    metrics_.kv_cache_tokens = used;
    metrics_.kv_cache_usage_ratio = double(used) / double(std::max<int64_t>(1, int64_t(n_ctx_slot_) * int64_t(slots_.size())));
  }

  EngineOptions opt_;
  std::shared_ptr<gguf::File> file_;
  plan::FitResult fit_;
  std::unique_ptr<tokenizer::Tokenizer> tok_;
  std::unique_ptr<core::ThreadPool> pool_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<kv::KvCache> cache_;
  int32_t n_ctx_slot_ = 0, n_ubatch_ = 512;
  std::vector<Slot> slots_;
  std::vector<float> logits_, hidden_;  // this step's output rows: logits, post-norm hidden (drafter)
  std::unique_ptr<Drafter> drafter_;
  std::vector<DraftJob> jobs_;
  model::Batch batch_;
  ModelInfo info_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  std::vector<RequestId> cancelled_;
  std::vector<std::pair<std::function<void(const Result&)>, Result>> done_later_;
  std::vector<SlotState> slot_states_;
  Metrics metrics_;
  RequestId next_id_ = 0;
  bool stopping_ = false;
  Clock::time_point drain_deadline_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Engine> Engine::create(const EngineOptions& opt) { return std::make_unique<EngineImpl>(opt); }

}  // namespace fitserve::engine
