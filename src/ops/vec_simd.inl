// ops/vec_simd.inl — the SIMD kernels of ops/vec.h, written once over a register-traits type S.
// Included (inside an anonymous namespace) by vec_avx2.cpp and vec_avx512.cpp, each defining S
// with: W (lanes), R (register), zero, set1, loadu, storeu, load_n(p, n, fill), store_n(p, v, n),
// add, sub, mul, div, fmadd(a,b,c)=a·b+c, fnmadd(a,b,c)=c−a·b, max, min, abs, round, pow2i
// (2^n for integral n in [-126,127]), select_lt(a,b,x,y)=(a<b?x:y), copysign(mag, sgn),
// hsum, hmax, f16 load/store (cvt_f16, cvt_f16_n, store_f16, store_f16_n), bf16 load, i8_to_f32.
// Only intrinsics and code local to this file may appear here (no inline functions from shared
// headers), so that nothing compiled with wider ISA flags can leak to baseline code via the linker.

template <class S>
inline typename S::R v_exp(typename S::R x) {
  using R = typename S::R;
  const R hi = S::set1(88.3762626647949f), lo = S::set1(-87.33654475f);
  const R xc = S::max(S::min(x, hi), lo);
  const R n = S::round(S::mul(xc, S::set1(1.44269504088896341f)));
  R r = S::fnmadd(n, S::set1(0.693359375f), xc);  // ln2 split in two parts for accuracy
  r = S::fnmadd(n, S::set1(-2.12194440e-4f), r);
  R p = S::set1(1.0f / 5040.0f);
  p = S::fmadd(p, r, S::set1(1.0f / 720.0f));
  p = S::fmadd(p, r, S::set1(1.0f / 120.0f));
  p = S::fmadd(p, r, S::set1(1.0f / 24.0f));
  p = S::fmadd(p, r, S::set1(1.0f / 6.0f));
  p = S::fmadd(p, r, S::set1(0.5f));
  p = S::fmadd(p, r, S::set1(1.0f));
  p = S::fmadd(p, r, S::set1(1.0f));
  const R y = S::mul(p, S::pow2i(n));
  return S::select_lt(x, lo, S::zero(), y);  // underflow (and -inf) -> 0
}

// tanh: odd series near 0, 1 − 2/(e^{2|x|}+1) elsewhere.
template <class S>
inline typename S::R v_tanh(typename S::R x) {
  using R = typename S::R;
  const R a = S::abs(x);
  const R e = v_exp<S>(S::add(a, a));
  const R big = S::sub(S::set1(1.0f), S::div(S::set1(2.0f), S::add(e, S::set1(1.0f))));
  const R a2 = S::mul(a, a);
  R p = S::set1(62.0f / 2835.0f);
  p = S::fmadd(p, a2, S::set1(-17.0f / 315.0f));
  p = S::fmadd(p, a2, S::set1(2.0f / 15.0f));
  p = S::fmadd(p, a2, S::set1(-1.0f / 3.0f));
  p = S::fmadd(p, a2, S::set1(1.0f));
  const R small = S::mul(p, a);
  return S::copysign(S::select_lt(a, S::set1(0.2f), small, big), x);
}

template <class S>
inline typename S::R v_silu(typename S::R x) {
  const auto e = v_exp<S>(S::sub(S::zero(), x));
  return S::div(x, S::add(S::set1(1.0f), e));
}

// gelu_tanh(x) = 0.5·x·(1 + tanh(u)) = x / (1 + e^{−2u}),  u = √(2/π)·(x + 0.044715·x³).
template <class S>
inline typename S::R v_gelu(typename S::R x) {
  using R = typename S::R;
  const R x3 = S::mul(S::mul(x, x), x);
  const R u = S::mul(S::set1(0.7978845608028654f), S::fmadd(S::set1(0.044715f), x3, x));
  const R e = v_exp<S>(S::mul(S::set1(-2.0f), u));
  return S::div(x, S::add(S::set1(1.0f), e));
}

