-- wrk_report.lua: print wrk's exact numbers as one JSON line for harness.py.
--
-- Only `done` is defined: a script without `request` or `response` keeps
-- wrk on its fast path, so measuring does not slow the load generator.
-- Latencies are wrk's microsecond histogram, read at exact percentiles
-- (the `--latency` text rounds them to two decimals of a unit).
-- "status" counts 4xx and 5xx answers: wrk's "Non-2xx or 3xx responses".
-- The mean latency gives harness.py Little's law: connections in use =
-- req/s x mean latency.  Note that wrk counts no timeout for a request that
-- simply waits until the run ends; harness.py's new-client probe sees those.
--
-- WRK_POST_BYTES=N in the environment (harness.run_wrk's post_bytes) makes
-- every request a POST with a body of N bytes ("x" repeated): wrk builds
-- the request once, from these fields, before the run starts.

local post_bytes = tonumber(os.getenv("WRK_POST_BYTES") or "")
if post_bytes then
   wrk.method = "POST"
   wrk.body = string.rep("x", post_bytes)
end

done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, '
         .. '"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d, '
         .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.3f}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.timeout, e.status,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      latency.mean))
end
