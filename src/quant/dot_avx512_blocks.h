// quant/dot_avx512_blocks.h — building blocks of the AVX-512 kernels for 32-element block types:
// f16 field extraction (word permutes / gathers), block decoders (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0
// IQ4_NL MXFP4: bytes per block, offset, scales, pair decoding), activation pair loads, software
// prefetch helpers. Internal: include only from *_avx512.cpp files, after <immintrin.h>;
// everything is in an unnamed namespace (internal linkage), see blocks.h on ISA-specific code.
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "quant/blocks.h"

namespace fitserve::quant::detail {
namespace {

#define FS_INLINE inline __attribute__((always_inline))

template <bool B>
struct Bool {
  static constexpr bool value = B;
};

FS_INLINE __m512 gather_f16(const uint8_t* base, __m512i idx, __mmask16 m) {
  const __m512i v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, base, 1);
  return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v));
}

// Word permutation tables to pull one 16-bit field (byte offset kOff, block stride kStride bytes)
// of each of a full group of 16 blocks out of plain 64-byte loads: load pair q (words 64q ..
// 64q+63 from the group start) supplies the fields inside it. Cheaper than VPGATHERDD (which
// cost ~1 cycle per block in GEMV). Odd positions (MXFP4's byte fields) are flagged in `odd`.
template <int kStride, int kOff>
struct WordPerm {
  static constexpr int kWords = 16 * kStride / 2;  // whole words inside the group
  static constexpr int kPairs = (kWords + 63) / 64;
  alignas(64) uint16_t idx[kPairs][32];
  uint32_t take[kPairs];  // which of the 16 outputs pair q supplies
  uint16_t odd;           // outputs whose field starts at an odd byte
};
template <int kStride, int kOff>
constexpr WordPerm<kStride, kOff> make_word_perm() {
  using T = WordPerm<kStride, kOff>;
  T t{};
  t.odd = 0;
  for (int q = 0; q < T::kPairs; ++q) {
    t.take[q] = 0;
    for (int i = 0; i < 32; ++i) t.idx[q][i] = 0;
    for (int i = 0; i < 16; ++i) {
      const int byte = kOff + kStride * i;
      const int w = byte / 2 - 64 * q;
      if (w >= 0 && w < 64) {
        t.idx[q][i] = static_cast<uint16_t>(w);
        t.take[q] |= 1u << i;
      }
      if (byte & 1) t.odd = static_cast<uint16_t>(t.odd | (1u << i));
    }
  }
  return t;
}
template <int kStride, int kOff>
constexpr WordPerm<kStride, kOff> kWordPerm = make_word_perm<kStride, kOff>();

// The 16-bit words holding field kOff of 16 consecutive blocks (all inside the group), in the
// low 256 bits. For an odd field position the wanted byte is the word's high byte.
template <int kStride, int kOff>
FS_INLINE __m256i words16_full(const uint8_t* base) {
  using T = WordPerm<kStride, kOff>;
  const uint16_t* p = reinterpret_cast<const uint16_t*>(base);
  __m512i res = _mm512_setzero_si512();
#pragma GCC unroll 16
  for (int q = 0; q < T::kPairs; ++q) {
    const int w0 = 64 * q, w1 = 64 * q + 32;
    const int n0 = T::kWords - w0 >= 32 ? 32 : T::kWords - w0;
    const int n1 = T::kWords - w1 >= 32 ? 32 : (T::kWords - w1 > 0 ? T::kWords - w1 : 0);
    const __mmask32 m0 = n0 >= 32 ? 0xFFFFFFFFu : ((1u << n0) - 1u);
    const __mmask32 m1 = n1 >= 32 ? 0xFFFFFFFFu : ((1u << n1) - 1u);
    const __m512i lo = _mm512_maskz_loadu_epi16(m0, p + w0);
    const __m512i hi = _mm512_maskz_loadu_epi16(m1, p + w1);
    const __m512i t = _mm512_permutex2var_epi16(lo, _mm512_load_si512(kWordPerm<kStride, kOff>.idx[q]), hi);
    res = _mm512_mask_mov_epi16(res, kWordPerm<kStride, kOff>.take[q], t);
  }
  return _mm512_castsi512_si256(res);
}

