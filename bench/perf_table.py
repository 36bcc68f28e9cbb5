#!/usr/bin/env python3
"""Issue 5 item 6: the performance table of docs/performance.md.

Synthesizes gemma4-1b and gemma4-12b random-weight models in Q4_0 and Q8_0 (reused when present),
measures the machine's read bandwidth (bench/membw, 2 threads) and runs `fitserve bench`
(pp512, tg128, r=3, 2 threads) on each, every measurement under quiet_run.py (waits for a quiet
machine and reports how clean the run was). Generation is also given as a fraction of the
memory-bandwidth bound: (weight bytes read per token x tg t/s) / measured read bandwidth (probed
before each model and after the last; a model is compared with the two probes around it), where
the bytes per token are every matrix plus the output head, and one row of the embedding table
(`gen_bytes_per_token` of `fitserve bench -o json`). Each probe is taken twice: plain AVX-512
loads (the bound as issue 5 defines it) and with a software prefetch 4 KB ahead
(`membw --prefetch 4096`, the technique of the GEMV kernels), which reads more on the test VM and
so is the tighter bound; the table gives the fraction of both.

Usage:
  python3 bench/perf_table.py --build build-bench [--dir /tmp/fitserve-bench]
      [--models gemma4-1b:q4_0,gemma4-1b:q8_0,gemma4-12b:q4_0,gemma4-12b:q8_0]
      [-p 512] [-n 128] [-r 3] [--big P,N,R] [--threads 2] [--max-wait 900] [--json FILE]
--big P,N,R overrides prompt/gen/reps for the 12b models (e.g. 128,32,1 when time is short).
Prints a markdown table (and the raw figures with --json; --from-json FILE prints the table again).
"""
import argparse
import json
import os
import subprocess
import sys

QUIET = '/work/shared/tools/quiet_run.py'
# Reference implementation, CPU build, 2 threads, this machine type (issue 5).
REFERENCE = {('gemma4-1b', 'q4_0'): (245.0, 41.0), ('gemma4-12b', 'q4_0'): (17.0, 4.0)}
REFERENCE_BW = 38.0


def quiet(cmd, max_wait, log=None):
    """Runs cmd under quiet_run; returns (stdout, quiet_run's JSON report)."""
    full = [sys.executable, QUIET, '--max-wait', str(max_wait)]
    if log:
        full += ['--log', log]
    full += ['--'] + cmd
    p = subprocess.run(full, capture_output=True, text=True)
    report = {}
    for line in p.stderr.splitlines():
        if line.startswith('QUIET_RUN '):
            report = json.loads(line[len('QUIET_RUN '):])
    if p.returncode != 0:
        sys.exit(f'error: {" ".join(cmd)} failed (rc {p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}')
    return p.stdout, report


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build', default='build-bench', help='build directory with fitserve and bench/membw')
    ap.add_argument('--dir', default='/tmp/fitserve-bench', help='where the synthetic models live')
    ap.add_argument('--models', default='gemma4-1b:q4_0,gemma4-1b:q8_0,gemma4-12b:q4_0,gemma4-12b:q8_0')
    ap.add_argument('-p', type=int, default=512)
    ap.add_argument('-n', type=int, default=128)
    ap.add_argument('-r', type=int, default=3)
    ap.add_argument('--big', default='', help='P,N,R for the 12b models')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--max-wait', type=int, default=900)
    ap.add_argument('--json', default='', help='write the raw figures here')
    ap.add_argument('--from-json', default='', help='only print the table of figures saved with --json')
    a = ap.parse_args()
    if a.from_json:
        with open(a.from_json) as f:
            render(json.load(f))
        return

    fitserve = os.path.join(a.build, 'fitserve')
    membw = os.path.join(a.build, 'bench', 'membw')
    for b in (fitserve, membw):
        if not os.access(b, os.X_OK):
            sys.exit(f'error: {b} not found; build it: ninja -C {a.build} fitserve membw')
    os.makedirs(a.dir, exist_ok=True)

    def bandwidth():
        out, rep = quiet([membw, '--threads', str(a.threads), '--reps', '20', '--json'], a.max_wait)
        bw = json.loads(out)
        bw['quiet'] = rep
        out, rep = quiet([membw, '--threads', str(a.threads), '--reps', '20', '--prefetch', '4096', '--json'], a.max_wait)
        bw['prefetch'] = json.loads(out)
        bw['prefetch']['quiet'] = rep
        print(f'read bandwidth ({a.threads} threads): best {bw["best_gbs"]:.1f} GB/s, median {bw["median_gbs"]:.1f} GB/s, '
              f'with prefetch {bw["prefetch"]["median_gbs"]:.1f} (foreign cores {rep.get("foreign_mean_cores", "?")})',
              file=sys.stderr)
        return bw

    # The probe runs before every model and after the last: on this VM the bandwidth depends on
    # where the host places the vCPUs (one probe in a session read 80 GB/s, the usual is ~43), so
    # each model is compared with the mean of the probe medians just before and after it.
    bws = [bandwidth()]

    raw = {'threads': a.threads, 'bandwidth': bws, 'models': []}
    for spec in a.models.split(','):
        preset, qtype = spec.split(':')
        path = os.path.join(a.dir, f'{preset}-{qtype}.gguf')
        if not os.path.exists(path):
            print(f'synthesizing {path} ...', file=sys.stderr)
            subprocess.run([fitserve, 'synth', '--preset', preset, '--type', qtype, '-o', path + '.tmp'], check=True)
            os.rename(path + '.tmp', path)
        p, n, r = a.p, a.n, a.r
        if a.big and '12b' in preset:
            p, n, r = (int(x) for x in a.big.split(','))
        cmd = [fitserve, 'bench', '-m', path, '-p', str(p), '-n', str(n), '-r', str(r), '-t', str(a.threads), '-o', 'json']
        if raw['models']:
            bws.append(bandwidth())
        print('running', ' '.join(cmd), file=sys.stderr)
        out, rep = quiet(cmd, a.max_wait)
        raw['models'].append({'preset': preset, 'type': qtype, 'file': path, 'tests': json.loads(out), 'quiet': rep})
    bws.append(bandwidth())
    for i, m in enumerate(raw['models']):
        m['probes'] = [bws[i]['median_gbs'], bws[i + 1]['median_gbs']]
        m['pf_probes'] = [bws[i]['prefetch']['median_gbs'], bws[i + 1]['prefetch']['median_gbs']]
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(raw, f, indent=1)
    render(raw)


