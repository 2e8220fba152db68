#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""zscore_peer.py - the trivial peer of `doppel analyze detect` in bench/analyzer/nab.sh:
a rolling z-score. The score of row t is |z| / (1 + |z|), z = (x_t - mean) / sd over the
WINDOW rows before t (0 while fewer rows have been seen, or when sd is 0).
Standard library only.

    zscore_peer.py DATA.csv RESULT.csv [WINDOW]    (WINDOW defaults to 1000)
"""
import collections
import csv
import math
import sys


def main():
    src, dst = sys.argv[1], sys.argv[2]
    window = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    hist = collections.deque(maxlen=window)
    s = s2 = 0.0
    with open(src, newline="") as fi, open(dst, "w", newline="") as fo:
        out = csv.writer(fo, lineterminator="\n")
        out.writerow(["timestamp", "value", "anomaly_score"])
        for row in csv.DictReader(fi):
            x = float(row["value"])
            score = 0.0
            if len(hist) == window:
                mean = s / window
                var = max(s2 / window - mean * mean, 0.0)
                if var > 0:
                    z = abs(x - mean) / math.sqrt(var)
                    score = z / (1.0 + z)
                old = hist[0]
                s -= old
                s2 -= old * old
            hist.append(x)
            s += x
            s2 += x * x
            out.writerow([row["timestamp"], row["value"], "%.9g" % score])


if __name__ == "__main__":
    main()
