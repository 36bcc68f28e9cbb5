// AVX-512 (F/BW/VL/DQ/VNNI) kernels for Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_XS weights against
// Q8_K activations.
//
// Tiles of R weight rows × C activation rows, R·C float accumulators in registers over all of k;
// GEMV (C = 1) one row at a time (R = 1), so that each thread reads its rows as one ascending
// stream: on the 2-core Zen 5 VM that reads Q6_K at ~48 GB/s on 2 threads instead of ~37 with
// 4-row tiles (see dot_gemv_avx512.cpp).
// Per 256-super-block, phase A decodes each weight row into four 64-byte registers of unsigned
// quants (chunk ch = elements 64·ch .. 64·ch+63, the activation's order) plus 16-bit sub-block
// scale vectors; phase B, per activation row: VPMADDUBSW (u8 × s8 → s16 pairs; no saturation:
// |q| ≤ 63, |a| ≤ 127) then VPDPWSSD with the scales → exact int32 Σ_j sc_j·(q·a)_j. Mins
// (Q4_K/Q5_K) and Q6_K's −32 offset come from the Q8_K block sums (VPMADDWD). Then
// acc += float(isum)·(d_w·d_a) [− float(msum)·(dmin_w·d_a)].
// Everything here has internal linkage (see blocks.h on ISA-specific code sharing).
// GCC 12 reports its own _mm*_undefined_* helpers as uninitialized uses.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "quant/blocks.h"
#include "quant/dot_avx512_blocks.h"
#include "quant/dot_internal.h"

namespace fitserve::quant::detail {

namespace {

FS_INLINE __m256i load256(const void* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// VPSHUFB controls: chunk ch gets scale word 2ch in its low 256 bits and word 2ch+1 in its high.
struct Ctl {
  alignas(64) uint8_t v[4][64];
};
constexpr Ctl make_ctl() {
  Ctl c{};
  for (int ch = 0; ch < 4; ++ch)
    for (int i = 0; i < 64; ++i) {
      const int word = 2 * ch + (i >= 32 ? 1 : 0);
      c.v[ch][i] = static_cast<uint8_t>(2 * word + (i & 1));
    }
  return c;
}
constexpr Ctl kCtl = make_ctl();

// VPERMW indices for Q6_K: chunk ch, 128-bit lane l (8 words) takes scale 4·ch + l.
struct Idx16 {
  alignas(64) uint16_t v[4][32];
};
constexpr Idx16 make_q6_idx() {
  Idx16 x{};
  for (int ch = 0; ch < 4; ++ch)
    for (int i = 0; i < 32; ++i) x.v[ch][i] = static_cast<uint16_t>(4 * ch + i / 8);
  return x;
}
constexpr Idx16 kQ6Idx = make_q6_idx();

struct Decoded {
  __m512i wq[4];  // unsigned quants, activation order
  __m512i sc[4];  // int16 scale per maddubs word
  __m256i aux;    // Q4/5_K: mins duplicated per 16-sum pair; Q6_K: the 16 scales
  __m512 d, dmin;
};

template <bool kQ5>
FS_INLINE void decode_q45(const uint8_t* p, Decoded& o) {
  const auto* x = reinterpret_cast<const BlockQ4_K*>(p);  // d, dmin, scales at the same offsets
  uint16_t hd, hm;
  std::memcpy(&hd, p, 2);
  std::memcpy(&hm, p + 2, 2);
  o.d = _mm512_set1_ps(_cvtsh_ss(hd));
  o.dmin = _mm512_set1_ps(_cvtsh_ss(hm));
  const uint32_t w0 = load32(x->scales), w1 = load32(x->scales + 4), w2 = load32(x->scales + 8);
  const uint32_t sl = w0 & 0x3F3F3F3Fu, sh = (w2 & 0x0F0F0F0Fu) | ((w0 >> 2) & 0x30303030u);
  const uint32_t ml = w1 & 0x3F3F3F3Fu, mh = ((w2 >> 4) & 0x0F0F0F0Fu) | ((w1 >> 2) & 0x30303030u);
  const __m128i b8 = _mm_set_epi32(static_cast<int>(mh), static_cast<int>(ml), static_cast<int>(sh),
                                   static_cast<int>(sl));
  const __m512i sz = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(b8));
#pragma GCC unroll 4
  for (int ch = 0; ch < 4; ++ch) o.sc[ch] = _mm512_shuffle_epi8(sz, _mm512_load_si512(kCtl.v[ch]));
  const __m128i m8 = _mm_srli_si128(b8, 8);
  o.aux = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
  const uint8_t* qs = kQ5 ? reinterpret_cast<const BlockQ5_K*>(p)->qs : x->qs;
  const __m512i sh4 = _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512i qhz;
  if constexpr (kQ5) qhz = _mm512_broadcast_i64x4(load256(reinterpret_cast<const BlockQ5_K*>(p)->qh));
#pragma GCC unroll 4
  for (int ch = 0; ch < 4; ++ch) {
    const __m512i q = _mm512_broadcast_i64x4(load256(qs + 32 * ch));
    __m512i w = _mm512_and_si512(_mm512_srlv_epi64(q, sh4), low4);
    if constexpr (kQ5) {
      // bit 2ch (low half) / 2ch+1 (high half) of each qh byte -> bit 4
      const __m512i rot = _mm512_set_epi64((3 - 2 * ch) & 63, (3 - 2 * ch) & 63, (3 - 2 * ch) & 63, (3 - 2 * ch) & 63,
                                           (4 - 2 * ch) & 63, (4 - 2 * ch) & 63, (4 - 2 * ch) & 63, (4 - 2 * ch) & 63);
      w = _mm512_ternarylogic_epi32(w, _mm512_rolv_epi64(qhz, rot), _mm512_set1_epi8(0x10), 0xF8);  // a | (b & c)
    }
    o.wq[ch] = w;
  }
}

FS_INLINE void decode_q6(const uint8_t* p, Decoded& o) {
  const auto* x = reinterpret_cast<const BlockQ6_K*>(p);
  uint16_t hd;
  std::memcpy(&hd, &x->d, 2);
  o.d = _mm512_set1_ps(_cvtsh_ss(hd));
  o.aux = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x->scales)));
  const __m512i scz = _mm512_castsi256_si512(o.aux);
