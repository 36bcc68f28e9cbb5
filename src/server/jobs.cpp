// server/jobs.cpp — engine request groups (see jobs.h).
#include "server/jobs.h"

#include "core/error.h"

namespace fitserve::server {

struct JobGroup::State {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<JobItem> queue;
  size_t n_total = 0;
  size_t n_done = 0;
  std::atomic<bool> cancelled{false};
  std::atomic<int>* active = nullptr;
};

std::unique_ptr<JobGroup> JobGroup::start(engine::Engine& eng, std::vector<engine::Request> reqs,
                                          std::atomic<int>* active) {
  auto st = std::make_shared<State>();
  st->n_total = reqs.size();
  st->active = active;
  std::unique_ptr<JobGroup> g(new JobGroup(eng, st));
  for (size_t i = 0; i < reqs.size(); ++i) {
    const int index = static_cast<int>(i);
    auto on_token = [st, index](const engine::TokenEvent& ev) {
      if (st->cancelled.load()) return false;
      {
        std::lock_guard<std::mutex> lock(st->mu);
        JobItem it;
        it.index = index;
        it.event = ev;
        st->queue.push_back(std::move(it));
      }
      st->cv.notify_all();
      return true;
    };
    auto on_done = [st, index](const engine::Result& r) {
      {
        std::lock_guard<std::mutex> lock(st->mu);
        JobItem it;
        it.index = index;
        it.done = true;
        it.result = r;
        st->queue.push_back(std::move(it));
        st->n_done++;
      }
      if (st->active) st->active->fetch_sub(1);
      st->cv.notify_all();
    };
    if (active) active->fetch_add(1);
    try {
      g->ids_.push_back(eng.submit(std::move(reqs[i]), on_token, on_done));
    } catch (...) {
      if (active) active->fetch_sub(1);
      {
        std::lock_guard<std::mutex> lock(st->mu);
        st->n_total = g->ids_.size();  // the refused ones never report
      }
      throw;  // ~JobGroup cancels the started ones
    }
  }
  return g;
}

JobGroup::~JobGroup() {
  if (!all_done()) cancel();
}

void JobGroup::cancel() {
  st_->cancelled.store(true);
  for (auto id : ids_) eng_.cancel(id);
}

bool JobGroup::all_done() const {
  std::lock_guard<std::mutex> lock(st_->mu);
  return st_->n_done >= st_->n_total;
}

bool JobGroup::wait(std::vector<JobItem>& out, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(st_->mu);
  if (!st_->cv.wait_for(lock, timeout, [&] { return !st_->queue.empty(); })) return false;
  while (!st_->queue.empty()) {
    out.push_back(std::move(st_->queue.front()));
    st_->queue.pop_front();
  }
  return true;
}

std::vector<engine::Result> JobGroup::wait_all(std::vector<std::vector<engine::TokenEvent>>* events) {
  std::vector<engine::Result> results(ids_.size());
  if (events) events->assign(ids_.size(), {});
  size_t done = 0;
  std::vector<JobItem> items;
  while (done < ids_.size()) {
    items.clear();
    wait(items, std::chrono::milliseconds(1000));
    for (auto& it : items) {
      if (it.index < 0 || static_cast<size_t>(it.index) >= ids_.size()) continue;
      if (it.done) {
        results[it.index] = std::move(it.result);
        ++done;
      } else if (events) {
        (*events)[it.index].push_back(std::move(it.event));
      }
    }
  }
  return results;
}

}  // namespace fitserve::server
