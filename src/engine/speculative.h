// engine/speculative.h — single-sequence generation on an engine::Runner, with or without
// speculative decoding by a Gemma 4 MTP assistant (spec gemma4-mtp.md §7–§9).
// Offers:
//   SpecParams      (engine/spec_params.h) --spec-draft-n-max, -n-min, -p-min
//   SpecStats       drafted / accepted tokens, verification steps, per-position accepted counts;
//                   acceptance rate = accepted / drafted, mean acceptance length =
//                   1 + accepted / verification steps, per-position rate = accepted_at[i] / steps
//   Drafter         opens an assistant GGUF for a target model: check_mtp_drafter on the
//                   headers, then model::Gemma4Assistant (shape checks vs the target);
//                   step() runs rows of several sequences at once (virtual: tests replace it);
//                   draft() is §7 for several sequences together (one step per draft position,
//                   the rows of every sequence still drafting in one call), used by generate()
//                   and by the server's scheduler (engine.cpp)
//   check_mtp_drafter(text, draft)  plan::check_drafter (the same messages as `plan` and the
//                   engine) + refuses anything but a gemma4-assistant: for early checks (bench)
//   generate(...)   prompt → up to n_predict tokens through a sampling::Sampler. Without a drafter:
//                   one target decode per token. With one: draft with the assistant (greedy top
//                   candidate of its top-10 softmax, all steps at position pos0, recurrent h),
//                   verify [id_last, d1..dN] in one target batch, accept with the sampler (one
//                   draw per emitted token, so greedy and seeded sampling give the same tokens
//                   as without speculation), roll back rejected KV, pending_h = target hidden of
//                   the last accepted row.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/runner.h"
#include "engine/spec_params.h"
#include "model/gemma4_assistant.h"
#include "plan/headers.h"
#include "sampling/sampler.h"

namespace fitserve::engine {


struct SpecStats {
  int64_t drafted = 0;       // draft tokens proposed (sent to verification)
  int64_t accepted = 0;      // of those, accepted
  int64_t verif_steps = 0;   // verification batches that carried at least one draft token
  int64_t drafts_accepted = 0;  // verifications with >= 1 accepted token
  int64_t draft_calls = 0;   // assistant steps run (one per drafted token, plus stopped ones)
  std::vector<int64_t> accepted_at;  // [i]: verifications that accepted position i (i < n_max)
  double draft_ms = 0, verify_ms = 0;
  double acceptance() const { return drafted ? double(accepted) / double(drafted) : 0.0; }
  double mean_accept_len() const { return verif_steps ? 1.0 + double(accepted) / double(verif_steps) : 1.0; }
  double rate_at(size_t i) const {
    return verif_steps && i < accepted_at.size() ? double(accepted_at[i]) / double(verif_steps) : 0.0;
  }
  void add(const SpecStats& o);
  // One verification of n_drafted tokens (> 0) of which the first n_accepted were accepted (§9).
  void record(int32_t n_drafted, int32_t n_accepted);
  // "drafted 120, accepted 75 (62.5%), mean acceptance length 2.88, per position 0.81 0.63 0.44"
  std::string str() const;
};

// Throws core::Error("model", ...) naming both files when draft cannot draft for text.
void check_mtp_drafter(const plan::ModelHeaders& text, const plan::ModelHeaders& draft);

// One sequence's part of a draft round (§7): id_last (sampled, not decoded) at pos0, h = the
// sequence's pending_h (n_embd of the target), at most n_max tokens; drafts is the result.
struct DraftJob {
  int32_t seq = 0, id_last = -1, pos0 = 0, n_max = 0;
  const float* h = nullptr;
  std::vector<int32_t> drafts;
};

class Drafter {
 public:
  // Throws core::Error("model", ...) for a drafter that does not belong to the target.
  Drafter(const std::string& path, const Runner& target);
  // target_path: the target's GGUF (its headers are checked against the drafter's).
  Drafter(const std::string& path, const model::Model& target, const std::string& target_path);
  virtual ~Drafter();
  // n draft steps (§4), row i: tokens[i] at position pos[i] of sequence seq[i] with h (row i of
  // n × n_embd) = target hidden of pos − 1 (or the previous step's h_next), over the target's
  // cache → logits (n × n_vocab) and h_next (n × n_embd).
  virtual void step(int64_t n, const int32_t* tokens, const float* h, const int32_t* pos, const int32_t* seq,
                    const kv::KvCache& cache, core::ThreadPool& pool, float* logits, float* h_next);
  // §7 for every job together (jobs with n_max <= 0 or < sp.n_min draft nothing): step k runs
  // the k-th draft row of every sequence still drafting; a sequence stops when its top
  // candidate's probability is < p_min or it has n_max tokens; drafts shorter than n_min are
  // dropped. Returns the rows stepped (stats: draft_calls).
  int64_t draft(std::vector<DraftJob>& jobs, const SpecParams& sp, const kv::KvCache& cache, core::ThreadPool& pool,
                int32_t n_vocab, int32_t n_embd);
  const std::string& path() const { return path_; }

 protected:
  Drafter() = default;  // for test doubles that override step()

 private:
  std::string path_;
  std::unique_ptr<gguf::File> file_;
  std::unique_ptr<model::Gemma4Assistant> assistant_;
  std::vector<float> logits_, h_in_, h_out_;  // draft() scratch
  std::vector<int32_t> tok_, pos_, seq_, job_;
};

// Checks the draft parameters (core::Error "usage").
void check_spec_params(const SpecParams& sp);

struct GenTimings {
  int32_t prompt_n = 0, gen_n = 0;
  double prompt_ms = 0, gen_ms = 0;
};

// Called with each emitted token; return false to stop (e.g. end of generation).
using TokenFn = std::function<bool(int32_t token)>;

// Resets the runner, evaluates the prompt, then generates until n_predict tokens were emitted
// (n_predict < 0: until on_token says stop or the context is full). drafter may be null (no
// speculation). Returns the emitted tokens; stats (if given) gets this run's statistics.
std::vector<int32_t> generate(Runner& target, Drafter* drafter, const std::vector<int32_t>& prompt, int32_t n_predict,
                              sampling::Sampler& sampler, const SpecParams& sp, const TokenFn& on_token = {},
                              SpecStats* stats = nullptr, GenTimings* timings = nullptr);

}  // namespace fitserve::engine