template <int kStride, int kOff>
FS_INLINE __m512 f16x16_full(const uint8_t* base) {
  static_assert(kStride % 2 == 0 && kOff % 2 == 0);
  return _mm512_cvtph_ps(words16_full<kStride, kOff>(base));
}

// The f16 fields of nbg (≤ 16) blocks: permutes for a full group, a masked gather otherwise.
template <int kStride, int kOff>
FS_INLINE __m512 f16x16(const uint8_t* base, __m512i idx, int nbg, __mmask16 m) {
  if (nbg == 16) return f16x16_full<kStride, kOff>(base);
  return gather_f16(base + kOff, idx, m);
}

FS_INLINE __m512i loadu256z(const uint8_t* p) {
  return _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// Two blocks' 16 packed nibble bytes -> 64 bytes 0..15 in element order [b0: 0..31 | b1: 0..31].
template <bool kOne>
FS_INLINE __m512i nib_pair(const uint8_t* q0, const uint8_t* q1) {
  __m512i z = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q0)));
  if constexpr (!kOne)
    z = _mm512_mask_broadcast_i32x4(z, 0xFF00, _mm_loadu_si128(reinterpret_cast<const __m128i*>(q1)));
  const __m512i sh = _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0);  // high nibbles in 128-bit lanes 1, 3
  return _mm512_and_si512(_mm512_srlv_epi64(z, sh), _mm512_set1_epi8(0x0F));
}

// Code books biased by +128 so that they are unsigned bytes for VPDPBUSD.
struct Lut {
  alignas(16) uint8_t v[16];
};
constexpr Lut make_lut(const int8_t* src) {
  Lut l{};
  for (int i = 0; i < 16; ++i) l.v[i] = static_cast<uint8_t>(src[i] + 128);
  return l;
}
constexpr Lut kIQ4Lut = make_lut(kIQ4NLValues);
constexpr Lut kMXFP4Lut = make_lut(kMXFP4Values);

FS_INLINE __m512i lut16(const Lut& l) {
  return _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(l.v)));
}

FS_INLINE uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// ---- weight decoders: bytes per block, offset, scale gathering, pair decoding ----

struct DQ4_0 {
  static constexpr int kB = 18, kOff = 8;
  static constexpr bool kMin = false;
  static FS_INLINE __m512 scales(const uint8_t* row, __m512i idx, int n, __mmask16 m) { return f16x16<kB, 0>(row, idx, n, m); }
  template <bool kOne>
  static FS_INLINE __m512i pair(const uint8_t* b) { return nib_pair<kOne>(b + 2, b + kB + 2); }
};

struct DQ4_1 {
  static constexpr int kB = 20, kOff = 0, kMOff = 2;
  static constexpr bool kMin = true;
  static FS_INLINE __m512 scales(const uint8_t* row, __m512i idx, int n, __mmask16 m) { return f16x16<kB, 0>(row, idx, n, m); }
  template <bool kOne>
  static FS_INLINE __m512i pair(const uint8_t* b) { return nib_pair<kOne>(b + 4, b + kB + 4); }
};

template <int kB_, int kQh, int kQs, int kOff_, bool kMin_>
struct DQ5 {
  static constexpr int kB = kB_, kOff = kOff_, kMOff = 2;
  static constexpr bool kMin = kMin_;
  static FS_INLINE __m512 scales(const uint8_t* row, __m512i idx, int n, __mmask16 m) { return f16x16<kB, 0>(row, idx, n, m); }
  template <bool kOne>
  static FS_INLINE __m512i pair(const uint8_t* b) {
    const __m512i z = nib_pair<kOne>(b + kQs, b + kB + kQs);
    uint64_t h = load32(b + kQh);
    if constexpr (!kOne) h |= static_cast<uint64_t>(load32(b + kB + kQh)) << 32;
    return _mm512_mask_add_epi8(z, _cvtu64_mask64(h), z, _mm512_set1_epi8(16));
  }
};
using DQ5_0 = DQ5<22, 2, 6, 16, false>;
using DQ5_1 = DQ5<24, 4, 8, 0, true>;

