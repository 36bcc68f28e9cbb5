// engine/spec_params.h — the speculative-decoding knobs shared by `run -md`, `bench -md` and the
// server's scheduler (spec gemma4-mtp.md §10): --spec-draft-n-max (3), --spec-draft-n-min (0),
// --spec-draft-p-min (0.0).
#pragma once
#include <cstdint>

namespace fitserve::engine {

struct SpecParams {
  int32_t n_max = 3;    // most drafted tokens per verification
  int32_t n_min = 0;    // drafts shorter than this are dropped
  float p_min = 0.0f;   // stop drafting when the top candidate's probability (top-10 softmax) < p_min
};

}  // namespace fitserve::engine
