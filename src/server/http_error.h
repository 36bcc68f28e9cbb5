// server/http_error.h — an error that becomes an OpenAI-style HTTP error response.
// Offers: HttpError (status, type, message, extra fields merged into the "error" object),
// shorthands bad_request()/unauthorized()/..., and from_core_error() that maps a core::Error code
// to an HTTP status: request/template/chat/tokenizer -> 400, oom/unavailable -> 503, anything else -> 500.
#pragma once
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace fitserve::server {

class HttpError : public std::runtime_error {
 public:
  HttpError(int status, std::string type, const std::string& message,
            nlohmann::json extra = nlohmann::json::object())
      : std::runtime_error(message), status_(status), type_(std::move(type)),
        extra_(std::move(extra)) {}
  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const nlohmann::json& extra() const { return extra_; }
  // {"error":{"code":status,"message":...,"type":...,<extra>}}
  nlohmann::json to_json() const {
    nlohmann::json e = {{"code", status_}, {"message", what()}, {"type", type_}};
    if (extra_.is_object())
      for (auto it = extra_.begin(); it != extra_.end(); ++it) e[it.key()] = it.value();
    return {{"error", std::move(e)}};
  }

 private:
  int status_;
  std::string type_;
  nlohmann::json extra_;
};

inline HttpError bad_request(const std::string& msg) {
  return HttpError(400, "invalid_request_error", msg);
}
inline HttpError unauthorized() { return HttpError(401, "authentication_error", "Invalid API Key"); }
inline HttpError not_found() { return HttpError(404, "not_found_error", "File Not Found"); }
inline HttpError not_supported(const std::string& msg) {
  return HttpError(501, "not_supported_error", msg);
}
inline HttpError unavailable(const std::string& msg) {
  return HttpError(503, "unavailable_error", msg);
}
inline HttpError server_error(const std::string& msg) { return HttpError(500, "server_error", msg); }

inline HttpError from_core_error(const core::Error& e) {
  const std::string& c = e.code();
  if (c == "request" || c == "template" || c == "chat" || c == "jinja" || c == "tokenizer")
    return bad_request(e.what());
  if (c == "oom" || c == "unavailable") return unavailable(e.what());
  return server_error(e.what());
}

}  // namespace fitserve::server
