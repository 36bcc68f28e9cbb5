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

Drafter::Drafter(const std::string& path, const Runner& target) : path_(path) {
  // Header checks first: the same messages as `fitserve plan` and the engine give.
  check_mtp_drafter(plan::open_headers(target.options().model_path), plan::open_headers(path));
  file_ = std::make_unique<gguf::File>(gguf::File::open(path));
  assistant_ = std::make_unique<model::Gemma4Assistant>(*file_, target.model());
}

Drafter::~Drafter() = default;

void Drafter::step(int32_t token, const float* h, int32_t pos, Runner& target, float* logits, float* h_next) {
  const int32_t seq0 = 0;
  assistant_->step(1, &token, h, &pos, &seq0, target.cache(), target.pool(), logits, h_next);
}

std::vector<int32_t> generate(Runner& target, Drafter* drafter, const std::vector<int32_t>& prompt, int32_t n_predict,
                              sampling::Sampler& sampler, const SpecParams& sp, const TokenFn& on_token, SpecStats* stats,
                              GenTimings* timings) {
  if (prompt.empty()) throw core::Error("request", "the prompt is empty", "give at least one token");
  if (sp.n_max < 0 || sp.n_min < 0 || !(sp.p_min >= 0.0f && sp.p_min <= 1.0f))
    throw core::Error("usage", "draft parameters: n-max and n-min must be >= 0 and p-min in [0, 1]");
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

  std::vector<int32_t> drafts, batch;
  std::vector<float> dl(static_cast<size_t>(drafter ? V : 0)), dh(static_cast<size_t>(drafter ? E : 0)), h, vh;
  while (go && !done()) {
    const int32_t pos0 = target.n_past();  // position of id_last (sampled, not decoded yet)
    if (pos0 >= n_ctx) break;              // the context is full
    // Draft (§7), at most n_max, leaving room in the context and not beyond what is still wanted.
    drafts.clear();
    if (drafter && sp.n_max > 0) {
      int64_t n_draft_max = std::min<int64_t>(sp.n_max, int64_t(n_ctx) - pos0 - 2);
      if (n_predict >= 0) n_draft_max = std::min<int64_t>(n_draft_max, int64_t(n_predict) - int64_t(out.size()) - 1);
      if (n_draft_max > 0 && n_draft_max >= sp.n_min) {
        auto td = Clock::now();
        int32_t tok = id_last;
        h = pending_h;
        for (;;) {
          drafter->step(tok, h.data(), pos0, target, dl.data(), dh.data());
          st.draft_calls++;
          float p = 0;
          const int32_t c = top_candidate(dl.data(), V, &p);
          if (p < sp.p_min) break;
          drafts.push_back(c);
          if (static_cast<int64_t>(drafts.size()) >= n_draft_max) break;
          tok = c;  // same position pos0 for every step (§7), h := h_next
          h.swap(dh);
        }
        if (static_cast<int32_t>(drafts.size()) < sp.n_min) drafts.clear();
        st.draft_ms += ms_since(td);
      }
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
    if (N > 0) {
      st.drafted += N;
      st.accepted += k;
      st.verif_steps++;
      st.drafts_accepted += k > 0;
      for (int32_t j = 0; j < k; ++j) st.accepted_at[static_cast<size_t>(j)]++;
    }
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
