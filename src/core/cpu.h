// core/cpu.h — x86 CPU feature detection from CPUID/XGETBV (works the same with GCC and clang,
// whose __builtin_cpu_supports feature lists differ).
// Offers: core::cpu() -> CpuFeatures {avx2, fma, f16c, bmi2, avx512f, avx512bw, avx512vl,
// avx512dq, avx512vnni, avx512bf16}, each true only when the OS also saves the register state.
#pragma once

namespace fitserve::core {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false, bmi2 = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false;
};

const CpuFeatures& cpu();

}  // namespace fitserve::core
