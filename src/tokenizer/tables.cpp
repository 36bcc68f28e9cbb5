// tokenizer/tables.cpp — arena symbol table and pair-merge hash table.
#include "tokenizer/tables.h"

#include <cstring>

#include "core/error.h"

namespace fitserve::tokenizer {

uint64_t hash_bytes(const char* p, size_t n) {
  // 8 bytes at a time, multiply-xorshift mixing; good enough for token texts.
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0xC2B2AE3D27D4EB4FULL);
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = (h ^ v) * 0xFF51AFD7ED558CCDULL;
    h ^= h >> 32;
    p += 8;
    n -= 8;
  }
  if (n) {
    uint64_t v = 0;
    std::memcpy(&v, p, n);
    h = (h ^ v) * 0xC4CEB9FE1A85EC53ULL;
  }
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ULL;
  h ^= h >> 32;
  return h;
}

void SymbolTable::reserve(size_t n_symbols, size_t n_bytes) {
  offs_.reserve(n_symbols + 1);
  arena_.reserve(n_bytes);
}

int32_t SymbolTable::append(std::string_view text) {
  arena_.append(text);
  offs_.push_back(static_cast<uint32_t>(arena_.size()));
  return static_cast<int32_t>(offs_.size() - 2);
}

void SymbolTable::build_index() {
  size_t cap = 16;
  while (cap < static_cast<size_t>(size()) * 2) cap <<= 1;
  slots_.assign(cap, 0);
  mask_ = cap - 1;
  used_ = 0;
  for (int32_t id = 0; id < size(); ++id) {
    const auto t = text(id);
    insert(id, hash_bytes(t.data(), t.size()));
  }
}

namespace {
inline uint64_t slot_head(uint64_t h, size_t len) {  // tag and length: the upper 32 bits of a slot
  return ((h >> 40) << 8) | (len < 255 ? len : 255);
}
}  // namespace

void SymbolTable::insert(int32_t id, uint64_t h) {
  const auto t = text(id);
  const uint64_t head = slot_head(h, t.size());
  for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
    const uint64_t s = slots_[i];
    if (s == 0) {
      slots_[i] = (head << 32) | static_cast<uint32_t>(id + 1);
      ++used_;
      return;
    }
    if ((s >> 32) == head) {
      const auto other = static_cast<int32_t>(static_cast<uint32_t>(s) - 1);
      if (text(other) == t) {  // duplicate text: the later id wins
        slots_[i] = (head << 32) | static_cast<uint32_t>(id + 1);
        return;
      }
    }
  }
}

void SymbolTable::grow() {
  std::vector<uint64_t> old;
  old.swap(slots_);
  slots_.assign(old.size() * 2, 0);
  mask_ = slots_.size() - 1;
  used_ = 0;
  for (uint64_t s : old) {
    if (!s) continue;
    const auto id = static_cast<int32_t>(static_cast<uint32_t>(s) - 1);
    const auto t = text(id);
    insert(id, hash_bytes(t.data(), t.size()));
  }
}

int32_t SymbolTable::add_indexed(std::string_view text_in) {
  const int32_t id = append(text_in);
  if (slots_.empty() || (used_ + 1) * 2 > slots_.size()) {
    if (slots_.empty()) {
      build_index();
      return id;
    }
    grow();
  }
  const auto t = text(id);
  insert(id, hash_bytes(t.data(), t.size()));
  return id;
}

int32_t SymbolTable::find(std::string_view t) const { return find_hashed(t, hash_bytes(t.data(), t.size())); }

int32_t SymbolTable::find_hashed(std::string_view t, uint64_t h) const {
  if (slots_.empty()) return -1;
  const uint64_t head = slot_head(h, t.size());
  for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
    const uint64_t s = slots_[i];
    if (s == 0) return -1;
    if ((s >> 32) == head) {
      const auto id = static_cast<int32_t>(static_cast<uint32_t>(s) - 1);
      const uint32_t off = offs_[id];
      if (offs_[id + 1] - off == t.size() && std::memcmp(arena_.data() + off, t.data(), t.size()) == 0) return id;
    }
  }
}

namespace {
unsigned bits_for(uint64_t n) {  // smallest b with n <= 2^b
  unsigned b = 1;
  while (b < 64 && (uint64_t{1} << b) < n) ++b;
  return b;
}
}  // namespace

void MergeTable::init(size_t n_merges, size_t max_symbols) {
  sym_bits_ = bits_for(max_symbols);
  rank_bits_ = bits_for(n_merges + 2);
  if (2 * sym_bits_ + rank_bits_ > 64)
    throw core::Error("tokenizer", "vocabulary too large for the merge table (" + std::to_string(max_symbols) +
                                       " symbols, " + std::to_string(n_merges) + " merges)");
  rank_mask_ = (uint64_t{1} << rank_bits_) - 1;
  size_t cap = 16;
  while (cap < n_merges * 2) cap <<= 1;
  slots_.assign(cap, 0);
  results_.assign(n_merges, -1);
  mask_ = cap - 1;
  used_ = 0;
}

void MergeTable::insert(int32_t left, int32_t right, int32_t rank, int32_t result) {
  if (left < 0 || right < 0 || rank < 0 || static_cast<size_t>(rank) >= results_.size() ||
      (static_cast<uint64_t>(left) >> sym_bits_) || (static_cast<uint64_t>(right) >> sym_bits_))
    throw core::Error("tokenizer", "merge table: id or rank out of range");
  const uint64_t key = (static_cast<uint64_t>(left) << sym_bits_) | static_cast<uint64_t>(right);
  for (uint64_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
    const uint64_t s = slots_[i];
    if (s == 0) {
      slots_[i] = (key << rank_bits_) | static_cast<uint64_t>(rank + 1);
      results_[rank] = result;
      ++used_;
      return;
    }
    if ((s >> rank_bits_) == key) return;  // keep the lower rank
  }
}

}  // namespace fitserve::tokenizer
