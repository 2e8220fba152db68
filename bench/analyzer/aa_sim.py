#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""aa_sim.py - false-alarm rate of a judge on simulated A/A trials (same process both sides).

    /usr/bin/python3 bench/analyzer/aa_sim.py --judge 'build/doppel analyze judge --json \
        --baseline {baseline} --canary {canary}' [--trials 300] [--seed 1]

Each trial draws both sides from one process: lognormal, lognormal with a Pareto tail, or
bimodal latencies (500-20000 requests, log-uniform; canary 25-100 % of the baseline's
count half the time, or 200 per side for a quarter of trials), per-request errors at 0, 0.1,
0.3, 1 or 2 %, and for half the trials 30 cpu windows from an AR(1) process (rho 0.6).
Prints the share of trials judged fail and marginal. Needs numpy (Debian python3-numpy).
"""
import argparse, json, os, shlex, subprocess, tempfile
import numpy as np


def latencies(rng, n, shape, par):
    """par: the process parameters, drawn once per trial so both sides share them."""
    if shape == 0:
        return rng.lognormal(np.log(par[0]), par[1], n)
    if shape == 1:
        body = rng.lognormal(np.log(50), 0.5, n)
        tail = rng.random(n) < 0.03
        body[tail] = 50 * np.exp(0.5 * 1.645) * (1 + rng.pareto(1.8, tail.sum()))
        return body
    hit = rng.random(n) < par[2]
    return np.where(hit, rng.lognormal(np.log(10), 0.4, n), rng.lognormal(np.log(120), 0.35, n))


def cpu(rng, k):
    x, out = 0.0, []
    for _ in range(k):
        x = 0.6 * x + rng.normal(0, 3)
        out.append(40 + x)
    return out


def write(path, lat, err, cpu_windows):
    with open(path, "w") as f:
        f.write("metric,value\n")
        f.writelines("latency_ms,%.3f\n" % v for v in np.minimum(lat, 60000))
        f.writelines("error,%d\n" % e for e in err)
        f.writelines("cpu,%.3f\n" % v for v in cpu_windows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--judge", required=True)
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    counts = {"pass": 0, "marginal": 0, "fail": 0, "error": 0}
    with tempfile.TemporaryDirectory() as d:
        for t in range(a.trials):
            small = rng.random() < 0.25
            nb = 200 if small else int(np.exp(rng.uniform(np.log(500), np.log(20000))))
            nc = nb if small or rng.random() < 0.5 else max(50, int(nb * rng.uniform(0.25, 1)))
            shape, rate = t % 3, [0, 0.001, 0.003, 0.01, 0.02][rng.integers(5)]
            has_cpu = rng.random() < 0.5
            par = (rng.uniform(15, 250), rng.uniform(0.25, 0.7), rng.uniform(0.5, 0.9))
            paths = []
            for side, n in (("b", nb), ("c", nc)):
                p = os.path.join(d, side + ".csv")
                write(p, latencies(rng, n, shape, par), (rng.random(n) < rate).astype(int),
                      cpu(rng, 30) if has_cpu else [])
                paths.append(p)
            cmd = a.judge.replace("{baseline}", shlex.quote(paths[0])).replace(
                "{canary}", shlex.quote(paths[1]))
            r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
            try:
                counts[json.loads(r.stdout.strip().splitlines()[-1])["verdict"]] += 1
            except (ValueError, IndexError, KeyError):
                counts["error"] += 1
    n = a.trials
    print("A/A trials %d: fail %.1f %%, marginal %.1f %%, errors %d" %
          (n, 100 * counts["fail"] / n, 100 * counts["marginal"] / n, counts["error"]))


if __name__ == "__main__":
    main()
