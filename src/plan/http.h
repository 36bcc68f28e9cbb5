// plan/http.h — read a GGUF header without the tensor data, from a local path or an http(s) URL.
// Offers:
//   plan::is_url(s)                       true for "http://..." / "https://..."
//   plan::fetch_header(url, &fetched)     HTTP Range requests for growing prefixes (1 MiB first,
//                                         then doubling, appending only the missing bytes) until
//                                         gguf::File::parse succeeds; the real size comes from
//                                         Content-Range. Tensor data pointers are null.
//   plan::open_header(path_or_url, &st)   File::open for paths, fetch_header for URLs.
//   plan::FetchStats                      bytes fetched, requests made, file size, milliseconds.
// Servers without Range support (HTTP 200) work too: the body is cut off after the prefix.
// Errors: core::Error code "io" (network, HTTP status, header larger than the cap) or "gguf".
#pragma once
#include <cstdint>
#include <string>

#include "gguf/gguf.h"

namespace fitserve::plan {

bool is_url(const std::string& s);

struct FetchStats {
  uint64_t bytes_fetched = 0;  // response body bytes received (0 for local files)
  uint64_t file_size = 0;      // total size of the remote or local file
  int requests = 0;            // HTTP requests made
  double ms = 0;               // wall time of open/fetch + parse
  bool remote = false;
};

struct FetchOptions {
  uint64_t first_bytes = 1ull << 20;   // first prefix
  uint64_t max_bytes = 256ull << 20;   // give up when the header needs more than this
  long connect_timeout_s = 15;
  long stall_timeout_s = 60;           // abort when no byte arrives for this long
};

gguf::File fetch_header(const std::string& url, uint64_t* bytes_fetched = nullptr,
                        const FetchOptions& opt = {}, FetchStats* stats = nullptr);

gguf::File open_header(const std::string& path_or_url, FetchStats* stats = nullptr);

}  // namespace fitserve::plan