// Applies y[i] = F(x[i]) over full registers and a masked tail.
template <class S, class F>
inline void v_map(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + S::W <= n; i += S::W) S::storeu(y + i, f(S::loadu(x + i)));
  if (i < n) S::store_n(y + i, f(S::load_n(x + i, int(n - i), 0.0f)), int(n - i));
}
template <class S, class F>
inline void v_map2(const float* a, const float* b, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + S::W <= n; i += S::W) S::storeu(y + i, f(S::loadu(a + i), S::loadu(b + i)));
  if (i < n) {
    const int r = int(n - i);
    S::store_n(y + i, f(S::load_n(a + i, r, 0.0f), S::load_n(b + i, r, 0.0f)), r);
  }
}

template <class S>
float k_dot(const float* a, const float* b, int64_t n) {
  using R = typename S::R;
  R s0 = S::zero(), s1 = S::zero(), s2 = S::zero(), s3 = S::zero();
  int64_t i = 0;
  for (; i + 4 * S::W <= n; i += 4 * S::W) {
    s0 = S::fmadd(S::loadu(a + i), S::loadu(b + i), s0);
    s1 = S::fmadd(S::loadu(a + i + S::W), S::loadu(b + i + S::W), s1);
    s2 = S::fmadd(S::loadu(a + i + 2 * S::W), S::loadu(b + i + 2 * S::W), s2);
    s3 = S::fmadd(S::loadu(a + i + 3 * S::W), S::loadu(b + i + 3 * S::W), s3);
  }
  for (; i + S::W <= n; i += S::W) s0 = S::fmadd(S::loadu(a + i), S::loadu(b + i), s0);
  if (i < n) s1 = S::fmadd(S::load_n(a + i, int(n - i), 0.0f), S::load_n(b + i, int(n - i), 0.0f), s1);
  return S::hsum(S::add(S::add(s0, s1), S::add(s2, s3)));
}

template <class S>
float k_sum_sq(const float* x, int64_t n) {
  return k_dot<S>(x, x, n);
}

template <class S>
float k_max(const float* x, int64_t n) {
  using R = typename S::R;
  R m = S::set1(-__builtin_inff());
  int64_t i = 0;
  for (; i + S::W <= n; i += S::W) m = S::max(m, S::loadu(x + i));
  if (i < n) m = S::max(m, S::load_n(x + i, int(n - i), -__builtin_inff()));
  return S::hmax(m);
}

template <class S>
float k_exp_sum(const float* x, float sub, float* y, int64_t n) {
  using R = typename S::R;
  const R vs = S::set1(sub);
  R acc = S::zero();
  int64_t i = 0;
  for (; i + S::W <= n; i += S::W) {
    const R e = v_exp<S>(S::sub(S::loadu(x + i), vs));
    S::storeu(y + i, e);
    acc = S::add(acc, e);
  }
  if (i < n) {
    const int r = int(n - i);
    const R e = v_exp<S>(S::sub(S::load_n(x + i, r, -__builtin_inff()), vs));
    S::store_n(y + i, e, r);
    acc = S::add(acc, e);  // masked-off lanes are exp(-inf) = 0
  }
  return S::hsum(acc);
}

