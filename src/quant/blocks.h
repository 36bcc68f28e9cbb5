// quant/blocks.h — in-memory layouts of the quantized blocks (spec gguf-and-quants §4) and the
// fixed value tables; shared by the quantizers, the dequantizers and every dot-kernel variant.
// Offers: BlockQ4_0 ... BlockMXFP4 (standard-layout structs with the file's byte layout, checked
// by static_assert), kIQ4NLValues, kMXFP4Values, e8m0_half_to_fp32(e), k_scale_min(j, S, sc, m).
// Header-only; its functions have internal linkage, so *_avx2.cpp / *_avx512.cpp files may
// include it without sharing ISA-specific out-of-line copies with baseline code.
#pragma once
#include <cstdint>

namespace fitserve::quant {

struct BlockQ4_0 { uint16_t d; uint8_t qs[16]; };
struct BlockQ4_1 { uint16_t d, m; uint8_t qs[16]; };
struct BlockQ5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; };
struct BlockQ5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; };
struct BlockQ8_0 { uint16_t d; int8_t qs[32]; };
struct BlockQ8_1 { uint16_t d, s; int8_t qs[32]; };
struct BlockQ2_K { uint8_t scales[16]; uint8_t qs[64]; uint16_t d, dmin; };
struct BlockQ3_K { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; };
struct BlockQ4_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; };
struct BlockQ5_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; };
struct BlockQ6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; };
struct BlockQ8_K { float d; int8_t qs[256]; int16_t bsums[16]; };
struct BlockIQ4_NL { uint16_t d; uint8_t qs[16]; };
struct BlockIQ4_XS { uint16_t d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[128]; };
struct BlockMXFP4 { uint8_t e; uint8_t qs[16]; };

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210 && sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockIQ4_NL) == 18 && sizeof(BlockIQ4_XS) == 136);
static_assert(sizeof(BlockMXFP4) == 17);

// IQ4_NL / IQ4_XS non-linear 4-bit code book.
constexpr int8_t kIQ4NLValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};
// MXFP4: E2M1 values stored doubled (the block scale is halved to compensate).
constexpr int8_t kMXFP4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// 2^(e-128): half of the E8M0 scale, as MXFP4 uses it. e = 0, 1 are float32 subnormals.
static constexpr uint32_t e8m0_half_bits(uint8_t e) {
  return e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e - 1) << 23);
}

// Q4_K / Q5_K: 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes S.
static constexpr void k_scale_min(int j, const uint8_t* S, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = S[j] & 63;
    m = S[j + 4] & 63;
  } else {
    sc = static_cast<uint8_t>((S[j + 4] & 15) | ((S[j - 4] >> 6) << 4));
    m = static_cast<uint8_t>((S[j + 4] >> 4) | ((S[j] >> 6) << 4));
  }
}

}  // namespace fitserve::quant
