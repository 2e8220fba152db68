#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""peer_holt.py INPUT OUTPUT THRESHOLD HORIZON_S

Benchmark peer for `doppel analyze degrade`: Holt's linear trend on irregular time
(level time constant 15 min, trend 30 min, residuals clipped at 4 sigma) with a Gaussian
forecast error growing as in ETS(A,A,N); probability = max over h <= horizon of
P(forecast(h) > threshold), evaluated on 24 steps. Standard library only, O(1) per row.
"""
import math
import sys

TAU_L, TAU_B = 900.0, 1800.0


def ncdf(z):
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def main():
    inp, out, thr, hor = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    lvl = tr = None
    var = None
    tprev = None
    step = None
    with open(inp) as f, open(out, "w") as o:
        f.readline()
        o.write("timestamp,value,breach_probability,time_to_breach_s\n")
        for line in f:
            line = line.strip()
            if not line:
                continue
            a, b = line.split(",")
            t, v = int(a), float(b)
            if lvl is None:
                lvl, tr, var, tprev = v, 0.0, 0.0, t
            else:
                dt = max(1.0, t - tprev)
                step = dt if step is None else 0.99 * step + 0.01 * min(dt, 600.0)
                al = 1 - math.exp(-dt / TAU_L)
                be = 1 - math.exp(-dt / TAU_B)
                pred = lvl + tr * dt
                e = v - pred
                sd = math.sqrt(var) if var > 0 else None
                if sd and abs(e) > 4 * sd:
                    e = math.copysign(4 * sd, e)
                var = e * e if var == 0 else 0.99 * var + 0.01 * e * e
                nl = pred + al * e
                tr = (1 - be) * tr + be * (nl - lvl) / dt
                lvl, tprev = nl, t
            p, ttb = 0.0, ""
            if step:
                al = 1 - math.exp(-step / TAU_L)
                be = 1 - math.exp(-step / TAU_B)
                sd = math.sqrt(var)
                for i in range(1, 25):
                    h = hor * i / 24
                    k = h / step
                    vk = var * (1 + (k - 1) * (al * al + al * be * k + be * be * k * (2 * k - 1) / 6))
                    mu = lvl + tr * h
                    s = math.sqrt(max(vk, 1e-18))
                    p = max(p, ncdf((mu - thr) / s))
                    if not ttb and mu >= thr:
                        ttb = "%.0f" % h
                if lvl >= thr:
                    ttb = "0"
            o.write("%s,%s,%.6f,%s\n" % (a, b, p, ttb))


if __name__ == "__main__":
    main()
