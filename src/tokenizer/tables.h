// tokenizer/tables.h — compact lookup tables behind the tokenizers (internal to the module).
// Offers: SymbolTable (all symbol texts in one arena + open-addressing index text -> id; ids
// [0, n_vocab) are vocabulary tokens, later ids are extra BPE symbols that merges name but the
// vocabulary lacks) and MergeTable ((left id, right id) -> (rank, result id)).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fitserve::tokenizer {

uint64_t hash_bytes(const char* p, size_t n);

class SymbolTable {
 public:
  void reserve(size_t n_symbols, size_t n_bytes);
  // Appends a symbol and returns its id. Not indexed until build_index()/index_last().
  int32_t append(std::string_view text);
  // Builds the index over all symbols; for duplicate texts the highest id wins.
  void build_index();
  // Appends and indexes one symbol (used after build_index()).
  int32_t add_indexed(std::string_view text);
  int32_t find(std::string_view text) const;  // -1 when absent
  // The same with the text's hash_bytes() already computed; prefetch() warms its slot.
  int32_t find_hashed(std::string_view text, uint64_t h) const;
  void prefetch(uint64_t h) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[h & mask_]);
  }
  std::string_view text(int32_t id) const {
    return {arena_.data() + offs_[id], static_cast<size_t>(offs_[id + 1] - offs_[id])};
  }
  int32_t size() const { return static_cast<int32_t>(offs_.size() - 1); }

 private:
  void insert(int32_t id, uint64_t h);
  void grow();
  std::string arena_;
  std::vector<uint32_t> offs_{0};
  // slot: tag (24 hash bits) << 40 | min(len, 255) << 32 | (id + 1); 0 = empty
  std::vector<uint64_t> slots_;
  uint64_t mask_ = 0;
  size_t used_ = 0;
};

class MergeTable {
 public:
  // n_merges: how many will be inserted; max_symbols: an upper bound on symbol ids.
  // Throws core::Error("tokenizer") when ids and ranks do not fit the packed 64-bit slots.
  void init(size_t n_merges, size_t max_symbols);
  // First insertion of a pair wins (lowest rank). Ranks must be < n_merges.
  void insert(int32_t left, int32_t right, int32_t rank, int32_t result);
  bool find(int32_t left, int32_t right, int32_t& rank, int32_t& result) const {
    if (slots_.empty() || left < 0 || right < 0) return false;
    const uint64_t key = (static_cast<uint64_t>(left) << sym_bits_) | static_cast<uint64_t>(right);
    for (uint64_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
      const uint64_t s = slots_[i];
      if (s == 0) return false;
      if ((s >> rank_bits_) == key) {
        rank = static_cast<int32_t>((s & rank_mask_) - 1);
        result = results_[rank];
        return true;
      }
    }
  }
  void prefetch(int32_t left, int32_t right) const {
    if (slots_.empty() || left < 0 || right < 0) return;
    const uint64_t key = (static_cast<uint64_t>(left) << sym_bits_) | static_cast<uint64_t>(right);
    __builtin_prefetch(&slots_[mix(key) & mask_]);
  }
  size_t size() const { return used_; }

 private:
  static uint64_t mix(uint64_t k) {
    k ^= k >> 29;
    k *= 0xbf58476d1ce4e5b9ULL;
    k ^= k >> 32;
    return k;
  }
  // slot = (left << sym_bits | right) << rank_bits | (rank + 1); 0 = empty
  std::vector<uint64_t> slots_;
  std::vector<int32_t> results_;  // by rank
  uint64_t mask_ = 0, rank_mask_ = 0;
  unsigned sym_bits_ = 0, rank_bits_ = 0;
  size_t used_ = 0;
};

}  // namespace fitserve::tokenizer
