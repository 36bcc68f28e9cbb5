// model/arch.h — constructors of the per-architecture models (internal to the model module).
#pragma once
#include <memory>

#include "model/model.h"

namespace fitserve::model {
std::unique_ptr<Model> make_llama(const gguf::File& f);
std::unique_ptr<Model> make_gemma4(const gguf::File& f);
}  // namespace fitserve::model
