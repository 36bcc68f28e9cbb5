// plan/compat.h — companion-file checks from headers alone: does this mmproj / drafter belong to
// this text model? Used by `plan`, `inspect` and at load, so all three say the same thing.
// Offers:
//   plan::check_mmproj(text, mmproj)   mmproj output width (ne1 of mm.input_projection.weight,
//                                      spec gemma4-vision §7) must equal the text model's n_embd;
//                                      vision and audio widths must agree
//   plan::check_drafter(text, draft)   MTP assistant: embedding_length_out == target n_embd and
//                                      head shapes equal the target's last own-KV SWA/full layers;
//                                      every drafter: vocabulary compatible (gemma4-mtp §11)
//   plan::check_companions(set)        both, for whatever is present
//   plan::check_and_fit(set, s, cap)   check_companions + fit(): what serve/run/the engine call at
//                                      load (-c auto resolved, "does not fit" refused before loading)
// Each throws core::Error("model", message, hint) naming both files and both values.
#pragma once
#include "plan/headers.h"
#include "plan/plan.h"

namespace fitserve::plan {

void check_mmproj(const ModelHeaders& text, const ModelHeaders& mmproj);
void check_drafter(const ModelHeaders& text, const ModelHeaders& draft);
void check_vocab(const ModelHeaders& text, const ModelHeaders& draft);
void check_companions(const ModelSet& models);
FitResult check_and_fit(const ModelSet& models, const RunSettings& s, uint64_t cap,
                        std::optional<uint64_t> margin = {});

}  // namespace fitserve::plan
