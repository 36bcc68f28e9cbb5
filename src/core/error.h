// core/error.h — the one error type of fitserve.
// Offers: core::Error (code + message + hint), thrown by every parser and loader on bad input.
// what() is "<message>" or "<message>; hint: <hint>". Codes are short stable strings
// ("gguf", "io", "model", "tokenizer", "request", "oom", ...) that the server maps to HTTP.
#pragma once
#include <stdexcept>
#include <string>

namespace fitserve::core {

class Error : public std::runtime_error {
 public:
  Error(std::string code, std::string message, std::string hint = {})
      : std::runtime_error(hint.empty() ? message : message + "; hint: " + hint),
        code_(std::move(code)), message_(std::move(message)), hint_(std::move(hint)) {}
  const std::string& code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& hint() const { return hint_; }

 private:
  std::string code_, message_, hint_;
};

}  // namespace fitserve::core
