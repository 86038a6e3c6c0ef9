'use strict'
// The official openai npm SDK against the same mock.
const OpenAI = require('openai')
const { KEY, workload, run, firstChunk } = require('./common')

const w = workload()
const client = new OpenAI({ baseURL: w.base, apiKey: KEY, maxRetries: 0 })
const messages = [{ role: 'user', content: 'bench' }]
const chat = async () => { if (!(await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages })).choices) throw new Error('x') }
const stream = async () => {
  let n = 0
  const s = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages, stream: true }, { headers: { 'x-mock-fault': w.fault } })
  for await (const _ of s) { // eslint-disable-line no-unused-vars
    if (!n) firstChunk()
    n++
  }
  return n
}
run('openai SDK (Node)', w, chat, stream)
