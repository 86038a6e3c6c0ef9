'use strict'
// aigw from Node: `await chat()` (async) and, as a second row, `chatSync()`.
const { Client } = require('aigw')
const { KEY, workload, run, firstChunk } = require('./common')

const w = workload()
const client = new Client({ kind: 'cloudflare', baseUrl: w.base, model: 'openai/gpt-4o-mini', apiKey: KEY })
const req = { messages: [{ role: 'user', content: 'bench' }] }
const stream = async () => {
  let n = 0
  for await (const _ of client.chatStream(req, { headers: { 'x-mock-fault': w.fault } })) { // eslint-disable-line no-unused-vars
    if (!n) firstChunk()
    n++
  }
  return n
}
const mode = process.env.AIGW_BENCH_SYNC ? 'sync' : 'async'
const chat = mode === 'sync'
  ? async () => { if (!client.chatSync(req).choices) throw new Error('no choices') }
  : async () => { if (!(await client.chat(req)).choices) throw new Error('no choices') }
run(`aigw (Node, ${mode === 'sync' ? 'chatSync' : 'await chat'})`, w, chat, stream)
