// tokenizer/word_cache.h — per-thread memo of word -> token ids for the BPE tokenizers
// (internal to the module). BPE output of a pre-tokenized word depends only on the word, so
// repeated words (most of natural text) skip merging. Bounded: cleared when full. Each cache
// belongs to one tokenizer (by serial number) and is reset when another one uses the thread.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tables.h"

namespace fitserve::tokenizer {

class WordCache {
 public:
  static constexpr size_t kMaxWord = 48;         // longer words are not cached
  static constexpr size_t kSlots = size_t{1} << 16;  // at most half of them used

  // Returns the cache of this thread for the tokenizer `serial`.
  static WordCache& for_thread(uint64_t serial) {
    thread_local WordCache c;
    if (c.serial_ != serial) c.reset(serial);
    return c;
  }

  // Appends the cached ids of `word` to out and returns true, or returns false.
  bool get(std::string_view word, uint64_t h, std::vector<int32_t>& out) const {
    for (size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      const Slot& s = slots_[i];
      if (s.text_len == 0) return false;
      if (s.hash == h && s.text_len == word.size() &&
          std::memcmp(text_.data() + s.text_off, word.data(), word.size()) == 0) {
        out.insert(out.end(), ids_.begin() + s.ids_off, ids_.begin() + s.ids_off + s.ids_len);
        return true;
      }
    }
  }

  void put(std::string_view word, uint64_t h, const int32_t* ids, size_t n) {
    if (word.empty() || word.size() > kMaxWord) return;
    if (used_ * 2 >= kSlots) reset(serial_);
    size_t i = h & (kSlots - 1);
    while (slots_[i].text_len != 0) i = (i + 1) & (kSlots - 1);
    slots_[i] = Slot{h, static_cast<uint32_t>(text_.size()), static_cast<uint32_t>(word.size()),
                     static_cast<uint32_t>(ids_.size()), static_cast<uint32_t>(n)};
    text_.append(word);
    ids_.insert(ids_.end(), ids, ids + n);
    ++used_;
  }

 private:
  struct Slot {
    uint64_t hash;
    uint32_t text_off, text_len, ids_off, ids_len;
  };
  void reset(uint64_t serial) {
    serial_ = serial;
    slots_.assign(kSlots, Slot{0, 0, 0, 0, 0});
    text_.clear();
    ids_.clear();
    used_ = 0;
  }
  uint64_t serial_ = 0;
  std::vector<Slot> slots_;
  std::string text_;
  std::vector<int32_t> ids_;
  size_t used_ = 0;
};

}  // namespace fitserve::tokenizer
