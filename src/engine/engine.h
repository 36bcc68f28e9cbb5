// engine/engine.h — the one API that the CLI, the server and the benches use.
// Offers: Engine::create(EngineOptions) loads a model set (text model; later mmproj + drafter)
// and starts the scheduler thread: --parallel N slots, continuous batching (prompt chunks and
// generation steps of several requests share one forward batch), per-request sampling, stop
// strings, max tokens, cancellation, prompt-prefix reuse per slot (cache_prompt), and with a
// Gemma 4 MTP assistant (draft_path) speculative decoding in every slot (spec gemma4-mtp.md §8):
// each step drafts up to spec.n_max tokens per generating slot (the assistant's steps batched
// across slots), verifies [id_last, d1..dN] of every slot in the shared forward batch and emits
// the accepted tokens one by one through the normal sampling / stop / cancel path.
// submit() is thread-safe and returns at once; callbacks run on the scheduler thread and must be
// quick (copy the data, signal your own thread). Returning false from on_token cancels the
// request and frees its slot at once.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/spec_params.h"
#include "sampling/sampler.h"

namespace fitserve::tokenizer { class Tokenizer; }
namespace fitserve::model { class Model; }

namespace fitserve::engine {

class Drafter;

struct EngineOptions {
  std::string model_path;
  int32_t n_ctx = 4096;         // total context (split evenly across slots); 0 = auto: the largest
                                // that fits mem_cap, or the training context when there is no cap
  int32_t n_parallel = 1;       // slots
  int32_t n_threads = 0;        // 0 = physical cores
  int32_t n_batch = 2048;       // max tokens per forward across slots
  int32_t n_ubatch = 512;       // physical batch
  std::string type_k = "f16";   // KV element types: f32 f16 bf16 q8_0 q4_0
  std::string type_v = "f16";
  std::string mmproj_path;      // optional
  std::string draft_path;       // optional Gemma 4 MTP assistant: speculative decoding
  SpecParams spec;              // its limits (--spec-draft-n-max / -n-min / -p-min)
  // For tests: makes the drafter for the loaded target instead of opening draft_path.
  std::function<std::unique_ptr<Drafter>(const model::Model&)> make_drafter;
  uint64_t mem_cap = 0;         // bytes; 0 = no cap
};

struct Request {
  std::vector<int32_t> prompt;            // token ids (BOS included by the caller if wanted)
  sampling::SamplingParams sampling;
  int32_t n_predict = -1;                 // -1 = until EOG or context end
  std::vector<std::string> stop;          // stop strings (not included in the output)
  bool cache_prompt = true;
  int32_t n_probs = 0;                    // top-N logprobs per generated token
  bool ignore_eos = false;
  int32_t slot_id = -1;                   // -1 = any free slot
};

struct TokenEvent {
  int32_t token = -1;
  std::string text;                       // UTF-8-complete text released by this token (may be empty)
  float logprob = 0;                      // log-prob of the chosen token (when n_probs > 0)
  std::vector<std::pair<int32_t, float>> top;  // top-N (id, logprob)
};

struct Timings {
  int32_t prompt_n = 0;       // prompt tokens evaluated (not counting reused cache)
  double prompt_ms = 0;
  int32_t predicted_n = 0;
  double predicted_ms = 0;
  int32_t cache_n = 0;        // prompt tokens reused from the slot's cache
  int32_t draft_n = 0, draft_accepted_n = 0;
};

struct Result {
  std::string text;                       // full generated text (stop string removed)
  std::vector<int32_t> tokens;
  std::string finish_reason;              // "stop" | "length" | "cancelled" | "error"
  std::string stop_word;                  // which stop string matched, if any
  std::string error;                      // when finish_reason == "error"
  int32_t n_prompt = 0;
  Timings timings;
  int32_t slot_id = -1;
};

using RequestId = uint64_t;

struct ModelInfo {
  std::string path, name, architecture;
  int32_t n_vocab = 0, n_embd = 0, n_ctx_train = 0, n_ctx = 0, n_ctx_slot = 0, n_parallel = 1;
  uint64_t n_params = 0, size_bytes = 0;
  std::string chat_template;              // tokenizer.chat_template or ""
  std::string bos_text, eos_text;
};

struct SlotState {
  int32_t id = 0;
  bool busy = false;
  RequestId request = 0;
  int32_t n_past = 0, n_prompt = 0, n_decoded = 0;
  bool speculative = false;               // the engine has a drafter
  int32_t n_draft = 0, n_draft_accepted = 0;  // the current (or last) request's draft tokens
};

struct Metrics {
  uint64_t prompt_tokens_total = 0, tokens_predicted_total = 0;
  double prompt_seconds_total = 0, tokens_predicted_seconds_total = 0;
  uint64_t requests_processing = 0, requests_deferred = 0, requests_total = 0;
  uint64_t n_decode_total = 0, n_busy_slots_per_decode_sum = 0;
  double kv_cache_usage_ratio = 0;
  uint64_t kv_cache_tokens = 0;
  // Speculative decoding: verifications that carried drafts, draft tokens, accepted ones.
  uint64_t spec_drafts_total = 0, spec_draft_tokens_total = 0, spec_accepted_tokens_total = 0;
};

class Engine {
 public:
  static std::unique_ptr<Engine> create(const EngineOptions& opt);
  virtual ~Engine() = default;

  // Thrown (as core::Error code "request") synchronously when the prompt cannot fit the slot
  // context ("the request exceeds the available context size ...").
  virtual RequestId submit(Request req, std::function<bool(const TokenEvent&)> on_token,
                           std::function<void(const Result&)> on_done) = 0;
  virtual void cancel(RequestId id) = 0;
  // Convenience: blocks until done.
  Result generate(Request req, std::function<bool(const TokenEvent&)> on_token = {});

  virtual const tokenizer::Tokenizer& tokenizer() const = 0;
  virtual const ModelInfo& info() const = 0;
  virtual std::vector<SlotState> slots() const = 0;
  virtual Metrics metrics() const = 0;
  // Stops accepting requests, lets in-flight ones finish (or cancels them after timeout_ms), joins.
  virtual void shutdown(int timeout_ms = 30000) = 0;
};

}  // namespace fitserve::engine
