'use strict';
// 1 000 streams in flight at once against one mock: every stream holds its own connection and,
// while a read waits in the upstream's stall, its own thread of core's worker pool (no cap of
// 128 any more: the ceiling is AIGW_MAX_THREADS, 10 000 by default). The proof is a count, the
// mock's peak of connections open at once, not a timing; the whole test is bounded.

const test = require('node:test');
const assert = require('node:assert/strict');
const aigw = require('..');
const { startMock, sleep } = require('./helpers');

const STREAMS = 1000;
const CHUNKS = 20;
const STALL_MS = 5000;
const BOUND_MS = 90_000;

let mock;
test.before(async () => {
  mock = await startMock();
});
test.after(async () => {
  await mock?.stop();
});

/** Polls until `probe()` returns a value `predicate` accepts (bounded); returns the last value. */
async function poll(probe, predicate, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!predicate(value) && Date.now() < deadline) {
    await sleep(25);
    value = await probe();
  }
  return value;
}

test(`${STREAMS} streams in flight at once`, { timeout: BOUND_MS + 30_000 }, async (t) => {
  const client = new aigw.Client(mock.profile());
  const before = client.describe().runtime;
  assert.equal(before.max_threads, 10_000, 'core pool ceiling (AIGW_MAX_THREADS unset)');
  await mock.control('reset', 'POST');
  const started = performance.now();
  // Each stream sends its first event, then stalls: a second read waits in the stall.
  const spec = `chunks=${CHUNKS};stall_after=1;stall_ms=${STALL_MS}`;
  const streams = Array.from({ length: STREAMS }, (_, i) =>
    client.chatStream({ messages: [{ role: 'user', content: `stream ${i}` }] }, { headers: { 'x-mock-fault': spec } }));
  try {
    // Each stream reads its first chunk, then at once reads into the stall: that read blocks on
    // its own pool thread for about STALL_MS, so the reads of all streams overlap.
    let firsts = 0;
    let opened = null;
    const rests = streams.map(async (stream, i) => {
      const first = await stream.next();
      assert.equal(first.done, false, `stream ${i} opened and yielded its first chunk`);
      if (++firsts === STREAMS) opened = performance.now() - started;
      let text = first.value.choices[0]?.delta?.content ?? '';
      let count = 1;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        count += 1;
      }
      return { text, count, i };
    });

    const stats = await poll(() => mock.control('stats'), (s) => s.connections_peak >= STREAMS, 20_000);
    const runtime = await poll(() => client.describe().runtime, (r) => r.threads >= STREAMS, 10_000);
    t.diagnostic(`mock peak ${stats.connections_peak} connections; ` +
      `runtime ${JSON.stringify(runtime)} (before: ${JSON.stringify(before)})`);
    assert.ok(stats.connections_peak >= STREAMS, `the mock saw ${stats.connections_peak} connections open at once`);
    assert.ok(runtime.threads > before.threads, 'the pool grew');
    assert.ok(runtime.threads >= STREAMS, `${runtime.threads} pool threads: one per blocked read, far past the old cap of 128`);
    assert.equal(runtime.max_threads, 10_000);

    let timer;
    const results = await Promise.race([
      Promise.all(rests),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the streams did not finish within ${BOUND_MS} ms`)), BOUND_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    const total = performance.now() - started;
    t.diagnostic(`first chunk of every stream after ${opened.toFixed(0)} ms; ${STREAMS} streams of ${CHUNKS} chunks ` +
      `finished in ${total.toFixed(0)} ms (the stall alone is ${STALL_MS} ms)`);
    for (const { text, count, i } of results) {
      assert.equal(text, `echo: stream ${i}`);
      assert.ok(count >= 2, `stream ${i} yielded ${count} chunks`);
    }
    const idle = await poll(() => client.describe().runtime, (r) => r.in_flight === 0, 5000);
    assert.equal(idle.in_flight, 0, 'no pool job left once every stream ended');
  } finally {
    for (const stream of streams) stream.close();
  }
});
