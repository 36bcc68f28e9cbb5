// engine/speculative.cpp — draft (MTP assistant) → verify (one target batch) → accept (sampler)
// → roll back, for one sequence on a Runner (spec gemma4-mtp.md §7–§9).
#include "engine/speculative.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "plan/compat.h"
#include "plan/headers.h"

namespace fitserve::engine {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// The draft sampler of §7: top-k(10) → softmax → the most probable candidate (ties → lower id).
// Returns the candidate; *p its probability within the top 10.
int32_t top_candidate(const float* logits, int32_t n, float* p) {
  constexpr int kTop = 10;
  float best[kTop];
  int32_t best_id[kTop];
  int m = 0;
  for (int32_t i = 0; i < n; ++i) {
    const float v = logits[i];
    if (m == kTop && !(v > best[m - 1])) continue;
    int j = m < kTop ? m++ : m - 1;
    while (j > 0 && v > best[j - 1]) {  // strict: an equal value stays behind (lower id first)
      best[j] = best[j - 1];
      best_id[j] = best_id[j - 1];
      --j;
    }
    best[j] = v;
    best_id[j] = i;
  }
  double sum = 0;
  for (int j = 0; j < m; ++j) sum += std::exp(double(best[j]) - double(best[0]));
  *p = float(1.0 / sum);
  return best_id[0];
}

}  // namespace

void SpecStats::add(const SpecStats& o) {
  drafted += o.drafted;
  accepted += o.accepted;
  verif_steps += o.verif_steps;
  drafts_accepted += o.drafts_accepted;
  draft_calls += o.draft_calls;
  if (accepted_at.size() < o.accepted_at.size()) accepted_at.resize(o.accepted_at.size());
  for (size_t i = 0; i < o.accepted_at.size(); ++i) accepted_at[i] += o.accepted_at[i];
  draft_ms += o.draft_ms;
  verify_ms += o.verify_ms;
}

void SpecStats::record(int32_t n_drafted, int32_t n_accepted) {
  drafted += n_drafted;
  accepted += n_accepted;
  verif_steps++;
  drafts_accepted += n_accepted > 0;
  if (accepted_at.size() < static_cast<size_t>(n_accepted)) accepted_at.resize(static_cast<size_t>(n_accepted));
  for (int32_t j = 0; j < n_accepted; ++j) accepted_at[static_cast<size_t>(j)]++;
}

std::string SpecStats::str() const {
  char b[160];
  std::snprintf(b, sizeof b, "drafted %lld, accepted %lld (%.1f%%), mean acceptance length %.2f over %lld verifications",
                static_cast<long long>(drafted), static_cast<long long>(accepted), 100.0 * acceptance(), mean_accept_len(),
                static_cast<long long>(verif_steps));
  std::string s = b;
  if (!accepted_at.empty()) {
    s += ", per position";
    for (size_t i = 0; i < accepted_at.size(); ++i) {
      std::snprintf(b, sizeof b, " %.2f", rate_at(i));
      s += b;
    }
  }
  return s;
}

void check_mtp_drafter(const plan::ModelHeaders& th, const plan::ModelHeaders& dh) {
  plan::check_drafter(th, dh);
  if (dh.kind != plan::ModelKind::Assistant)
    throw core::Error("model",
                      dh.source + ": a '" + dh.arch + "' model cannot be used as a drafter here: fitserve drafts only with a Gemma 4 "
                                  "MTP assistant (general.architecture 'gemma4-assistant')",
                      "pass the target's -assistant GGUF with -md (separate draft models, llama.cpp's draft-simple, are not "
                      "supported)");
}

Drafter::Drafter(const std::string& path, const Runner& target)
    : Drafter(path, target.model(), target.options().model_path) {}

Drafter::Drafter(const std::string& path, const model::Model& target, const std::string& target_path) : path_(path) {
  // Header checks first: the same messages as `fitserve plan` and the engine give.
  check_mtp_drafter(plan::open_headers(target_path), plan::open_headers(path));
  file_ = std::make_unique<gguf::File>(gguf::File::open(path));
  assistant_ = std::make_unique<model::Gemma4Assistant>(*file_, target);
}

