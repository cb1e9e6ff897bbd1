# workers.gp - one chart of the worker-count study (bench/workers.py runs it).
#
# Left axis: requests per second against the number of workers, one solid
# line per server.  Right axis: p99 latency, dashed, same colour per server.
# The (2 x cores) + 1 point is marked by a vertical line and a label.
#
# Variables, given with -e by workers.py:
#   csvfile  bench/results/workers-<app>.csv
#            (app,server,workers,req_s,p50_ms,p99_ms,errors,active_conns,rss_mib)
#   pngfile  where the chart goes
#   servers  the servers in the CSV, space-separated ("greenhorn gunicorn-sync")
#   heading  the chart title
#   formula  (2 x cores) + 1
#   maxw     the largest worker count measured

set terminal pngcairo size 960,600 font "sans,11" noenhanced
set output pngfile
set datafile separator ","
set key below horizontal height 1
set title heading
set grid xtics ytics
set xlabel "workers"
set xrange [0.5:maxw + 0.5]
set xtics 1
set ylabel "requests per second (solid)"
set yrange [0:*]
set y2label "p99 latency, ms (dashed)"
set y2range [0:*]
set y2tics
set ytics nomirror

set arrow 1 from formula, graph 0 to formula, graph 1 nohead dashtype 3 linewidth 2 linecolor rgb "#555555"
set label 1 sprintf("(2 x cores) + 1 = %d", formula) at formula, graph 0.96 offset 0.5, 0 left textcolor rgb "#333333"

pick(name, col) = (strcol(2) eq name) ? column(col) : NaN

plot for [i=1:words(servers)] csvfile every ::1 using 3:(pick(word(servers, i), 4)) \
         with linespoints linewidth 2 pointtype 7 linecolor i title word(servers, i)." req/s", \
     for [i=1:words(servers)] csvfile every ::1 using 3:(pick(word(servers, i), 6)) axes x1y2 \
         with linespoints linewidth 2 dashtype 2 pointtype 6 linecolor i title word(servers, i)." p99"
