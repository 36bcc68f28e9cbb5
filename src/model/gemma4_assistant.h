// model/gemma4_assistant.h — the Gemma 4 MTP "assistant" drafter (GGUF arch gemma4-assistant,
// spec gemma4-mtp.md §1–§6): a small Q-only decoder that attends over its TARGET's KV cache.
// Offers: Gemma4Assistant(file, target) — loads the metadata and tensors (§2–§3; missing tensors,
// wrong shapes and bad hparams are core::Error("model") with a hint) and validates it against
// the target model (embedding_length_out == target n_embd, vocabulary size, and for its sliding /
// full layers the KV-head count and head dim of the target cache layer they read, §5);
// step(): one draft step for one or more rows (token id, target hidden h of the previous position,
// query position, sequence) → logits (no softcap) and h_next (§4). The target cache is only read.
// Both the file and the target model must outlive the assistant.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "kv/kv_cache.h"
#include "model/model.h"

namespace fitserve::model {

struct AssistantInfo {
  std::string name;
  int32_t n_embd = 0;      // drafter width
  int32_t n_embd_out = 0;  // target width (embedding_length_out): the h rows it takes and returns
  int32_t n_layer = 0, n_vocab = 0;
  uint64_t n_params = 0, n_bytes = 0;
};

class Gemma4Assistant {
 public:
  Gemma4Assistant(const gguf::File& f, const Model& target);
  ~Gemma4Assistant();
  Gemma4Assistant(const Gemma4Assistant&) = delete;
  Gemma4Assistant& operator=(const Gemma4Assistant&) = delete;

  const AssistantInfo& info() const;

  // n rows: row i feeds tokens[i], h[i·n_embd_out ..] and attends at position pos[i] over the
  // positions of sequence seq[i] present in target_cache (the target's own cache: every query
  // sees what a target query at pos[i] would see, minus pos[i] itself, which is not there).
  // logits: n × n_vocab; h_next: n × n_embd_out (either may be null).
  void step(int64_t n, const int32_t* tokens, const float* h, const int32_t* pos, const int32_t* seq,
            const kv::KvCache& target_cache, core::ThreadPool& pool, float* logits, float* h_next);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fitserve::model