Drafter::~Drafter() = default;

void Drafter::step(int64_t n, const int32_t* tokens, const float* h, const int32_t* pos, const int32_t* seq,
                   const kv::KvCache& cache, core::ThreadPool& pool, float* logits, float* h_next) {
  assistant_->step(n, tokens, h, pos, seq, cache, pool, logits, h_next);
}

int64_t Drafter::draft(std::vector<DraftJob>& jobs, const SpecParams& sp, const kv::KvCache& cache, core::ThreadPool& pool,
                       int32_t V, int32_t E) {
  const size_t Vs = static_cast<size_t>(V), Es = static_cast<size_t>(E);
  // Rows of the first step: (id_last, pos0, pending_h) of every job that may draft.
  tok_.clear(), pos_.clear(), seq_.clear(), job_.clear(), h_in_.clear();
  for (size_t j = 0; j < jobs.size(); ++j) {
    DraftJob& d = jobs[j];
    d.drafts.clear();
    if (d.n_max <= 0 || d.n_max < sp.n_min) continue;
    tok_.push_back(d.id_last);
    pos_.push_back(d.pos0);
    seq_.push_back(d.seq);
    job_.push_back(static_cast<int32_t>(j));
    h_in_.insert(h_in_.end(), d.h, d.h + E);
  }
  int64_t rows = 0;
  while (!job_.empty()) {
    const size_t n = job_.size();
    logits_.resize(n * Vs);
    h_out_.resize(n * Es);
    step(static_cast<int64_t>(n), tok_.data(), h_in_.data(), pos_.data(), seq_.data(), cache, pool, logits_.data(), h_out_.data());
    rows += static_cast<int64_t>(n);
    // Keep the rows whose sequence goes on: next token = its candidate, same pos0 (§7), h = h_next.
    size_t m = 0;
    for (size_t r = 0; r < n; ++r) {
      DraftJob& d = jobs[static_cast<size_t>(job_[r])];
      float p = 0;
      const int32_t c = top_candidate(logits_.data() + r * Vs, V, &p);
      if (p < sp.p_min) continue;
      d.drafts.push_back(c);
      if (static_cast<int32_t>(d.drafts.size()) >= d.n_max) continue;
      tok_[m] = c;
      pos_[m] = pos_[r];
      seq_[m] = seq_[r];
      job_[m] = job_[r];
      std::copy(h_out_.begin() + static_cast<ptrdiff_t>(r * Es), h_out_.begin() + static_cast<ptrdiff_t>((r + 1) * Es),
                h_in_.begin() + static_cast<ptrdiff_t>(m * Es));
      ++m;
    }
    tok_.resize(m), pos_.resize(m), seq_.resize(m), job_.resize(m), h_in_.resize(m * Es);
  }
  for (DraftJob& d : jobs)
    if (static_cast<int32_t>(d.drafts.size()) < sp.n_min) d.drafts.clear();
  return rows;
}

void check_spec_params(const SpecParams& sp) {
  if (sp.n_max < 0 || sp.n_min < 0 || !(sp.p_min >= 0.0f && sp.p_min <= 1.0f))
    throw core::Error("usage", "draft parameters: n-max and n-min must be >= 0 and p-min in [0, 1]");
}