template <class S>
void k_scale(const float* x, float s, float* y, int64_t n) {
  const auto vs = S::set1(s);
  v_map<S>(x, y, n, [&](auto v) { return S::mul(v, vs); });
}
template <class S>
void k_scale_mul(const float* x, float s, const float* w, float* y, int64_t n) {
  const auto vs = S::set1(s);
  v_map2<S>(x, w, y, n, [&](auto a, auto b) { return S::mul(S::mul(a, vs), b); });
}
template <class S>
void k_add(const float* a, const float* b, float* y, int64_t n) {
  v_map2<S>(a, b, y, n, [](auto p, auto q) { return S::add(p, q); });
}
template <class S>
void k_mul(const float* a, const float* b, float* y, int64_t n) {
  v_map2<S>(a, b, y, n, [](auto p, auto q) { return S::mul(p, q); });
}
template <class S>
void k_axpy(float a, const float* x, float* y, int64_t n) {
  const auto va = S::set1(a);
  v_map2<S>(x, y, y, n, [&](auto p, auto q) { return S::fmadd(va, p, q); });
}
template <class S>
void k_silu(const float* x, float* y, int64_t n) {
  v_map<S>(x, y, n, [](auto v) { return v_silu<S>(v); });
}
template <class S>
void k_gelu(const float* x, float* y, int64_t n) {
  v_map<S>(x, y, n, [](auto v) { return v_gelu<S>(v); });
}
template <class S>
void k_swiglu(const float* g, const float* u, float* y, int64_t n) {
  v_map2<S>(g, u, y, n, [](auto p, auto q) { return S::mul(v_silu<S>(p), q); });
}
template <class S>
void k_geglu(const float* g, const float* u, float* y, int64_t n) {
  v_map2<S>(g, u, y, n, [](auto p, auto q) { return S::mul(v_gelu<S>(p), q); });
}
template <class S>
void k_softcap(const float* x, float cap, float* y, int64_t n) {
  const auto vc = S::set1(cap), vi = S::set1(1.0f / cap);
  v_map<S>(x, y, n, [&](auto v) { return S::mul(vc, v_tanh<S>(S::mul(v, vi))); });
}

template <class S>
void k_f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + S::W <= n; i += S::W) S::storeu(y + i, S::cvt_f16(x + i));
  if (i < n) S::store_n(y + i, S::cvt_f16_n(x + i, int(n - i)), int(n - i));
}
template <class S>
void k_bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + S::W <= n; i += S::W) S::storeu(y + i, S::cvt_bf16(x + i));
  if (i < n) S::store_n(y + i, S::cvt_bf16_n(x + i, int(n - i)), int(n - i));
}
template <class S>
void k_f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + S::W <= n; i += S::W) S::store_f16(y + i, S::loadu(x + i));
  if (i < n) S::store_f16_n(y + i, S::load_n(x + i, int(n - i), 0.0f), int(n - i));
}

// Q8_0 block: f16 scale, 32 int8. Q4_0 block: f16 scale, 16 bytes (element j in the low nibble of
// byte j, element j+16 in the high nibble), value d·(q − 8). One product per element, as the
// reference, so the results are bit-identical.
template <class S>
void k_q8_0_to_f32(const uint8_t* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, x += 34, y += 32) {
    const auto d = S::set1(_cvtsh_ss(static_cast<unsigned short>(x[0] | (x[1] << 8))));
    for (int i = 0; i < 32; i += S::W) S::storeu(y + i, S::mul(d, S::i8_to_f32(reinterpret_cast<const int8_t*>(x + 2 + i))));
  }
}
template <class S>
void k_q4_0_to_f32(const uint8_t* x, float* y, int64_t n) {
  alignas(64) int8_t q[32];
  for (int64_t b = 0; b < n / 32; ++b, x += 18, y += 32) {
    const auto d = S::set1(_cvtsh_ss(static_cast<unsigned short>(x[0] | (x[1] << 8))));
    for (int j = 0; j < 16; ++j) {
      q[j] = static_cast<int8_t>((x[2 + j] & 15) - 8);
      q[j + 16] = static_cast<int8_t>((x[2 + j] >> 4) - 8);
    }
    for (int i = 0; i < 32; i += S::W) S::storeu(y + i, S::mul(d, S::i8_to_f32(q + i)));
  }
}

