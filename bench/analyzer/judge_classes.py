#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""judge_classes.py - a judge's per-class detection and false alarms on simulated trials.

    /usr/bin/python3 bench/analyzer/judge_classes.py --judge 'build/doppel analyze judge \
        --json --baseline {baseline} --canary {canary}' [--trials 700] [--seed 1] [-j 2]

Draws trials of the 14 classes of the labeled judge trials (../shared/data/judge-public,
see its README): the same latency shapes (lognormal, lognormal body with a Pareto tail,
bimodal hit/miss), load drift on half the trials (arrivals and latencies follow one load
curve on both sides), error rates, cpu windows from an AR(1) process, and the classes'
changes (aa, aa_noise, improvement; median, tail, error and variance regressions; each at
500-20000 requests a side and as small_* at 200). The generator follows the README's
description, not the data set's own code, so its rates are a second opinion next to the
public trials, not a copy of the hidden ones. Prints per-class rates (marginal counted as
fail) and the balanced accuracy. Needs numpy (Debian python3-numpy).
"""
import argparse, json, os, shlex, subprocess, tempfile
from concurrent.futures import ThreadPoolExecutor
import numpy as np
def lat_process(rng):
    shape = rng.integers(3)
    if shape == 0:
        par = dict(shape=0, med=np.exp(rng.uniform(np.log(15), np.log(250))), s=rng.uniform(0.25, 0.7))
    elif shape == 1:
        par = dict(shape=1, med=np.exp(rng.uniform(np.log(15), np.log(250))), s=rng.uniform(0.25, 0.7),
                   frac=rng.uniform(0.01, 0.04), alpha=rng.uniform(1.3, 2.5))
    else:
        par = dict(shape=2, med=np.exp(rng.uniform(np.log(5), np.log(60))), s=rng.uniform(0.25, 0.5),
                   hit=rng.uniform(0.5, 0.9), mult=rng.uniform(6, 20))
    return par
def draw(rng, par, n):
    if par['shape'] == 0:
        return rng.lognormal(np.log(par['med']), par['s'], n)
    if par['shape'] == 1:
        x = rng.lognormal(np.log(par['med']), par['s'], n)
        t = rng.random(n) < par['frac']
        x0 = par['med'] * np.exp(par['s'] * 1.645)
        x[t] = x0 * (1 + rng.pareto(par['alpha'], t.sum()))
        return x
    hit = rng.random(n) < par['hit']
    return np.where(hit, rng.lognormal(np.log(par['med']), par['s'], n),
                    rng.lognormal(np.log(par['med'] * par['mult']), par['s'], n))
def load_curve(rng):
    if rng.random() < 0.5:
        return None
    return dict(a=rng.uniform(0.2, 0.5), P=rng.uniform(60, 300), phi=rng.uniform(0, 2*np.pi),
                b=rng.uniform(-0.3, 0.3), g=rng.uniform(0.5, 1.5), T=rng.uniform(240, 360))
def arrivals(rng, lc, n):
    if lc is None:
        return np.sort(rng.uniform(0, 1, n)), np.ones(n)
    T = lc['T']
    t = np.linspace(0, T, 4000); L = 1 + lc['a']*np.sin(2*np.pi*t/lc['P']+lc['phi']) + lc['b']*(t/T-0.5)
    cdf = np.cumsum(L); cdf /= cdf[-1]
    u = np.sort(rng.random(n)); ti = np.interp(u, cdf, t)
    Li = 1 + lc['a']*np.sin(2*np.pi*ti/lc['P']+lc['phi']) + lc['b']*(ti/T-0.5)
    return ti, Li / L.mean()
def cpu(rng, lc, k):
    x, out = 0.0, []
    g = rng.uniform(0.3, 1.0)
    for i in range(k):
        x = 0.6 * x + rng.normal(0, 3)
        L = 1.0
        if lc is not None:
            t = (i + 0.5) / k * lc['T']
            L = 1 + lc['a']*np.sin(2*np.pi*t/lc['P']+lc['phi']) + lc['b']*(t/lc['T']-0.5)
        out.append(40 * (1 + g * (L - 1)) + x)
    return np.array(out)
CLASSES = ['aa','aa_noise','improvement','median_regression','tail_regression','error_increase','variance_increase']
def trial(rng, cls, small):
    par = lat_process(rng); lc = load_curve(rng)
    if small: nb = nc = 200
    else:
        nb = int(np.exp(rng.uniform(np.log(500), np.log(20000))))
        nc = nb if rng.random() < 0.5 else max(50, int(nb * rng.uniform(0.25, 1)))
    rate = [0, 0.001, 0.003, 0.01, 0.02][rng.integers(5)]
    rate_c = rate
    k = rng.integers(3)
    if cls == 'error_increase':
        rate, rate_c = [(0.001, 0.005), (0.01, 0.02), (0, 0.003)][k]
    if cls == 'improvement' and k == 2: rate_c = rate / 2
    has_cpu = rng.random() < 0.5; kc = rng.integers(24, 37)
    out = []
    for side, n in (('b', nb), ('c', nc)):
        ti, L = arrivals(rng, lc, n)
        gamma = lc['g'] if lc else 1
        x = draw(rng, par, n)
        if side == 'c':
            if cls == 'aa_noise':
                r = rng.uniform(0.01, 0.03) * (1 if rng.random() < 0.75 else -1); x = x * (1 + r)
            elif cls == 'improvement':
                if k == 0: x = x * rng.uniform(0.6, 0.9)
                elif k == 1:
                    p90 = np.quantile(draw(rng, par, 20000), 0.9); f = rng.uniform(0.5, 0.8)
                    hi = x > p90; x[hi] = p90 * (x[hi] / p90) ** f
                else: x = x * 0.9
            elif cls == 'median_regression':
                r = [0.1, 0.25, 0.5][rng.integers(3)]
                x = x * (1 + r) if rng.random() < 0.5 else x + r * np.median(draw(rng, par, 20000))
            elif cls == 'tail_regression':
                ref = draw(rng, par, 20000); p90, p50, p99 = np.quantile(ref, [0.9, 0.5, 0.99])
                tgt = rng.uniform(1.5, 3)
                if rng.random() < 0.5:
                    # stretch above p90: p90*(x/p90)^e with p99 ratio tgt
                    e = np.log(tgt * p99 / p90) / np.log(p99 / p90)
                    hi = x > p90; x[hi] = p90 * (x[hi] / p90) ** e
                else:
                    fr = rng.uniform(0.015, 0.03)
                    sel = (x > p50) & (rng.random(n) < 2 * fr)
                    x[sel] += (tgt - 1) * p99
            elif cls == 'variance_increase':
                s = rng.uniform(1.3, 1.8); m = np.log(np.median(draw(rng, par, 20000)))
                x = np.exp(m + s * (np.log(x) - m))
        x = np.minimum(x * L ** gamma if lc else x, 60000)
        x = np.round(x, 3)
        pr = (rate_c if side == 'c' else rate) * L
        e = (rng.random(n) < pr).astype(int)
        c = cpu(rng, lc, kc) if has_cpu else None
        out.append((x, e, c))
    return out


PASS_CLASSES = ('aa', 'aa_noise', 'improvement')


def write(path, lat, err, cpu_windows):
    with open(path, "w") as f:
        f.write("metric,value\n")
        f.writelines("latency_ms,%.3f\n" % v for v in lat)
        f.writelines("error,%d\n" % e for e in err)
        if cpu_windows is not None:
            f.writelines("cpu,%.3f\n" % v for v in cpu_windows)


def run_one(judge, d, i, seed):
    cls, small = CLASSES[i % 7], (i // 7) % 2 == 1
    rng = np.random.default_rng([seed, i])
    sides = trial(rng, cls, small)
    paths = []
    for side, (lat, err, cw) in zip(("b", "c"), sides):
        p = os.path.join(d, "%d%s.csv" % (i, side))
        write(p, lat, err, cw)
        paths.append(p)
    cmd = judge.replace("{baseline}", shlex.quote(paths[0])).replace(
        "{canary}", shlex.quote(paths[1]))
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    for p in paths:
        os.unlink(p)
    try:
        verdict = json.loads(r.stdout.strip().splitlines()[-1])["verdict"]
    except (ValueError, IndexError, KeyError):
        verdict = "error"
    return ("small_" if small else "") + cls, verdict


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--judge", required=True)
    ap.add_argument("--trials", type=int, default=700)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("-j", type=int, default=2)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d, ThreadPoolExecutor(a.j) as ex:
        out = list(ex.map(lambda i: run_one(a.judge, d, i, a.seed), range(a.trials)))
    per = {}
    for cls, v in out:
        per.setdefault(cls, []).append(v)
    flagged = lambda vs: sum(v in ("fail", "marginal") for v in vs)
    det = fa = ndet = nfa = 0
    print("| class | n | %s | marginal |" % "rate % (m=fail)")
    print("|---|---:|---:|---:|")
    for cls in sorted(per):
        vs = per[cls]
        k = flagged(vs)
        is_pass = cls.replace("small_", "") in PASS_CLASSES
        print("| %s | %d | %s %.1f | %d |" % (cls, len(vs), "FA" if is_pass else "det",
                                              100.0 * k / len(vs), vs.count("marginal")))
        if is_pass:
            fa, nfa = fa + k, nfa + len(vs)
        else:
            det, ndet = det + k, ndet + len(vs)
    errors = sum(v == "error" for _, v in out)
    print("detection %.1f %%, false alarm %.1f %%, balanced accuracy %.1f %% (m=fail), errors %d"
          % (100.0 * det / ndet, 100.0 * fa / nfa, 50 * (det / ndet + 1 - fa / nfa), errors))


if __name__ == "__main__":
    main()