std::vector<int32_t> generate(Runner& target, Drafter* drafter, const std::vector<int32_t>& prompt, int32_t n_predict,
                              sampling::Sampler& sampler, const SpecParams& sp, const TokenFn& on_token, SpecStats* stats,
                              GenTimings* timings) {
  if (prompt.empty()) throw core::Error("request", "the prompt is empty", "give at least one token");
  check_spec_params(sp);
  const int32_t n_ctx = target.n_ctx(), V = target.n_vocab();
  if (static_cast<int64_t>(prompt.size()) >= n_ctx)
    throw core::Error("request", "the prompt has " + std::to_string(prompt.size()) + " tokens, the context " + std::to_string(n_ctx),
                      "raise -c or shorten the prompt");
  SpecStats st;
  st.accepted_at.assign(static_cast<size_t>(sp.n_max), 0);
  GenTimings tm;
  std::vector<int32_t> out;
  const int32_t E = target.model().info().n_embd;

  target.reset();
  auto t0 = Clock::now();
  std::vector<float> hid;
  std::vector<float> logits = target.eval(prompt, false, drafter ? &hid : nullptr);
  tm.prompt_n = static_cast<int32_t>(prompt.size());
  tm.prompt_ms = ms_since(t0);
  auto t1 = Clock::now();

  std::vector<float> pending_h(hid.end() - (drafter ? E : 0), hid.end());  // target z of the last row
  auto done = [&] { return n_predict >= 0 && static_cast<int64_t>(out.size()) >= n_predict; };
  bool go = n_predict != 0;
  int32_t id_last = -1;
  if (go) {
    id_last = sampler.sample(logits.data());
    sampler.accept(id_last);
    out.push_back(id_last);
    go = on_token ? on_token(id_last) : true;
  }

  std::vector<DraftJob> job(1);  // one sequence (0)
  std::vector<int32_t> batch;
  std::vector<float> vh;
  while (go && !done()) {
    const int32_t pos0 = target.n_past();  // position of id_last (sampled, not decoded yet)
    if (pos0 >= n_ctx) break;              // the context is full
    // Draft (§7), at most n_max, leaving room in the context and not beyond what is still wanted.
    std::vector<int32_t>& drafts = job[0].drafts;
    drafts.clear();
    if (drafter && sp.n_max > 0) {
      int64_t n_draft_max = std::min<int64_t>(sp.n_max, int64_t(n_ctx) - pos0 - 2);
      if (n_predict >= 0) n_draft_max = std::min<int64_t>(n_draft_max, int64_t(n_predict) - int64_t(out.size()) - 1);
      auto td = Clock::now();
      job[0].id_last = id_last;
      job[0].pos0 = pos0;
      job[0].n_max = static_cast<int32_t>(std::max<int64_t>(0, n_draft_max));
      job[0].h = pending_h.data();
      st.draft_calls += drafter->draft(job, sp, target.cache(), target.pool(), V, E);
      st.draft_ms += ms_since(td);
    }
    // Verify [id_last, d1..dN] in one batch (§8), logits (and hidden) for every row.
    auto tv = Clock::now();
    batch.assign(1, id_last);
    batch.insert(batch.end(), drafts.begin(), drafts.end());
    vh.clear();
    logits = target.eval(batch, true, drafter ? &vh : nullptr);
    // Accept: one sampler draw per emitted token; stop at the first draw that differs.
    const int32_t N = static_cast<int32_t>(drafts.size());
    int32_t k = 0, last = 0;  // accepted drafts; last row sampled
    for (int32_t i = 0;; ++i) {
      const int32_t t = sampler.sample(logits.data() + static_cast<size_t>(i) * V);
      sampler.accept(t);
      out.push_back(t);
      id_last = t;
      last = i;
      go = on_token ? on_token(t) : true;
      const bool match = i < N && t == drafts[static_cast<size_t>(i)];
      k += match;
      if (!match || !go || done()) break;
    }
    if (N > 0) st.record(N, k);
    // Roll back the rows after the last one sampled (rejected drafts, §8.4; also unused ones when
    // generation stopped early): the cache then holds every emitted token but the last, which
    // is the new id_last. pending_h = target z of that row (the last accepted one, §7).
    target.truncate(pos0 + last + 1);
    if (drafter) pending_h.assign(vh.begin() + static_cast<ptrdiff_t>(last) * E, vh.begin() + static_cast<ptrdiff_t>(last + 1) * E);
    st.verify_ms += ms_since(tv);
  }
  tm.gen_n = static_cast<int32_t>(out.size());
  tm.gen_ms = ms_since(t1);
  if (stats) *stats = st;
  if (timings) *timings = tm;
  return out;
}

}  // namespace fitserve::engine
