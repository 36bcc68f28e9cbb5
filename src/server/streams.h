// server/streams.h — SSE stream sources of the generating endpoints, and helpers they share
// with the non-streaming paths in generate.cpp.
// Offers: make_chat_stream (chat.completion.chunk deltas from the incremental chat parse, usage
// chunk, [DONE]), make_completion_stream (text_completion chunks, [DONE]), make_native_stream
// (native /completion chunks, final object, no [DONE]); record_result(); result_error(); piece_fn().
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "server/jobs.h"
#include "server/params.h"
#include "server/state.h"

namespace fitserve::server {

// Metrics and /slots bookkeeping for one finished engine request.
void record_result(ServerState& st, const GenOptions& g, const engine::Result& r);
// HttpError for an engine result that is not a normal finish (error, cancelled); nullptr if fine.
std::unique_ptr<HttpError> result_error(const engine::Result& r);
// Raw bytes of a token, for logprob "bytes".
PieceFn piece_fn(const engine::Engine& eng);

std::unique_ptr<StreamSource> make_chat_stream(ServerState& st, std::unique_ptr<JobGroup> group,
                                               ChatParams cp, RenderedChat rc, GenOptions g, std::string id);
std::unique_ptr<StreamSource> make_completion_stream(ServerState& st, std::unique_ptr<JobGroup> group,
                                                     GenOptions g, std::string id);
std::unique_ptr<StreamSource> make_native_stream(ServerState& st, std::unique_ptr<JobGroup> group, GenOptions g,
                                                 std::vector<std::vector<int32_t>> prompts);
// The native /completion object of one finished request (stream's last chunk: content "").
nlohmann::json native_result_json(ServerState& st, const GenOptions& g, const engine::Result& r,
                                  const std::vector<int32_t>& prompt, int index, const std::string& content,
                                  const nlohmann::json& probs);

}  // namespace fitserve::server
