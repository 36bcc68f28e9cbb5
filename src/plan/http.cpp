// plan/http.cpp — GGUF headers over HTTP Range requests (libcurl), and open_header().
#include "plan/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>

#include "core/error.h"

namespace fitserve::plan {

bool is_url(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One transfer: bytes [from, from + want) of the resource, appended to `out`.
struct Transfer {
  std::vector<uint8_t>* out = nullptr;
  uint64_t from = 0, want = 0;
  long status = 0;
  bool have_range = false;        // a Content-Range header was seen
  uint64_t range_start = 0;
  uint64_t total = 0;             // from Content-Range "/N" or Content-Length (200)
  bool total_known = false;
  uint64_t content_length = 0;
  bool content_length_known = false;
  uint64_t received = 0;          // body bytes that arrived (all of them)
  uint64_t taken = 0;             // bytes appended to out
  bool enough = false;            // we aborted on purpose
};

bool starts_with_ci(const char* p, size_t n, const char* prefix) {
  size_t k = std::strlen(prefix);
  if (n < k) return false;
  for (size_t i = 0; i < k; ++i)
    if (std::tolower(static_cast<unsigned char>(p[i])) != prefix[i]) return false;
  return true;
}

size_t on_header(char* buf, size_t size, size_t nitems, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  size_t n = size * nitems;
  std::string line(buf, n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (starts_with_ci(line.data(), line.size(), "http/")) {
    // New response (redirects produce several): reset what we learned.
    t->status = 0;
    t->have_range = t->total_known = t->content_length_known = false;
    auto sp = line.find(' ');
    if (sp != std::string::npos) t->status = std::strtol(line.c_str() + sp + 1, nullptr, 10);
  } else if (starts_with_ci(line.data(), line.size(), "content-range:")) {
    // "Content-Range: bytes a-b/total" or "bytes */total"
    const char* p = line.c_str() + 14;
    while (*p == ' ') ++p;
    if (starts_with_ci(p, std::strlen(p), "bytes")) p += 5;
    while (*p == ' ') ++p;
    if (*p != '*') {
      t->range_start = std::strtoull(p, nullptr, 10);
      t->have_range = true;
    }
    const char* slash = std::strchr(p, '/');
    if (slash && slash[1] != '*') {
      t->total = std::strtoull(slash + 1, nullptr, 10);
      t->total_known = true;
    }
  } else if (starts_with_ci(line.data(), line.size(), "content-length:")) {
    t->content_length = std::strtoull(line.c_str() + 15, nullptr, 10);
    t->content_length_known = true;
  }
  return n;
}

size_t on_body(char* ptr, size_t size, size_t nmemb, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  size_t n = size * nmemb;
  uint64_t pos = t->received;  // offset of ptr[0] within the response body
  t->received += n;
  // Offset of the body's first byte in the resource: the range start for 206, 0 for 200.
  uint64_t body_start = (t->status == 206 && t->have_range) ? t->range_start : 0;
  uint64_t abs = body_start + pos;
  uint64_t end = t->from + t->want;
  uint64_t lo = std::max(abs, t->from + t->taken), hi = std::min<uint64_t>(abs + n, end);
  if (lo < hi && lo == t->from + t->taken) {
    t->out->insert(t->out->end(), reinterpret_cast<uint8_t*>(ptr) + (lo - abs),
                   reinterpret_cast<uint8_t*>(ptr) + (hi - abs));
    t->taken += hi - lo;
  }
  if (t->taken >= t->want) {
    t->enough = true;
    return 0;  // abort: we have what we asked for (a 200 response would send the whole file)
  }
  return n;
}

// Appends bytes [from, from + want) to out (fewer at the end of the resource). Returns the total
// resource size when the server reported it (0 otherwise).
uint64_t fetch_range(const std::string& url, uint64_t from, uint64_t want, std::vector<uint8_t>& out,
                     const FetchOptions& opt, FetchStats& st) {
  global_init();
  CURL* c = curl_easy_init();
  if (!c) throw core::Error("io", url + ": cannot initialise libcurl");
  Transfer t;
  t.out = &out;
  t.from = from;
  t.want = want;
  std::string range = std::to_string(from) + "-" + std::to_string(from + want - 1);
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "fitserve/plan");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, opt.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, opt.stall_timeout_s);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "identity");
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  st.requests += 1;
  st.bytes_fetched += t.received;
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && t.enough))
    throw core::Error("io", url + ": " + (errbuf[0] ? std::string(errbuf) : curl_easy_strerror(rc)),
                      "check the URL and the network; `plan` reads only the header with Range requests");
  if (status != 206 && status != 200)
    throw core::Error("io", url + ": HTTP " + std::to_string(status) + " for bytes " + range,
                      status == 404 ? "the file does not exist at this URL" : "");
  if (status == 206) return t.total_known ? t.total : 0;
  return t.content_length_known ? t.content_length : 0;
}