#pragma GCC unroll 4
  for (int ch = 0; ch < 4; ++ch) o.sc[ch] = _mm512_permutexvar_epi16(_mm512_load_si512(kQ6Idx.v[ch]), scz);
  const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
  const __m512i shl = _mm512_set_epi64(2, 2, 2, 2, 4, 4, 4, 4), shr = _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0);
#pragma GCC unroll 2
  for (int n = 0; n < 2; ++n) {
    const __m512i ql = _mm512_loadu_si512(x->ql + 64 * n);
    const __m512i qhz = _mm512_broadcast_i64x4(load256(x->qh + 32 * n));
    const __m512i lo = _mm512_and_si512(ql, low4);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(ql, 4), low4);
    o.wq[2 * n] = _mm512_ternarylogic_epi32(lo, _mm512_sllv_epi64(qhz, shl), bits45, 0xF8);
    o.wq[2 * n + 1] = _mm512_ternarylogic_epi32(hi, _mm512_srlv_epi64(qhz, shr), bits45, 0xF8);
  }
}

// Q2_K: 2-bit quants, 16 sub-blocks of 16 with 4-bit scale and min codes.
FS_INLINE void decode_q2(const uint8_t* p, Decoded& o) {
  const auto* x = reinterpret_cast<const BlockQ2_K*>(p);
  uint16_t hd, hm;
  std::memcpy(&hd, &x->d, 2);
  std::memcpy(&hm, &x->dmin, 2);
  o.d = _mm512_set1_ps(_cvtsh_ss(hd));
  o.dmin = _mm512_set1_ps(_cvtsh_ss(hm));
  const __m128i s8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x->scales));
  const __m128i low4 = _mm_set1_epi8(0x0F);
  o.aux = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s8, 4), low4));
  const __m512i scz = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_and_si128(s8, low4)));
