#include "quant/types.h"

#include <cctype>

namespace fitserve::quant {

namespace {
constexpr TypeInfo kInvalid{nullptr, 0, 0, false};
const TypeInfo kTable[kTypeCount] = {
    /* 0*/ {"F32", 1, 4, true},       /* 1*/ {"F16", 1, 2, true},
    /* 2*/ {"Q4_0", 32, 18, true},    /* 3*/ {"Q4_1", 32, 20, true},
    /* 4*/ kInvalid,                  /* 5*/ kInvalid,
    /* 6*/ {"Q5_0", 32, 22, true},    /* 7*/ {"Q5_1", 32, 24, true},
    /* 8*/ {"Q8_0", 32, 34, true},    /* 9*/ {"Q8_1", 32, 36, true},
    /*10*/ {"Q2_K", 256, 84, true},   /*11*/ {"Q3_K", 256, 110, true},
    /*12*/ {"Q4_K", 256, 144, true},  /*13*/ {"Q5_K", 256, 176, true},
    /*14*/ {"Q6_K", 256, 210, true},  /*15*/ {"Q8_K", 256, 292, true},
    /*16*/ {"IQ2_XXS", 256, 66, false}, /*17*/ {"IQ2_XS", 256, 74, false},
    /*18*/ {"IQ3_XXS", 256, 98, false}, /*19*/ {"IQ1_S", 256, 50, false},
    /*20*/ {"IQ4_NL", 32, 18, true},  /*21*/ {"IQ3_S", 256, 110, false},
    /*22*/ {"IQ2_S", 256, 82, false}, /*23*/ {"IQ4_XS", 256, 136, true},
    /*24*/ {"I8", 1, 1, false},       /*25*/ {"I16", 1, 2, false},
    /*26*/ {"I32", 1, 4, false},      /*27*/ {"I64", 1, 8, false},
    /*28*/ {"F64", 1, 8, false},      /*29*/ {"IQ1_M", 256, 56, false},
    /*30*/ {"BF16", 1, 2, true},      /*31*/ kInvalid,
    /*32*/ kInvalid,                  /*33*/ kInvalid,
    /*34*/ {"TQ1_0", 256, 54, false}, /*35*/ {"TQ2_0", 256, 66, false},
    /*36*/ kInvalid,                  /*37*/ kInvalid,
    /*38*/ kInvalid,                  /*39*/ {"MXFP4", 32, 17, true},
    /*40*/ {"NVFP4", 64, 36, false},  /*41*/ {"Q1_0", 128, 18, false},
    /*42*/ {"Q2_0", 64, 18, false},
};
}  // namespace

const TypeInfo& type_info(uint32_t id) { return id < kTypeCount ? kTable[id] : kInvalid; }

std::optional<Type> type_from_name(std::string_view name) {
  for (uint32_t i = 0; i < kTypeCount; ++i) {
    const char* n = kTable[i].name;
    if (!n || kTable[i].block == 0) continue;
    std::string_view sv(n);
    if (sv.size() != name.size()) continue;
    bool eq = true;
    for (size_t k = 0; k < sv.size(); ++k)
      if (std::toupper(static_cast<unsigned char>(name[k])) != sv[k]) { eq = false; break; }
    if (eq) return static_cast<Type>(i);
  }
  return std::nullopt;
}

}  // namespace fitserve::quant
