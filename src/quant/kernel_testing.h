// quant/kernel_testing.h — for the kernel tests: every weight type the GEMM/GEMV kernels take,
// and IsaGuard, which restores the active ISA when a test that forces one ends.
#pragma once
#include "quant/dot.h"
#include "quant/types.h"

namespace fitserve::quant::testing {

inline constexpr Type kAllTypes[] = {Type::F32,  Type::F16,  Type::BF16,   Type::Q4_0,   Type::Q4_1,  Type::Q5_0,
                                     Type::Q5_1, Type::Q8_0, Type::Q2_K,   Type::Q3_K,   Type::Q4_K,  Type::Q5_K,
                                     Type::Q6_K, Type::IQ4_NL, Type::IQ4_XS, Type::MXFP4};

struct IsaGuard {
  Isa saved = active_isa();
  ~IsaGuard() { set_isa(saved); }
};

}  // namespace fitserve::quant::testing
