// model/gemma4.h — Gemma 4 specifics beyond the Model interface (make_gemma4 is in arch.h).
// Offers: a tensor tap for debugging a forward pass against the reference's per-layer dumps
// (golden/*.teacher.dump: "inp_scaled", "inp_per_layer", "l_out-N", "ffn_moe_logits-N",
// "ffn_moe_weights_norm-N", "result_norm"), called with every row of the batch, row-major
// [rows][cols]. set_gemma4_tap returns false if the model is not a Gemma 4 model.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "model/model.h"

namespace fitserve::model {

using TapFn = std::function<void(const std::string& name, const float* data, int64_t rows, int64_t cols)>;
bool set_gemma4_tap(Model& m, TapFn tap);

}  // namespace fitserve::model
