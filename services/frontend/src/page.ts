/** The demo page: one button, the JSON answer, and the trace id to paste into Jaeger. */
export const indexPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tracelab frontend</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
  pre { background: #f4f4f4; padding: 1rem; overflow-x: auto; }
  label { margin-right: 1rem; }
</style>
</head>
<body>
<h1>tracelab</h1>
<p>Each click is one request: frontend → backend, one trace in Jaeger.</p>
<p>
  <label>latency ms <input id="latency" type="number" min="0" value="0" size="5"></label>
  <label>error rate <input id="errors" type="number" min="0" max="1" step="0.1" value="0" size="4"></label>
  <button id="go">Call backend</button>
  <a href="/api/discovery">how was backend found?</a>
</p>
<p>trace id: <code id="trace">–</code></p>
<pre id="out"></pre>
<script>
  document.getElementById('go').addEventListener('click', async () => {
    const headers = {
      'x-tracelab-latency-ms': document.getElementById('latency').value,
      'x-tracelab-error-rate': document.getElementById('errors').value,
    };
    const response = await fetch('/api/hello', { headers });
    const body = await response.json();
    document.getElementById('trace').textContent = body.traceId || '–';
    document.getElementById('out').textContent = response.status + '\\n' + JSON.stringify(body, null, 2);
  });
</script>
</body>
</html>
`;
