'use strict'
// Raw undici against the same mock.
const { Pool } = require('undici')
const { KEY, workload, run, firstChunk } = require('./common')

const w = workload()
const pool = new Pool(`http://127.0.0.1:${w.port}`, { connections: 16 })
const path = new URL(w.base).pathname + '/chat/completions'
const body = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'bench' }] }
const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }
const chat = async () => {
  const r = await pool.request({ path, method: 'POST', headers, body: JSON.stringify(body) })
  if (!(await r.body.json()).choices) throw new Error('x')
}
const stream = async () => {
  const r = await pool.request({ path, method: 'POST', headers: { ...headers, 'x-mock-fault': w.fault }, body: JSON.stringify({ ...body, stream: true }) })
  let n = 0
  let buf = ''
  for await (const piece of r.body) {
    buf += piece.toString('utf8')
    let i
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, i)
      buf = buf.slice(i + 2)
      if (ev.startsWith('data: ') && ev !== 'data: [DONE]') {
        JSON.parse(ev.slice(6))
        if (!n) firstChunk()
        n++
      }
    }
  }
  return n
}
run('undici (Node)', w, chat, stream)
