// libFuzzer target: request bodies. Any bytes must end in a parsed request or an HttpError
// (never a crash, hang, or another exception): JSON body limits, generation options for every
// API flavour, chat messages/tools, completion prompts, tokenize bodies.
#include <cstdint>
#include <string_view>

#include "server/params.h"

using namespace fitserve::server;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  static const ServerOptions opt;
  nlohmann::json j;
  try {
    j = parse_json_body(body, 64);
  } catch (const HttpError&) {
    return 0;
  }
  for (Api api : {Api::Chat, Api::OaiCompletion, Api::Native}) {
    try {
      (void)parse_gen_options(j, api, opt, 4);
    } catch (const HttpError&) {
    }
  }
  try {
    (void)parse_chat_params(j, opt);
  } catch (const HttpError&) {
  }
  try {
    if (j.contains("prompt")) (void)parse_prompts(j["prompt"], true);
  } catch (const HttpError&) {
  }
  try {
    (void)parse_tokenize(j);
  } catch (const HttpError&) {
  }
  try {
    (void)parse_token_ids(j, "tokens", 1000);
  } catch (const HttpError&) {
  }
  return 0;
}
