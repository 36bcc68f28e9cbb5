#include "core/cpu.h"

#include <cpuid.h>
#include <cstdint>

namespace fitserve::core {

namespace {
uint64_t xgetbv0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t{hi} << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  if (!osxsave) return f;
  const uint64_t xcr0 = xgetbv0();
  const bool ymm = (xcr0 & 0x6) == 0x6;            // SSE + AVX state
  const bool zmm = ymm && (xcr0 & 0xE0) == 0xE0;   // opmask + ZMM state
  const bool avx = ((c >> 28) & 1) && ymm;
  f.fma = avx && ((c >> 12) & 1);
  f.f16c = avx && ((c >> 29) & 1);
  unsigned a7, b7, c7, d7;
  if (!__get_cpuid_count(7, 0, &a7, &b7, &c7, &d7)) return f;
  f.avx2 = avx && ((b7 >> 5) & 1);
  f.bmi2 = (b7 >> 8) & 1;
  f.avx512f = zmm && ((b7 >> 16) & 1);
  f.avx512dq = f.avx512f && ((b7 >> 17) & 1);
  f.avx512bw = f.avx512f && ((b7 >> 30) & 1);
  f.avx512vl = f.avx512f && ((b7 >> 31) & 1);
  f.avx512vnni = f.avx512f && ((c7 >> 11) & 1);
  unsigned a71, b71, c71, d71;
  if (a7 >= 1 && __get_cpuid_count(7, 1, &a71, &b71, &c71, &d71)) f.avx512bf16 = f.avx512f && ((a71 >> 5) & 1);
  return f;
}
}  // namespace

const CpuFeatures& cpu() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace fitserve::core
