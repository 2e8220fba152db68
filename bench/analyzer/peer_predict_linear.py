#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""peer_predict_linear.py INPUT OUTPUT THRESHOLD HORIZON_S

Benchmark peer for `doppel analyze degrade`: a Prometheus `predict_linear` alert.
Least-squares line over the last 120 rows; probability 1 when the line is at or above
the threshold now or at now + horizon, else 0; time to breach where the line crosses the
threshold within the horizon. Standard library only, streaming (a ring of 120 rows).
"""
import collections
import sys


def main():
    inp, out, thr, hor = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    win = collections.deque(maxlen=120)
    with open(inp) as f, open(out, "w") as o:
        f.readline()
        o.write("timestamp,value,breach_probability,time_to_breach_s\n")
        for line in f:
            line = line.strip()
            if not line:
                continue
            a, b = line.split(",")
            t, v = int(a), float(b)
            win.append((t, v))
            p, ttb = 0.0, ""
            n = len(win)
            if n >= 2:
                mt = sum(x for x, _ in win) / n
                mv = sum(y for _, y in win) / n
                sxx = sum((x - mt) ** 2 for x, _ in win)
                sxy = sum((x - mt) * (y - mv) for x, y in win)
                slope = sxy / sxx if sxx > 0 else 0.0
                now = mv + slope * (t - mt)
                later = now + slope * hor
                if now >= thr:
                    p, ttb = 1.0, "0"
                elif later >= thr:
                    p, ttb = 1.0, "%.0f" % ((thr - now) / slope)
            o.write("%s,%s,%.6f,%s\n" % (a, b, p, ttb))


if __name__ == "__main__":
    main()
