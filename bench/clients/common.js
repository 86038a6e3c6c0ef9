'use strict'
// Measurement shared by the Node benchmark clients: same phases and report as bench/src/lib.rs.
const KEY = 'bench-key'
const PATH = '/v1/0123456789abcdef0123456789abcdef/bench/openai/compat'

function workload () {
  const d = [0, 2000, 200, 64, 8]
  const a = process.argv.slice(2, 7).map(Number)
  const [port, k, s, n, t] = d.map((v, i) => a[i] || v)
  return { port, k, s, n, t, base: `http://127.0.0.1:${port}${PATH}`, fault: `chunks=${n};content_len=${n * 4}` }
}

const cpuUs = () => { const u = process.cpuUsage(); return u.user + u.system }

// Start of the stream being measured, and the time-to-first-chunk samples (µs).
let firstT = null
const firstSamples = []
/** Called by a stream function on its first chunk: records the time to first chunk. */
function firstChunk () {
  if (firstT !== null) {
    firstSamples.push(Number(process.hrtime.bigint() - firstT) / 1e3)
    firstT = null
  }
}

async function run (name, w, chat, stream) {
  for (let i = 0; i < 100; i++) await chat()
  const lat = []
  const c0 = cpuUs()
  for (let i = 0; i < w.k; i++) {
    const t = process.hrtime.bigint()
    await chat()
    lat.push(Number(process.hrtime.bigint() - t) / 1e3)
  }
  const cpuReq = (cpuUs() - c0) / w.k
  const c1 = cpuUs()
  let events = 0
  for (let i = 0; i < w.s; i++) {
    firstT = process.hrtime.bigint()
    events += await stream()
  }
  const cpuEvent = (cpuUs() - c1) / Math.max(events, 1)
  const per = Math.max(Math.floor(w.k / w.t), 1)
  const started = process.hrtime.bigint()
  await Promise.all(Array.from({ length: w.t }, async () => { for (let i = 0; i < per; i++) await chat() }))
  const rps = per * w.t / (Number(process.hrtime.bigint() - started) / 1e9)
  lat.sort((a, b) => a - b)
  firstSamples.sort((a, b) => a - b)
  console.log(JSON.stringify({
    client: name,
    latency_us_median: lat[lat.length >> 1],
    ttfc_us_median: firstSamples.length ? firstSamples[firstSamples.length >> 1] : 0,
    cpu_us_per_req: cpuReq,
    cpu_us_per_event: cpuEvent,
    events,
    concurrent_rps: rps,
    peak_rss_kib: process.resourceUsage().maxRSS
  }))
}

module.exports = { KEY, workload, run, firstChunk }