#pragma GCC unroll 4
  for (int ch = 0; ch < 4; ++ch) o.sc[ch] = _mm512_permutexvar_epi16(_mm512_load_si512(kQ6Idx.v[ch]), scz);
  const __m512i three = _mm512_set1_epi8(3);
#pragma GCC unroll 4
  for (int ch = 0; ch < 4; ++ch) {  // elements 64ch..: half n = ch/2, shifts j = 2(ch%2), +1
    const int j = 2 * (ch % 2);
    const __m512i q = _mm512_broadcast_i64x4(load256(x->qs + 32 * (ch / 2)));
    const __m512i sh = _mm512_set_epi64(2 * j + 2, 2 * j + 2, 2 * j + 2, 2 * j + 2, 2 * j, 2 * j, 2 * j, 2 * j);
    o.wq[ch] = _mm512_and_si512(_mm512_srlv_epi64(q, sh), three);
  }
}

// Q3_K: 2 low bits + 1 high bit (hmask) per quant, unsigned u = q + 4 ∈ 0..7; 16 signed 6-bit
// scales (code − 32).
FS_INLINE void decode_q3(const uint8_t* p, Decoded& o) {
  const auto* x = reinterpret_cast<const BlockQ3_K*>(p);
  uint16_t hd;
  std::memcpy(&hd, &x->d, 2);
  o.d = _mm512_set1_ps(_cvtsh_ss(hd));
  uint64_t s64;
  std::memcpy(&s64, x->scales, 8);
  const uint32_t h32 = load32(x->scales + 8);
  const uint64_t lo8 = s64 & 0x0F0F0F0F0F0F0F0FULL, hi8 = (s64 >> 4) & 0x0F0F0F0F0F0F0F0FULL;
  const uint64_t hl = (h32 & 0x03030303u) | (static_cast<uint64_t>((h32 >> 2) & 0x03030303u) << 32);
  const uint64_t hh = ((h32 >> 4) & 0x03030303u) | (static_cast<uint64_t>((h32 >> 6) & 0x03030303u) << 32);
  const __m128i codes = _mm_set_epi64x(static_cast<long long>(hi8 | (hh << 4)), static_cast<long long>(lo8 | (hl << 4)));
  o.aux = _mm256_sub_epi16(_mm256_cvtepu8_epi16(codes), _mm256_set1_epi16(32));
  const __m512i scz = _mm512_castsi256_si512(o.aux);
#pragma GCC unroll 4
  for (int ch = 0; ch < 4; ++ch) o.sc[ch] = _mm512_permutexvar_epi16(_mm512_load_si512(kQ6Idx.v[ch]), scz);
  const __m512i hz = _mm512_broadcast_i64x4(load256(x->hmask));
  const __m512i three = _mm512_set1_epi8(3), four = _mm512_set1_epi8(4);
#pragma GCC unroll 4
  for (int ch = 0; ch < 4; ++ch) {
    const int j = 2 * (ch % 2), n = ch / 2;
    const __m512i q = _mm512_broadcast_i64x4(load256(x->qs + 32 * n));
    const __m512i sh = _mm512_set_epi64(2 * j + 2, 2 * j + 2, 2 * j + 2, 2 * j + 2, 2 * j, 2 * j, 2 * j, 2 * j);
    const __m512i low = _mm512_and_si512(_mm512_srlv_epi64(q, sh), three);
    // hmask bit 4n+j (low half) / 4n+j+1 (high half) of each byte -> bit 2
    const int bl = 4 * n + j, bh = bl + 1;
    const __m512i rot = _mm512_set_epi64((2 - bh) & 63, (2 - bh) & 63, (2 - bh) & 63, (2 - bh) & 63, (2 - bl) & 63,
                                         (2 - bl) & 63, (2 - bl) & 63, (2 - bl) & 63);
    o.wq[ch] = _mm512_ternarylogic_epi32(low, _mm512_rolv_epi64(hz, rot), four, 0xF8);
  }
}

