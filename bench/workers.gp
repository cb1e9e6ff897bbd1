# workers.gp - one chart of the worker-count study (bench/workers.py runs it).
#
# Two panels over the same axis of workers.  Top: requests per second, one
# solid line per server (left axis), and p99 latency, dashed, same colour
# (right axis).  Bottom: the memory of one worker from /proc, VmRSS solid
# and its private part dashed: what each extra worker costs.  The
# (2 x cores) + 1 point is marked by a vertical line and a label, and so is
# the point where every client has a worker when it is on the chart.
#
# Variables, given with -e by workers.py:
#   csvfile  bench/results/workers-<app>.csv
#            (app,server,workers,req_s,p50_ms,p99_ms,errors,active_conns,rss_mib,
#             master_rss_mib,worker_rss_mib,worker_private_mib,pss_mib)
#   pngfile  where the chart goes
#   servers  the servers in the CSV, space-separated ("greenhorn gunicorn-sync")
#   heading  the chart title
#   formula  (2 x cores) + 1
#   maxw     the largest worker count measured
#   xstep    the distance between two labels of the workers axis
#   clients  wrk's connections

set terminal pngcairo size 960,800 font "sans,11" noenhanced
set output pngfile
set datafile separator ","
set grid xtics ytics
set xrange [0.5:maxw + 0.5]
set xtics 1, xstep
set ytics nomirror
# The same left and right margins in both panels, so their workers line up;
# room above the curves for the key.
set lmargin at screen 0.09
set rmargin at screen 0.91
set offsets 0, 0, graph 0.35, 0

pick(name, col) = (strcol(2) eq name) ? column(col) : NaN

set multiplot title heading

# ---- top: req/s and p99 --------------------------------------------------------
set origin 0, 0.36
set size 1, 0.60
set key top left horizontal maxcols 2
set xlabel ""
set format x ""
set ylabel "requests per second (solid)"
set yrange [0:*]
set y2label "p99 latency, ms (dashed)"
set y2range [0:*]
set y2tics

set arrow 1 from formula, graph 0 to formula, graph 1 nohead dashtype 3 linewidth 2 linecolor rgb "#555555"
set label 1 sprintf("(2 x cores) + 1 = %d", formula) at formula, graph 0.03 offset -1.1, 0 left rotate by 90 textcolor rgb "#333333"
if (clients <= maxw) {
    set arrow 2 from clients, graph 0 to clients, graph 1 nohead dashtype 3 linewidth 2 linecolor rgb "#999999"
    set label 2 sprintf("a worker per client = %d", clients) at clients, graph 0.03 offset -1.1, 0 left rotate by 90 textcolor rgb "#333333"
}

plot for [i=1:words(servers)] csvfile every ::1 using 3:(pick(word(servers, i), 4)) \
         with linespoints linewidth 2 pointtype 7 linecolor i title word(servers, i)." req/s", \
     for [i=1:words(servers)] csvfile every ::1 using 3:(pick(word(servers, i), 6)) axes x1y2 \
         with linespoints linewidth 2 dashtype 2 pointtype 6 linecolor i title word(servers, i)." p99"

# ---- bottom: what one worker costs ---------------------------------------------
unset label 1
unset label 2
set origin 0, 0
set size 1, 0.38
set key top left horizontal maxcols 2
set xlabel "workers"
set format x "%g"
set ylabel "MiB per worker"
set yrange [0:*]
unset y2label
unset y2tics

plot for [i=1:words(servers)] csvfile every ::1 using 3:(pick(word(servers, i), 11)) \
         with linespoints linewidth 2 pointtype 7 linecolor i title word(servers, i)." worker RSS", \
     for [i=1:words(servers)] csvfile every ::1 using 3:(pick(word(servers, i), 12)) \
         with linespoints linewidth 2 dashtype 2 pointtype 6 linecolor i title word(servers, i)." private"

unset multiplot