// Dot products of one query row against four key rows at once.
template <class S>
inline void dot_1x4(const float* q, const float* k0, size_t ks, int d, float* out) {
  using R = typename S::R;
  const float* k1 = k0 + ks;
  const float* k2 = k1 + ks;
  const float* k3 = k2 + ks;
  R a0 = S::zero(), a1 = S::zero(), a2 = S::zero(), a3 = S::zero();
  int i = 0;
  for (; i + S::W <= d; i += S::W) {
    const R qv = S::loadu(q + i);
    a0 = S::fmadd(qv, S::loadu(k0 + i), a0);
    a1 = S::fmadd(qv, S::loadu(k1 + i), a1);
    a2 = S::fmadd(qv, S::loadu(k2 + i), a2);
    a3 = S::fmadd(qv, S::loadu(k3 + i), a3);
  }
  if (i < d) {
    const int r = d - i;
    const R qv = S::load_n(q + i, r, 0.0f);
    a0 = S::fmadd(qv, S::load_n(k0 + i, r, 0.0f), a0);
    a1 = S::fmadd(qv, S::load_n(k1 + i, r, 0.0f), a1);
    a2 = S::fmadd(qv, S::load_n(k2 + i, r, 0.0f), a2);
    a3 = S::fmadd(qv, S::load_n(k3 + i, r, 0.0f), a3);
  }
  out[0] = S::hsum(a0);
  out[1] = S::hsum(a1);
  out[2] = S::hsum(a2);
  out[3] = S::hsum(a3);
}

// Two query rows against four key rows: 8 accumulators, 6 loads per 8 FMAs.
template <class S>
inline void dot_2x4(const float* q0, const float* q1, const float* k0, size_t ks, int d, float* o0,
                    float* o1) {
  using R = typename S::R;
  const float* k1 = k0 + ks;
  const float* k2 = k1 + ks;
  const float* k3 = k2 + ks;
  R a0 = S::zero(), a1 = S::zero(), a2 = S::zero(), a3 = S::zero();
  R b0 = S::zero(), b1 = S::zero(), b2 = S::zero(), b3 = S::zero();
  int i = 0;
  for (; i + S::W <= d; i += S::W) {
    const R x = S::loadu(q0 + i), y = S::loadu(q1 + i);
    R k = S::loadu(k0 + i);
    a0 = S::fmadd(x, k, a0);
    b0 = S::fmadd(y, k, b0);
    k = S::loadu(k1 + i);
    a1 = S::fmadd(x, k, a1);
    b1 = S::fmadd(y, k, b1);
    k = S::loadu(k2 + i);
    a2 = S::fmadd(x, k, a2);
    b2 = S::fmadd(y, k, b2);
    k = S::loadu(k3 + i);
    a3 = S::fmadd(x, k, a3);
    b3 = S::fmadd(y, k, b3);
  }
  if (i < d) {
    const int r = d - i;
    const R x = S::load_n(q0 + i, r, 0.0f), y = S::load_n(q1 + i, r, 0.0f);
    R k = S::load_n(k0 + i, r, 0.0f);
    a0 = S::fmadd(x, k, a0);
    b0 = S::fmadd(y, k, b0);
    k = S::load_n(k1 + i, r, 0.0f);
    a1 = S::fmadd(x, k, a1);
    b1 = S::fmadd(y, k, b1);
    k = S::load_n(k2 + i, r, 0.0f);
    a2 = S::fmadd(x, k, a2);
    b2 = S::fmadd(y, k, b2);
    k = S::load_n(k3 + i, r, 0.0f);
    a3 = S::fmadd(x, k, a3);
    b3 = S::fmadd(y, k, b3);
  }
  o0[0] = S::hsum(a0), o0[1] = S::hsum(a1), o0[2] = S::hsum(a2), o0[3] = S::hsum(a3);
  o1[0] = S::hsum(b0), o1[1] = S::hsum(b1), o1[2] = S::hsum(b2), o1[3] = S::hsum(b3);
}