def render(raw):
    """Prints the markdown table from the raw figures (also usable with --from-json)."""
    bws = raw['bandwidth']

    def ts(t):
        return f'{t["avg_ts"]:.2f} ± {t["stddev_ts"]:.2f}' if t else '-'

    print(f'read bandwidth: {raw.get("threads", 2)} threads, bench/membw, median of 20 runs, probed before each model and after '
          f'the last (reference machine: ~{REFERENCE_BW:.0f} GB/s).\n')
    print('| model | file GiB | pp512 t/s | tg128 t/s | MB read / token | gen GB/s | probes around it, GB/s | % of bound | '
          'prefetching probes, GB/s | % of those | ref pp / tg t/s | pp, tg vs ref | peak RSS GiB | foreign cores |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')

    def fraction(eff, b0, b1):
        lo, hi = min(b0, b1), max(b0, b1)
        return f'{100 * eff / hi:.0f}%' if hi / lo < 1.15 else f'{100 * eff / hi:.0f}–{100 * eff / lo:.0f}%'

    for i, m in enumerate(raw['models']):
        tests = m['tests']
        pp = next((t for t in tests if t['n_gen'] == 0), None)
        tg = next((t for t in tests if t['n_prompt'] == 0), None)
        bpt = tests[0]['gen_bytes_per_token']
        eff = tg['avg_ts'] * bpt / 1e9 if tg else 0.0
        b0, b1 = m['probes'] if 'probes' in m else (bws[i]['median_gbs'], bws[i + 1]['median_gbs'])
        pf = m.get('pf_probes')
        pf_cols = f'{pf[0]:.1f}, {pf[1]:.1f} | {fraction(eff, *pf)}' if pf else '- | -'
        ref = REFERENCE.get((m['preset'], m['type']))
        refs = f'{ref[0]:.0f} / {ref[1]:.1f}' if ref else '-'
        vs = f'{pp["avg_ts"] / ref[0]:.2f}x, {tg["avg_ts"] / ref[1]:.2f}x' if ref and pp and tg else '-'
        names = [t['test'] for t in tests]
        label = f'{m["preset"]} {m["type"].upper()}' + ('' if names == ['pp512', 'tg128'] else f' ({", ".join(names)})')
        print(f'| {label} | {tests[0]["file_size"] / 2**30:.2f} | {ts(pp)} | {ts(tg)} | {bpt / 1e6:.0f} | {eff:.1f} | '
              f'{b0:.1f}, {b1:.1f} | {fraction(eff, b0, b1)} | {pf_cols} | {refs} | {vs} | {tests[0]["peak_rss"] / 2**30:.2f} | '
              f'{m["quiet"].get("foreign_mean_cores")} |')
    print(f'\nr = {len(raw["models"][0]["tests"][0]["samples_ts"])} repetitions (mean ± sample sd); % of bound = gen GB/s '
          'divided by the probes around the run (a range when they disagree by more than 15%); "prefetching probes": the '
          'same with `membw --prefetch 4096`.')

if __name__ == '__main__':
    main()
