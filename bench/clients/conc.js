'use strict'
// Concurrency scenario, Node side: N streams started at once, each a paced ~1 s stream from the
// mock. Reports wall time, completions and errors, event-loop lag (lateness of a 10 ms
// setTimeout ticking throughout) and peak RSS, as one JSON line.
//
// usage: node conc.js aigw|undici PORT N FAULT DEADLINE_S EVENTS
const { KEY } = require('./common')

const [kind, portArg, nArg, fault, deadlineArg, eventsArg] = process.argv.slice(2)
const port = Number(portArg)
const N = Number(nArg)
const DEADLINE = Number(deadlineArg)
const EVENTS = Number(eventsArg)
const PATH = '/v1/0123456789abcdef0123456789abcdef/bench/openai/compat'
const MODEL = 'openai/gpt-4o-mini'
const messages = [{ role: 'user', content: 'bench' }]

function make () {
  if (kind === 'aigw') {
    const { Client } = require('aigw')
    // One attempt, like the peers (a failure shows as an error, not as a retry).
    const client = new Client({ kind: 'cloudflare', baseUrl: `http://127.0.0.1:${port}${PATH}`, model: MODEL, apiKey: KEY, retryMaxAttempts: 1 })
    const one = async (f) => {
      let n = 0
      for await (const _ of client.chatStream({ messages }, { headers: { 'x-mock-fault': f } })) n++ // eslint-disable-line no-unused-vars
      return n
    }
    return ['aigw (Node)', one, () => client.describe().runtime]
  }
  if (kind === 'undici') {
    const { Pool } = require('undici')
    // connections: null = no cap on connections to the origin.
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: null })
    const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }
    const body = JSON.stringify({ model: MODEL, messages, stream: true })
    const one = async (f) => {
      const r = await pool.request({ path: PATH + '/chat/completions', method: 'POST', headers: { ...headers, 'x-mock-fault': f }, body })
      if (r.statusCode !== 200) { await r.body.text(); throw new Error(`status ${r.statusCode}`) }
      let n = 0
      let buf = ''
      for await (const piece of r.body) {
        buf += piece.toString('utf8')
        let i
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i)
          buf = buf.slice(i + 2)
          if (ev.startsWith('data: ') && ev !== 'data: [DONE]') { JSON.parse(ev.slice(6)); n++ }
        }
      }
      return n
    }
    return ['undici (Node)', one, null]
  }
  throw new Error(`unknown kind ${kind}`)
}

const p99 = (v) => {
  if (!v.length) return 0
  const s = [...v].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]
}

// Records how late each 10 ms timer fires; the returned stop() also cancels the pending timer,
// so no sample lands after the window it measures.
function ticker (out) {
  let pending
  const tick = () => {
    const t = performance.now()
    pending = setTimeout(() => {
      out.push(performance.now() - t - 10)
      tick()
    }, 10)
  }
  tick()
  return () => clearTimeout(pending)
}

async function main () {
  const [name, one, runtime] = make()
  await one('chunks=2') // warm-up, not timed
  const idle = []
  let stop = ticker(idle)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  stop()
  const lags = []
  stop = ticker(lags)
  const c0 = process.cpuUsage()
  const started = performance.now()
  const results = new Array(N)
  let settled = 0
  let peakPool = null
  const all = new Promise((resolve) => {
    for (let i = 0; i < N; i++) {
      one(fault).then((n) => { results[i] = { n } }, (e) => { results[i] = { e } }).finally(() => {
        if (++settled === N) resolve()
      })
    }
  })
  let timer
  const sampler = runtime && setInterval(() => {
    const r = runtime()
    if (!peakPool || r.threads > peakPool.threads) peakPool = r
  }, 100)
  await Promise.race([all, new Promise((resolve) => { timer = setTimeout(resolve, DEADLINE * 1000) })])
  const wall = (performance.now() - started) / 1000
  clearTimeout(timer)
  if (sampler) clearInterval(sampler)
  const cpu = process.cpuUsage(c0)
  stop()
  const errors = new Map()
  let ok = 0; let short = 0; let failed = 0; let unfinished = 0
  for (const r of results) {
    if (!r) { unfinished++; continue }
    if (r.e) {
      failed++
      const k = `${r.e.code || r.e.name}: ${String(r.e.message).slice(0, 400)}`
      errors.set(k, (errors.get(k) || 0) + 1)
    } else if (r.n >= EVENTS) ok++ // aigw also yields the usage chunk it asks for
    else short++
  }
  console.log(JSON.stringify({
    client: name,
    n: N,
    ok,
    short,
    failed,
    unfinished,
    errors: [...errors.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3),
    wall_s: wall,
    cpu_s: (cpu.user + cpu.system) / 1e6,
    lag_p99_ms: p99(lags),
    lag_max_ms: lags.length ? Math.max(...lags) : 0,
    idle_lag_p99_ms: p99(idle),
    peak_rss_kib: process.resourceUsage().maxRSS,
    pool: peakPool
  }))
  process.exit(0)
}

main().catch((e) => { console.error(e); process.exit(1) })
