#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""kayenta_peer.py - THE PEER, not doppel: a Kayenta-style Mann-Whitney canary classifier,
written only to be measured against `doppel analyze judge` in bench/analyzer/judge.sh.

    /usr/bin/python3 bench/analyzer/kayenta_peer.py BASELINE.csv CANARY.csv

Modelled on Kayenta's NetflixACAJudge-v1.0 with its MannWhitneyClassifier: every metric's
samples (one observation per row, "raw") go through scipy.stats.mannwhitneyu (two-sided,
98 % confidence, so significant when p < 0.02); a metric is High when the difference is
significant and the canary/baseline mean ratio exceeds 1 + 0.25 (direction: increase is
bad), otherwise Pass; metrics without data on a side are left out. Score = 100 * passing
metrics / metrics; verdict pass at >= 95, marginal at >= 75, else fail. Prints one JSON
object like doppel's. Needs Debian's python3-scipy.
"""
import csv
import json
import sys

import numpy as np
from scipy.stats import mannwhitneyu

CONFIDENCE, TOLERANCE, PASS_SCORE, MARGINAL_SCORE = 0.98, 0.25, 95, 75


def load(path):
    out = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["metric"], []).append(float(row["value"]))
    return out


def classify(baseline, canary):
    x, y = np.asarray(canary), np.asarray(baseline)
    p = mannwhitneyu(x, y, alternative="two-sided").pvalue
    mb, mc = y.mean(), x.mean()
    ratio = mc / mb if mb > 0 else (float("inf") if mc > 0 else 1.0)
    high = p < 1 - CONFIDENCE and ratio > 1 + TOLERANCE
    return {"test": "mann-whitney", "p_value": p, "effect": ratio - 1,
            "status": "fail" if high else "pass"}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: kayenta_peer.py BASELINE.csv CANARY.csv")
    b, c = load(sys.argv[1]), load(sys.argv[2])
    metrics = []
    for name in sorted(set(b) | set(c)):
        if len(b.get(name, [])) < 2 or len(c.get(name, [])) < 2:
            continue
        m = classify(b[name], c[name])
        m["name"] = name
        metrics.append(m)
    passed = sum(m["status"] == "pass" for m in metrics)
    score = 100.0 * passed / len(metrics) if metrics else 100.0
    verdict = "pass" if score >= PASS_SCORE else "marginal" if score >= MARGINAL_SCORE else "fail"
    print(json.dumps({"verdict": verdict, "score": score, "metrics": metrics}))


if __name__ == "__main__":
    main()
