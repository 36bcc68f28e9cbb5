// cli/open_model.h — open a GGUF for header inspection, from a path or an http(s) URL.
// Offers: open_model_header(path_or_url) -> OpenedModel {file, bytes_fetched (URLs), companion_note}.
#pragma once
#include <cstdint>
#include <string>

#include "gguf/gguf.h"

namespace fitserve::cli {

struct OpenedModel {
  gguf::File file;
  uint64_t bytes_fetched = 0;   // > 0 when read over HTTP
  std::string companion_note;   // what kind of companion file this is (mmproj, assistant), if any
};

bool is_url(const std::string& s);
OpenedModel open_model_header(const std::string& path_or_url);

}  // namespace fitserve::cli
