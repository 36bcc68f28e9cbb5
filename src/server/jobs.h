// server/jobs.h — one HTTP request's work in the engine, seen from an HTTP thread.
// Offers: JobGroup::start(engine, requests, active) submits every request (n choices or several
// prompts) and funnels their token events and results into one queue that the HTTP thread
// drains with wait(); cancel() stops all (the engine frees the slots at once); the destructor
// of a JobGroup handle cancels whatever is unfinished, so a dropped client never leaks a slot.
// `active` counts requests in flight (the server drains it on shutdown).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/engine.h"

namespace fitserve::server {

struct JobItem {
  int index = 0;              // which request of the group
  bool done = false;          // false: `event` is a token; true: `result` is the final result
  engine::TokenEvent event;
  engine::Result result;
};

class JobGroup {
 public:
  struct State;  // shared with the engine callbacks
  // Submits all requests; if one is refused (core::Error), the ones already started are
  // cancelled and the error is rethrown.
  static std::unique_ptr<JobGroup> start(engine::Engine& eng, std::vector<engine::Request> reqs,
                                         std::atomic<int>* active);
  ~JobGroup();  // cancels unfinished requests
  JobGroup(const JobGroup&) = delete;
  JobGroup& operator=(const JobGroup&) = delete;

  // Moves queued items into `out` (appending), waiting up to `timeout` for the first one.
  // Returns false when nothing arrived in time.
  bool wait(std::vector<JobItem>& out, std::chrono::milliseconds timeout);
  // Waits for everything; returns the results by index and, when `events` is given, every
  // token event by index.
  std::vector<engine::Result> wait_all(std::vector<std::vector<engine::TokenEvent>>* events = nullptr);
  bool all_done() const;  // every request has its result (items may still be queued)
  void cancel();
  size_t size() const { return ids_.size(); }

 private:
  JobGroup(engine::Engine& eng, std::shared_ptr<State> st) : eng_(eng), st_(std::move(st)) {}
  engine::Engine& eng_;
  std::shared_ptr<State> st_;
  std::vector<engine::RequestId> ids_;
};

}  // namespace fitserve::server