// IQ4_XS: code-book quants biased by +128 (unsigned), 8 signed 6-bit scales of 32 as int32 lanes.
FS_INLINE void decode_iq4xs(const uint8_t* p, Decoded& o) {
  const auto* x = reinterpret_cast<const BlockIQ4_XS*>(p);
  uint16_t hd;
  std::memcpy(&hd, &x->d, 2);
  o.d = _mm512_set1_ps(_cvtsh_ss(hd));
  const uint64_t codes = _pdep_u64(load32(x->scales_l), 0x0F0F0F0F0F0F0F0FULL) |
                         (_pdep_u64(x->scales_h, 0x0303030303030303ULL) << 4);
  const __m128i w = _mm_sub_epi16(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<long long>(codes))), _mm_set1_epi16(32));
  o.aux = _mm256_set_m128i(_mm_unpackhi_epi16(w, w), _mm_unpacklo_epi16(w, w));
  const __m512i s32 = _mm512_castsi256_si512(_mm256_cvtepi16_epi32(w));
  const __m512i lut = lut16(kIQ4Lut);
#pragma GCC unroll 4
  for (int ch = 0; ch < 4; ++ch) {
    o.sc[ch] = _mm512_permutexvar_epi32(_mm512_set_epi32(2 * ch + 1, 2 * ch + 1, 2 * ch + 1, 2 * ch + 1, 2 * ch + 1,
                                                         2 * ch + 1, 2 * ch + 1, 2 * ch + 1, 2 * ch, 2 * ch, 2 * ch,
                                                         2 * ch, 2 * ch, 2 * ch, 2 * ch, 2 * ch),
                                        s32);
    o.wq[ch] = _mm512_shuffle_epi8(lut, nib_pair<false>(x->qs + 32 * ch, x->qs + 32 * ch + 16));
  }
}

// Kinds: 2 Q2_K, 3 Q3_K, 4 Q4_K, 5 Q5_K, 6 Q6_K, 7 IQ4_XS.
template <int kKind>
struct KDec {
  static constexpr int kB = kKind == 2 ? 84 : kKind == 3 ? 110 : kKind == 4 ? 144 : kKind == 5 ? 176 : kKind == 6 ? 210 : 136;
  static constexpr bool kMins = kKind == 2 || kKind == 4 || kKind == 5;  // x = d·sc·q − dmin·m
  static constexpr int kOffShift = kKind == 3 ? 2 : kKind == 6 ? 5 : 7;   // else q − 4 / 32 / 128
  static FS_INLINE void decode(const uint8_t* p, Decoded& o) {
    if constexpr (kKind == 2) decode_q2(p, o);
    else if constexpr (kKind == 3) decode_q3(p, o);
    else if constexpr (kKind == 6) decode_q6(p, o);
    else if constexpr (kKind == 7) decode_iq4xs(p, o);
    else decode_q45<kKind == 5>(p, o);
  }
};

template <int kKind, int R, int C>
void tile_k(int64_t nb, const uint8_t* W, size_t ws, const uint8_t* A, size_t as, float* Cm, size_t cs, size_t pf) {
  using D = KDec<kKind>;
  alignas(64) Decoded dec[R];
  __m512 acc[R][C];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const uint8_t* blk = W + r * ws + b * D::kB;
      // Rows are short streams the hardware prefetchers miss: fetch ahead ourselves (GEMV from
      // DRAM is several times faster with it).
#pragma GCC unroll 4
      for (int l = 0; l < D::kB; l += 64) _mm_prefetch(reinterpret_cast<const char*>(blk + pf + l), _MM_HINT_T0);
      D::decode(blk, dec[r]);
    }
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const auto* y = reinterpret_cast<const BlockQ8_K*>(A + c * as) + b;
      __m512i a[4];
