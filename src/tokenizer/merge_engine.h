// tokenizer/merge_engine.h — the pair-merging loop shared by BPE (merge ranks) and
// SentencePiece (token scores) tokenization (internal to the module).
// Offers: Symbol (a node of the doubly linked symbol list), MergeWork (reusable buffers) and
// run_merges(work, pair_fn): repeatedly merges the best-priority adjacent pair. pair_fn(l, r, c)
// decides whether symbols l and r may merge and fills c.prio (lower merges first) and c.result.
// Ties are broken by the left symbol's position (leftmost first).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace fitserve::tokenizer {

struct Symbol {
  int32_t id;     // symbol id (vocab token, extra BPE symbol) or -1
  int32_t prev;   // index of the previous live symbol, -1 at the start
  int32_t next;   // index of the next live symbol, -1 at the end
  uint32_t start; // byte offset in the word
  uint32_t len;   // byte length; 0 once merged into its left neighbour
};

struct MergeCand {
  uint64_t key;  // (priority << 32) | left index: smaller merges first
  int32_t left, right;
  uint32_t left_len, right_len;
  int32_t result;
};

struct MergeWork {
  std::vector<Symbol> syms;
  std::vector<MergeCand> heap;
  void clear() {
    syms.clear();
    heap.clear();
  }
  void push_symbol(int32_t id, uint32_t start, uint32_t len) {
    const auto i = static_cast<int32_t>(syms.size());
    syms.push_back(Symbol{id, i - 1, -1, start, len});
    if (i > 0) syms[i - 1].next = i;
  }
};

// Any length: lazy-deletion binary heap of candidate pairs.
template <class PairFn>
void run_merges_heap(MergeWork& w, PairFn&& pair_fn) {
  auto& syms = w.syms;
  auto& heap = w.heap;
  heap.clear();
  if (syms.size() < 2) return;
  const auto greater = [](const MergeCand& a, const MergeCand& b) { return a.key > b.key; };
  auto try_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    uint32_t prio;
    int32_t result;
    if (!pair_fn(syms[l], syms[r], prio, result)) return;
    heap.push_back(MergeCand{(static_cast<uint64_t>(prio) << 32) | static_cast<uint32_t>(l), l, r,
                             syms[l].len, syms[r].len, result});
    std::push_heap(heap.begin(), heap.end(), greater);
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(syms.size()); ++i) try_add(i, i + 1);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), greater);
    const MergeCand c = heap.back();
    heap.pop_back();
    Symbol& l = syms[c.left];
    Symbol& r = syms[c.right];
    // Stale candidate: one side already merged elsewhere (lengths only grow).
    if (l.len != c.left_len || r.len != c.right_len || l.next != c.right) continue;
    l.len += r.len;
    l.id = c.result;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = c.left;
    try_add(l.prev, c.left);
    try_add(c.left, l.next);
  }
}

// Words of up to this many symbols merge by scanning for the best pair (no heap).
inline constexpr size_t kSmallWord = 24;

// PairFn: bool(const Symbol& l, const Symbol& r, uint32_t& prio, int32_t& result)
template <class PairFn>
void run_merges_small(MergeWork& w, PairFn&& pair_fn) {
  auto& syms = w.syms;
  if (syms.size() > kSmallWord) return run_merges_heap(w, pair_fn);
  const auto n = static_cast<int32_t>(syms.size());
  uint64_t key[kSmallWord];  // (prio << 32) | index of the pair starting at symbol i; ~0 = none
  int32_t result[kSmallWord];
  constexpr uint64_t kNone = ~uint64_t{0};
  auto eval = [&](int32_t i) {
    const int32_t j = syms[i].next;
    uint32_t prio;
    if (j >= 0 && pair_fn(syms[i], syms[j], prio, result[i]))
      key[i] = (static_cast<uint64_t>(prio) << 32) | static_cast<uint32_t>(i);
    else
      key[i] = kNone;
  };
  for (int32_t i = 0; i < n; ++i) eval(i);
  while (true) {
    uint64_t best = kNone;
    for (int32_t i = 0; i >= 0; i = syms[i].next) best = key[i] < best ? key[i] : best;
    if (best == kNone) return;
    const auto i = static_cast<int32_t>(static_cast<uint32_t>(best));
    Symbol& l = syms[i];
    Symbol& r = syms[l.next];
    l.len += r.len;
    l.id = result[i];
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = i;
    eval(i);
    if (l.prev >= 0) eval(l.prev);
  }
}

template <class PairFn>
void run_merges(MergeWork& w, PairFn&& pair_fn) {
  if (w.syms.size() < 2) return;
  if (w.syms.size() <= kSmallWord) run_merges_small(w, pair_fn);
  else run_merges_heap(w, pair_fn);
}

}  // namespace fitserve::tokenizer
