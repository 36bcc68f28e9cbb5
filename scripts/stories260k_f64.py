#!/usr/bin/env python3
"""Independent float64 re-implementation of stories260K (llama, F32) used to size the noise of the
reference's golden log-probs (issue 4). Pure Python (no numpy); weights come from `fitserve dump`.

For each golden file it runs the teacher-forced sequence under several models of the reference's
arithmetic and prints, per mode, max/mean |Δ| of the reference's top-1 log-prob:
  f64           everything float64, K/V kept exact
  f64+kv16      K/V rounded to f16 when stored (what an f16 KV cache does), the rest float64
  fa16          kv16 + Q rounded to f16 + the V accumulator rounded to f16 after every key
                (flash attention with an f16 accumulator)
  nofa16        kv16 + Q rounded to f16 + softmax probabilities rounded to f16 before P·V
It also prints how far f64+kv16 moves the top-1 log-prob from f64: the effect of the f16 KV
cache alone, which bounds how exactly any engine can match a reference that uses one.

usage: scripts/stories260k_f64.py [--fitserve build/fitserve] [--model M] GOLDEN.json ...
"""
import argparse, array, json, math, os, struct, subprocess, sys

E, NH, NKV, HD, FF, V, NL, EPS = 64, 8, 4, 8, 172, 512, 5, 1e-5
NAMES = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'attn_norm', 'ffn_gate', 'ffn_down', 'ffn_up', 'ffn_norm']


def f16(x):
    return struct.unpack('e', struct.pack('e', x))[0]


def f32(x):
    return struct.unpack('f', struct.pack('f', x))[0]


def load_weights(fitserve, model):
    def dump(name):
        raw = subprocess.run([fitserve, 'dump', model, name, '--f32'], check=True, capture_output=True).stdout
        a = array.array('f')
        a.frombytes(raw)
        return list(a)
    W = {'tok': dump('token_embd.weight'), 'on': dump('output_norm.weight'), 'out': dump('output.weight')}
    for l in range(NL):
        for n in NAMES:
            W[(l, n)] = dump(f'blk.{l}.{n}.weight')
    return W


def mv(w, x, nin, nout):
    return [sum(w[o * nin + i] * x[i] for i in range(nin)) for o in range(nout)]


def rms(x, w):
    r = 1 / math.sqrt(sum(v * v for v in x) / len(x) + EPS)
    return [x[i] * r * w[i] for i in range(len(x))]


def rope(v, pos, nh):  # llama "normal" RoPE: adjacent pairs
    out = list(v)
    for h in range(nh):
        for i in range(HD // 2):
            th = pos * 10000 ** (-2 * i / HD)
            c, s = math.cos(th), math.sin(th)
            a, b = v[h * HD + 2 * i], v[h * HD + 2 * i + 1]
            out[h * HD + 2 * i], out[h * HD + 2 * i + 1] = a * c - b * s, a * s + b * c
    return out


def attend(qv, K, Vv, kh, n, mode):
    sc = 1 / math.sqrt(HD)
    scores = [f32(sum(qv[i] * K[j][kh * HD + i] for i in range(HD))) * sc for j in range(n)]
    vrow = lambda j: Vv[j][kh * HD:(kh + 1) * HD]
    if mode == 'nofa16':
        m = max(scores)
        e = [math.exp(s - m) for s in scores]
        z = sum(e)
        p = [f16(f32(v / z)) for v in e]
        return [sum(p[j] * vrow(j)[i] for j in range(n)) for i in range(HD)]
    M, S, acc = -math.inf, 0.0, [0.0] * HD
    for j, s in enumerate(scores):
        if s > M:
            ms, vs = (math.exp(M - s) if M > -math.inf else 0.0), 1.0
            M = s
            acc = [a * ms for a in acc]
            if mode == 'fa16':
                acc = [f16(a) for a in acc]
        else:
            ms, vs = 1.0, math.exp(s - M)
        acc = [acc[i] + vrow(j)[i] * vs for i in range(HD)]
        if mode == 'fa16':
            acc = [f16(a) for a in acc]
        S = S * ms + vs
    return [a / S for a in acc]


def run(W, tokens, mode):
    kv16 = mode != 'f64'
    q16 = mode in ('fa16', 'nofa16')
    n = len(tokens)
    x = [[W['tok'][t * E + i] for i in range(E)] for t in tokens]
    for l in range(NL):
        K, Vv, Q = [], [], []
        for p in range(n):
            h = rms(x[p], W[(l, 'attn_norm')])
            q = rope(mv(W[(l, 'attn_q')], h, E, E), p, NH)
            k = rope(mv(W[(l, 'attn_k')], h, E, NKV * HD), p, NKV)
            v = mv(W[(l, 'attn_v')], h, E, NKV * HD)
            if kv16:
                k, v = [f16(a) for a in k], [f16(a) for a in v]
            if q16:
                q = [f16(a) for a in q]
            K.append(k), Vv.append(v), Q.append(q)
        for p in range(n):
            att = []
            for hh in range(NH):
                att += attend(Q[p][hh * HD:(hh + 1) * HD], K, Vv, hh // (NH // NKV), p + 1, mode)
            o = mv(W[(l, 'attn_output')], att, E, E)
            x[p] = [x[p][i] + o[i] for i in range(E)]
        for p in range(n):
            h = rms(x[p], W[(l, 'ffn_norm')])
            g, u = mv(W[(l, 'ffn_gate')], h, E, FF), mv(W[(l, 'ffn_up')], h, E, FF)
            d = mv(W[(l, 'ffn_down')], [g[i] / (1 + math.exp(-g[i])) * u[i] for i in range(FF)], FF, E)
            x[p] = [x[p][i] + d[i] for i in range(E)]
    out = []
    for p in range(n):
        lg = mv(W['out'], rms(x[p], W['on']), E, V)
        m = max(lg)
        lse = m + math.log(sum(math.exp(v - m) for v in lg))
        out.append([v - lse for v in lg])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--fitserve', default='build/fitserve')
    ap.add_argument('--model', default='tests/data/stories260K.gguf')
    ap.add_argument('golden', nargs='+')
    a = ap.parse_args()
    W = load_weights(a.fitserve, a.model)
    for path in a.golden:
        g = json.load(open(path))
        res = {m: run(W, g['tokens'], m) for m in ('f64', 'f64+kv16', 'fa16', 'nofa16')}
        top1 = [(P['pos'], P['top'][0][0], P['top'][0][1]) for P in g['positions']]
        print(os.path.basename(path))
        for m, lp in res.items():
            d = [abs(lp[p][t] - l) for p, t, l in top1]
            print(f'  {m:9s} vs golden: max {max(d):.5f} (pos {top1[d.index(max(d))][0]}) mean {sum(d) / len(d):.5f}')
        d = [abs(res['f64'][p][t] - res['f64+kv16'][p][t]) for p, t, _ in top1]
        print(f'  f16 KV alone moves the top-1 log-prob by: max {max(d):.5f} mean {sum(d) / len(d):.5f}')


if __name__ == '__main__':
    main()
