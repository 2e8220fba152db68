# SPDX-License-Identifier: Apache-2.0
# Peer forecasts for bench/analyzer/m4.sh: R's forecast package on M4's wide layout.
#   Rscript bench/analyzer/m4_peer.R METHOD TRAIN.csv H FORECASTS.csv BOUNDS.csv
# METHOD: stlf_msts (stlf on msts(x, c(24, 168))), stlf (frequency 24), ets (frequency 24).
# Writes id,F1..FH and id,bound,F1..FH (lo80, lo95, hi80, hi95) like doppel --wide, and
# prints the CPU seconds spent fitting and forecasting (user + system, excluding start-up
# and reading) as "cpu_seconds N".
# Needs: r-base-core and r-cran-forecast (Debian packages).
suppressMessages(library(forecast))
args <- commandArgs(trailingOnly = TRUE)
method <- args[1]; train <- args[2]; h <- as.integer(args[3])
rows <- read.csv(train, header = TRUE, stringsAsFactors = FALSE, check.names = FALSE)
ids <- rows[[1]]
fc <- matrix(NA_real_, nrow(rows), h)
bounds <- list()
cpu <- 0
for (i in seq_len(nrow(rows))) {
  x <- as.numeric(rows[i, -1]); x <- x[!is.na(x)]
  t0 <- proc.time()
  f <- switch(method,
    stlf_msts = stlf(msts(x, seasonal.periods = c(24, 168)), h = h, level = c(80, 95)),
    stlf = stlf(ts(x, frequency = 24), h = h, level = c(80, 95)),
    ets = forecast(ets(ts(x, frequency = 24)), h = h, level = c(80, 95)),
    stop("unknown method ", method))
  t1 <- proc.time()
  cpu <- cpu + sum((t1 - t0)[c(1, 2)])
  fc[i, ] <- as.numeric(f$mean)
  bounds[[length(bounds) + 1]] <- c(ids[i], "lo80", as.numeric(f$lower[, 1]))
  bounds[[length(bounds) + 1]] <- c(ids[i], "lo95", as.numeric(f$lower[, 2]))
  bounds[[length(bounds) + 1]] <- c(ids[i], "hi80", as.numeric(f$upper[, 1]))
  bounds[[length(bounds) + 1]] <- c(ids[i], "hi95", as.numeric(f$upper[, 2]))
}
out <- data.frame(id = ids, fc)
colnames(out) <- c("id", paste0("F", seq_len(h)))
write.csv(out, args[4], row.names = FALSE, quote = FALSE)
b <- do.call(rbind, bounds)
colnames(b) <- c("id", "bound", paste0("F", seq_len(h)))
write.csv(b, args[5], row.names = FALSE, quote = FALSE)
cat("cpu_seconds", cpu, "\n")