#pragma GCC unroll 4
      for (int ch = 0; ch < 4; ++ch) a[ch] = _mm512_loadu_si512(y->qs + 64 * ch);
      const __m256i bs = load256(y->bsums);
      const __m512 dav = _mm512_set1_ps(y->d);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int ch = 0; ch < 4; ++ch) {
          if constexpr (kKind == 7)  // quants up to 241: VPDPBUSD (no s16 saturation), then × scale
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), dec[r].wq[ch], a[ch]),
                                                             dec[r].sc[ch]));
          else
            isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(dec[r].wq[ch], a[ch]), dec[r].sc[ch]);
        }
        const __m256i m = _mm256_madd_epi16(bs, dec[r].aux);
        if constexpr (!D::kMins) {
          isum = _mm512_sub_epi32(isum, _mm512_zextsi256_si512(_mm256_slli_epi32(m, D::kOffShift)));
          acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dec[r].d, dav), acc[r][c]);
        } else {
          acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dec[r].d, dav), acc[r][c]);
          acc[r][c] = _mm512_fnmadd_ps(_mm512_zextps256_ps512(_mm256_cvtepi32_ps(m)), _mm512_mul_ps(dec[r].dmin, dav),
                                       acc[r][c]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) Cm[c * cs + r] = _mm512_reduce_add_ps(acc[r][c]);
}

template <int kKind, int R>
void drive_cols(int64_t nb, const uint8_t* W, size_t ws, const uint8_t* A, size_t as, int64_t n_cols, float* Cm,
                size_t cs) {
  const size_t pf = prefetch_bytes(ws);
  int64_t j = 0;
  for (; j + 4 <= n_cols; j += 4) tile_k<kKind, R, 4>(nb, W, ws, A + j * as, as, Cm + j * cs, cs, pf);
  if (n_cols - j >= 2) {
    tile_k<kKind, R, 2>(nb, W, ws, A + j * as, as, Cm + j * cs, cs, pf);
    j += 2;
  }
  if (j < n_cols) tile_k<kKind, R, 1>(nb, W, ws, A + j * as, as, Cm + j * cs, cs, pf);
}

template <int kKind>
void gemm_k(int64_t k, const uint8_t* W, size_t ws, int64_t n_rows, const uint8_t* A, size_t as, int64_t n_cols,
            float* Cm, size_t cs) {
  const int64_t nb = k / 256;
  int64_t i = 0;
  if (n_cols == 1) {  // GEMV: one row at a time, one ascending stream (see dot_gemv_avx512.cpp)
    for (; i < n_rows; ++i) tile_k<kKind, 1, 1>(nb, W + i * ws, ws, A, as, Cm + i, cs, kStreamPrefetch);
    return;
  }
  for (; i + 4 <= n_rows; i += 4) drive_cols<kKind, 4>(nb, W + i * ws, ws, A, as, n_cols, Cm + i, cs);
  if (n_rows - i >= 2) {
    drive_cols<kKind, 2>(nb, W + i * ws, ws, A, as, n_cols, Cm + i, cs);
    i += 2;
  }
  if (i < n_rows) drive_cols<kKind, 1>(nb, W + i * ws, ws, A, as, n_cols, Cm + i, cs);
}

}  // namespace

void fill_gemm_k_avx512(GemmTable& t) {
  t.fn[static_cast<uint32_t>(Type::Q2_K)] = gemm_k<2>;
  t.fn[static_cast<uint32_t>(Type::Q3_K)] = gemm_k<3>;
  t.fn[static_cast<uint32_t>(Type::Q4_K)] = gemm_k<4>;
  t.fn[static_cast<uint32_t>(Type::Q5_K)] = gemm_k<5>;
  t.fn[static_cast<uint32_t>(Type::Q6_K)] = gemm_k<6>;
  t.fn[static_cast<uint32_t>(Type::IQ4_XS)] = gemm_k<7>;
}

}  // namespace fitserve::quant::detail
