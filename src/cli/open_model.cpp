#include "cli/open_model.h"

#include "core/error.h"
#include "plan/http.h"

namespace fitserve::cli {

bool is_url(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

static std::string describe_companion(const gguf::File& f) {
  std::string arch = f.architecture();
  if (arch == "clip") {
    auto w = f.get_int("clip.vision.projection_dim");
    return "vision projector (mmproj)" + (w ? ", produces n_embd=" + std::to_string(*w) : std::string());
  }
  if (arch == "gemma4-assistant" || arch == "gemma4_assistant") {
    auto w = f.get_int(arch + ".embedding_length_out");
    return "MTP assistant (drafter)" + (w ? ", embedding_length_out=" + std::to_string(*w) : std::string());
  }
  return {};
}

OpenedModel open_model_header(const std::string& path) {
  plan::FetchStats st;
  OpenedModel om{plan::open_header(path, &st), st.remote ? st.bytes_fetched : 0, {}};
  om.companion_note = describe_companion(om.file);
  return om;
}

}  // namespace fitserve::cli