bool looks_truncated(const core::Error& e) {
  const std::string& m = e.message();
  return m.find("unexpected end of file") != std::string::npos ||
         m.find("cannot fit in the file") != std::string::npos ||
         m.find("past the end of the file") != std::string::npos ||
         m.find("file too small") != std::string::npos;
}

std::string human(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", b / 1048576.0);
  else std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(b));
  return buf;
}

}  // namespace

gguf::File fetch_header(const std::string& url, uint64_t* bytes_fetched, const FetchOptions& opt,
                        FetchStats* stats) {
  auto t0 = std::chrono::steady_clock::now();
  FetchStats st;
  st.remote = true;
  std::vector<uint8_t> prefix;
  uint64_t total = 0;
  uint64_t want = std::max<uint64_t>(opt.first_bytes, 64);
  auto finish = [&] {
    st.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    st.file_size = total;
    if (bytes_fetched) *bytes_fetched = st.bytes_fetched;
    if (stats) *stats = st;
  };
  for (;;) {
    if (prefix.size() < want) {
      uint64_t from = prefix.size();
      uint64_t n = want - from;
      if (total) n = std::min(n, total - from);
      uint64_t reported = fetch_range(url, from, n, prefix, opt, st);
      if (reported) {
        if (total && reported != total) {
          finish();
          throw core::Error("io", url + ": the file changed size during the fetch (" +
                                      std::to_string(total) + " then " + std::to_string(reported) + " bytes)");
        }
        total = reported;
      }
      if (!total) {
        finish();
        throw core::Error("io", url + ": the server did not report the file size (no Content-Range/Content-Length)");
      }
      if (prefix.size() < std::min(want, total)) {
        finish();
        throw core::Error("io", url + ": short read (" + std::to_string(prefix.size()) + " of " +
                                    std::to_string(std::min(want, total)) + " bytes)");
      }
    }
    try {
      gguf::File f = gguf::File::parse(core::MappedFile::from_bytes(prefix, url), total);
      finish();
      return f;
    } catch (const core::Error& e) {
      if (prefix.size() >= total || !looks_truncated(e)) {
        finish();
        throw;
      }
      if (want >= opt.max_bytes) {
        finish();
        throw core::Error("io", url + ": the GGUF header is larger than " + human(opt.max_bytes) +
                                    " (fetched " + human(prefix.size()) + ")");
      }
      want = std::min({want * 2, total, opt.max_bytes});
    }
  }
}

gguf::File open_header(const std::string& path_or_url, FetchStats* stats) {
  if (is_url(path_or_url)) return fetch_header(path_or_url, nullptr, {}, stats);
  auto t0 = std::chrono::steady_clock::now();
  gguf::File f = gguf::File::open(path_or_url);
  if (stats) {
    *stats = FetchStats{};
    stats->file_size = f.file_size();
    stats->ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  return f;
}

}  // namespace fitserve::plan