struct DQ8_0 {
  static constexpr int kB = 34, kOff = 128;
  static constexpr bool kMin = false;
  static FS_INLINE __m512 scales(const uint8_t* row, __m512i idx, int n, __mmask16 m) { return f16x16<kB, 0>(row, idx, n, m); }
  template <bool kOne>
  static FS_INLINE __m512i pair(const uint8_t* b) {
    __m512i z = loadu256z(b + 2);
    if constexpr (!kOne) z = _mm512_inserti64x4(z, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + kB + 2)), 1);
    return _mm512_xor_si512(z, _mm512_set1_epi8(static_cast<char>(0x80)));
  }
};

struct DIQ4_NL {
  static constexpr int kB = 18, kOff = 128;
  static constexpr bool kMin = false;
  static FS_INLINE __m512 scales(const uint8_t* row, __m512i idx, int n, __mmask16 m) { return f16x16<kB, 0>(row, idx, n, m); }
  template <bool kOne>
  static FS_INLINE __m512i pair(const uint8_t* b) {
    return _mm512_shuffle_epi8(lut16(kIQ4Lut), nib_pair<kOne>(b + 2, b + kB + 2));
  }
};

struct DMXFP4 {
  static constexpr int kB = 17, kOff = 128;
  static constexpr bool kMin = false;
  // 2^(e-128): e >= 2 -> exponent field e-1; e = 0, 1 -> subnormals 2^-128, 2^-127.
  static FS_INLINE __m512 scales(const uint8_t* row, __m512i idx, int n, __mmask16 m) {
    __m512i e;
    if (n == 16) {
      const __m256i w = words16_full<kB, 0>(row);
      const __m256i sh = _mm256_maskz_mov_epi16(kWordPerm<kB, 0>.odd, _mm256_set1_epi16(8));
      e = _mm512_cvtepu16_epi32(_mm256_and_si256(_mm256_srlv_epi16(w, sh), _mm256_set1_epi16(0xFF)));
    } else {
      const __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, row, 1);
      e = _mm512_and_si512(g, _mm512_set1_epi32(0xFF));
    }
    const __m512i normal = _mm512_slli_epi32(_mm512_sub_epi32(e, _mm512_set1_epi32(1)), 23);
    const __m512i sub = _mm512_sllv_epi32(_mm512_set1_epi32(0x00200000), e);
    const __mmask16 small = _mm512_cmplt_epu32_mask(e, _mm512_set1_epi32(2));
    return _mm512_castsi512_ps(_mm512_mask_blend_epi32(small, normal, sub));
  }
  template <bool kOne>
  static FS_INLINE __m512i pair(const uint8_t* b) {
    return _mm512_shuffle_epi8(lut16(kMXFP4Lut), nib_pair<kOne>(b + 1, b + kB + 1));
  }
};

// Activation blocks: Q8_0 (d, qs[32]) or Q8_1 (d, s, qs[32]).
template <bool kQ8_1>
struct Act {
  static constexpr int kB = kQ8_1 ? 36 : 34, kQs = kQ8_1 ? 4 : 2;
  template <bool kOne>
  static FS_INLINE __m512i pair(const uint8_t* b) {
    __m512i z = loadu256z(b + kQs);
    if constexpr (!kOne) z = _mm512_inserti64x4(z, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + kB + kQs)), 1);
    return z;
  }
};

// Software prefetch distance of the row-tiled kernels: the same group of blocks this many bytes'
// worth of rows further down (at least 4 rows). Each weight row is a short stream, too short for
// the hardware prefetchers to ramp up; without this, GEMV from DRAM runs ~3x slower.
FS_INLINE size_t prefetch_bytes(size_t ws) {
  const size_t rows = (16384 + ws - 1) / ws;
  return (rows < 4 ? 4 : rows) * ws;
}

// The one-row-at-a-time GEMV kernels read each thread's rows as one ascending stream and prefetch
// this many bytes ahead of the current position (measured on the 2-core Zen 5 VM: 4 KB a little
// better than 2, 8 or 16 KB; T0 and T1 hints alike).
constexpr size_t kStreamPrefetch = 4096;

FS_INLINE void prefetch_range(const uint8_t* p, int bytes) {
  for (int l = 0; l < bytes; l += 64) _mm_prefetch(reinterpret_cast<const char*>(p + l), _MM_HINT_T0);
}

}  // namespace
}  // namespace fitserve::quant::detail