template <class S>
void k_dot_tile(const float* Q, size_t qs, int M, const float* K, size_t ks, int T, int d, float* Sc,
                size_t ss) {
  const int T4 = T & ~3;
  int m = 0;
  for (; m + 2 <= M; m += 2) {
    const float* q0 = Q + m * qs;
    const float* q1 = q0 + qs;
    float* s0 = Sc + m * ss;
    float* s1 = s0 + ss;
    for (int t = 0; t < T4; t += 4) dot_2x4<S>(q0, q1, K + t * ks, ks, d, s0 + t, s1 + t);
    for (int t = T4; t < T; ++t) {
      s0[t] = k_dot<S>(q0, K + t * ks, d);
      s1[t] = k_dot<S>(q1, K + t * ks, d);
    }
  }
  if (m < M) {
    const float* q0 = Q + m * qs;
    float* s0 = Sc + m * ss;
    for (int t = 0; t < T4; t += 4) dot_1x4<S>(q0, K + t * ks, ks, d, s0 + t);
    for (int t = T4; t < T; ++t) s0[t] = k_dot<S>(q0, K + t * ks, d);
  }
}

// O[m] += Σ_t P[m][t]·V[t]: four output rows share each loaded V register.
template <class S>
void k_acc_tile(const float* P, size_t ps, int M, const float* V, size_t vs, int T, int d, float* O,
                size_t os) {
  using R = typename S::R;
  int m = 0;
  for (; m + 4 <= M; m += 4) {
    const float* p0 = P + m * ps;
    const float* p1 = p0 + ps;
    const float* p2 = p1 + ps;
    const float* p3 = p2 + ps;
    float* o0 = O + m * os;
    float* o1 = o0 + os;
    float* o2 = o1 + os;
    float* o3 = o2 + os;
    for (int i = 0; i < d; i += S::W) {
      const int r = d - i < S::W ? d - i : S::W;
      R a0 = S::load_n(o0 + i, r, 0.0f), a1 = S::load_n(o1 + i, r, 0.0f);
      R a2 = S::load_n(o2 + i, r, 0.0f), a3 = S::load_n(o3 + i, r, 0.0f);
      for (int t = 0; t < T; ++t) {
        const R v = S::load_n(V + t * vs + i, r, 0.0f);
        a0 = S::fmadd(S::set1(p0[t]), v, a0);
        a1 = S::fmadd(S::set1(p1[t]), v, a1);
        a2 = S::fmadd(S::set1(p2[t]), v, a2);
        a3 = S::fmadd(S::set1(p3[t]), v, a3);
      }
      S::store_n(o0 + i, a0, r), S::store_n(o1 + i, a1, r);
      S::store_n(o2 + i, a2, r), S::store_n(o3 + i, a3, r);
    }
  }
  for (; m < M; ++m) {
    const float* p0 = P + m * ps;
    float* o0 = O + m * os;
    for (int i = 0; i < d; i += S::W) {
      const int r = d - i < S::W ? d - i : S::W;
      R a0 = S::load_n(o0 + i, r, 0.0f);
      for (int t = 0; t < T; ++t) a0 = S::fmadd(S::set1(p0[t]), S::load_n(V + t * vs + i, r, 0.0f), a0);
      S::store_n(o0 + i, a0, r);
    }
  }
}

template <class S>
constexpr VecKernels make_table(const char* name) {
  return VecKernels{name,           k_dot<S>,       k_sum_sq<S>,   k_max<S>,       k_exp_sum<S>,
                    k_scale<S>,     k_scale_mul<S>, k_add<S>,      k_mul<S>,       k_axpy<S>,
                    k_silu<S>,      k_gelu<S>,      k_swiglu<S>,   k_geglu<S>,     k_softcap<S>,
                    k_f16_to_f32<S>, k_bf16_to_f32<S>, k_f32_to_f16<S>, k_q8_0_to_f32<S>,
                    k_q4_0_to_f32<S>, k_dot_tile<S>, k_acc_tile<S>};
}
