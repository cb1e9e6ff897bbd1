# threads.gp - one chart of the study's threads axis (bench/workers.py --threads runs it).
#
# Two panels over the same axis of threads per worker (1, 2, 4, 8, drawn
# evenly).  Top: requests per second; bottom: p99 latency (log scale).  One
# line per server and worker count: the colour is the worker count, the
# server is the line's dash and point (solid and filled: the first server;
# dashed and open: the second).
#
# Variables, given with -e by workers.py:
#   csvfile  bench/results/threads-<app>.csv
#            (app,server,workers,threads,slots,req_s,p50_ms,p99_ms,errors,active_conns,
#             rss_mib,master_rss_mib,worker_rss_mib,worker_private_mib,pss_mib)
#   pngfile  where the chart goes
#   servers  the servers in the CSV, space-separated ("greenhorn-gthread gunicorn-gthread")
#   workers  the worker counts measured, space-separated ("1 2 4 8")
#   heading  the chart title
#   maxt     the most threads measured

set terminal pngcairo size 960,800 font "sans,11" noenhanced
set output pngfile
set datafile separator ","
set grid xtics ytics
set logscale x 2
set xrange [0.8:maxt * 1.25]
set xtics ("1" 1, "2" 2, "4" 4, "8" 8, "16" 16, "32" 32)
set lmargin at screen 0.09
set rmargin at screen 0.97

pick(name, w, col) = (strcol(2) eq name && column(3) == w) ? column(col) : NaN
nw = words(workers)
ns = words(servers)

set multiplot title heading

# ---- top: req/s ----------------------------------------------------------------------
set origin 0, 0.45
set size 1, 0.51
set key top left horizontal maxcols 4 font ",9"
set xlabel ""
set format x ""
set ylabel "requests per second"
set yrange [0:*]
set offsets 0, 0, graph 0.25, 0

plot for [k=0:nw*ns-1] csvfile every ::1 \
         using 4:(pick(word(servers, k / nw + 1), word(workers, k % nw + 1) + 0, 6)) \
         with linespoints linewidth 2 linecolor (k % nw + 1) dashtype 1 + k / nw pointtype (7 - k / nw) \
         title sprintf("%s, %s worker(s)", word(servers, k / nw + 1), word(workers, k % nw + 1))

# ---- bottom: p99 -----------------------------------------------------------------------
set origin 0, 0
set size 1, 0.47
set nokey
set xlabel "threads per worker"
set format x "%g"
set ylabel "p99 latency, ms (log)"
set logscale y
set yrange [*:*]
set offsets 0, 0, 0, 0

plot for [k=0:nw*ns-1] csvfile every ::1 \
         using 4:(pick(word(servers, k / nw + 1), word(workers, k % nw + 1) + 0, 8)) \
         with linespoints linewidth 2 linecolor (k % nw + 1) dashtype 1 + k / nw pointtype (7 - k / nw) \
         notitle

unset multiplot
