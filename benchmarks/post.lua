-- wrk script: POST one JSON body to the URL given to wrk; report the run as one JSON line.
--   wrk -t1 -c16 -d10s --latency -s benchmarks/post.lua http://127.0.0.1:8000/v1/models/moons-node/predict
-- WRK_BODY (environment) replaces the default body. Latencies are in microseconds.

wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY") or '{"inputs": [[0.5, -0.2]]}'
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local e = summary.errors
  local fields = {
    string.format('"requests": %d', summary.requests),
    string.format('"duration_us": %d', summary.duration),
    string.format('"bytes": %d', summary.bytes),
    string.format('"connect_errors": %d', e.connect),
    string.format('"read_errors": %d', e.read),
    string.format('"write_errors": %d', e.write),
    string.format('"timeouts": %d', e.timeout),
    string.format('"status_errors": %d', e.status),
    string.format('"mean_us": %.3f', latency.mean),
    string.format('"max_us": %.3f', latency.max),
  }
  for _, p in ipairs({50, 90, 99}) do
    table.insert(fields, string.format('"p%d_us": %.3f', p, latency:percentile(p)))
  end
  io.write("WRK_JSON {" .. table.concat(fields, ", ") .. "}\n")
end
