'use strict';
// Behaviour only a whole process shows: a pending call keeps Node alive until it settles, an
// abandoned stream does not (and garbage collection closes its connection), and calls beyond
// AIGW_MAX_THREADS (the ceiling of core's worker pool) wait their turn.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');
const { startMock } = require('./helpers');

let mock;
test.before(async () => {
  mock = await startMock();
});
test.after(async () => {
  await mock?.stop();
});

const PACKAGE = path.join(__dirname, '..');

/** Runs `script` in a fresh node with `AIGW_TEST_PROFILE` set; resolves with its stdout. */
function runNode(script, env = {}, nodeArgs = []) {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [...nodeArgs, '-e', script],
      {
        cwd: PACKAGE,
        timeout: 20_000,
        env: { ...process.env, AIGW_TEST_PROFILE: JSON.stringify(mock.profile()), ...env },
      },
      (err, stdout, stderr) => (err ? reject(Object.assign(err, { stderr })) : resolve(stdout)),
    );
    child.stdin?.end();
  });
}

const PRELUDE = `
  const aigw = require('.');
  const client = new aigw.Client(JSON.parse(process.env.AIGW_TEST_PROFILE));
  const hello = (t) => ({ messages: [{ role: 'user', content: t }] });
`;

test('a pending chat() keeps the process alive until it settles', async () => {
  const out = await runNode(`${PRELUDE}
    client.chat(hello('late'), { headers: { 'x-mock-fault': 'delay_ms=300' } })
      .then((r) => console.log(r.choices[0].message.content));
  `);
  assert.equal(out.trim(), 'echo: late');
});

test('an abandoned stream does not keep the process alive', async () => {
  const started = Date.now();
  const out = await runNode(`${PRELUDE}
    const stream = client.chatStream(hello('never read'), { headers: { 'x-mock-fault': 'chunks=2000' } });
    stream.ready().then(() => console.log('opened'));
  `);
  assert.equal(out.trim(), 'opened');
  assert.ok(Date.now() - started < 10_000);
});

test('garbage collection closes the connections of abandoned streams', async (t) => {
  // The stall keeps the mock from finishing the answers on its own; it notices a closed
  // connection when it writes again after the stall.
  const out = await runNode(`${PRELUDE}
    const stats = async () => (await fetch(process.env.AIGW_TEST_MOCK + '/__mock/stats')).json();
    const N = 20;
    (async () => {
      const before = await stats();
      let streams = Array.from({ length: N }, () =>
        client.chatStream(hello('gc'), { headers: { 'x-mock-fault': 'chunks=5000;stall_after=1;stall_ms=500' } }));
      await Promise.all(streams.map((s, i) => (i % 2 === 0 ? s.ready() : s.next())));
      const opened = (await stats()).connections_opened - before.connections_opened;
      streams = null;
      const started = Date.now();
      let closed = 0;
      while (closed < N && Date.now() - started < 8000) {
        globalThis.gc();
        await new Promise((resolve) => setTimeout(resolve, 50));
        closed = (await stats()).connections_closed - before.connections_closed;
      }
      console.log(JSON.stringify({ opened, closed, ms: Date.now() - started }));
    })();
  `, { AIGW_TEST_MOCK: mock.origin }, ['--expose-gc']);
  const { opened, closed, ms } = JSON.parse(out);
  t.diagnostic(`${closed} of ${opened} connections closed ${ms} ms after the streams became garbage`);
  assert.equal(opened, 20, 'each stream had its own connection');
  assert.ok(closed >= 20, `${closed} of 20 connections closed within ${ms} ms of the last reference going`);
});

test('streams abandoned under a long-lived AbortSignal are still collected, listener and all', async (t) => {
  // The signal's listener holds each stream only weakly: garbage collection closes the
  // connections as without a signal, and the listener goes with the last stream.
  const out = await runNode(`${PRELUDE}
    const { getEventListeners } = require('node:events');
    const stats = async () => (await fetch(process.env.AIGW_TEST_MOCK + '/__mock/stats')).json();
    const controller = new AbortController();
    const N = 10;
    (async () => {
      const before = await stats();
      let streams = Array.from({ length: N }, () => client.chatStream(hello('gc'), {
        headers: { 'x-mock-fault': 'chunks=5000;stall_after=1;stall_ms=500' }, signal: controller.signal }));
      await Promise.all(streams.map((s) => s.next()));
      const watching = getEventListeners(controller.signal, 'abort').length;
      streams = null;
      const started = Date.now();
      let closed = 0;
      let left = watching;
      while ((closed < N || left > 0) && Date.now() - started < 8000) {
        globalThis.gc();
        await new Promise((resolve) => setTimeout(resolve, 50));
        closed = (await stats()).connections_closed - before.connections_closed;
        left = getEventListeners(controller.signal, 'abort').length;
      }
      console.log(JSON.stringify({ watching, closed, left, ms: Date.now() - started }));
    })();
  `, { AIGW_TEST_MOCK: mock.origin }, ['--expose-gc']);
  const { watching, closed, left, ms } = JSON.parse(out);
  t.diagnostic(`${closed} connections closed and ${left} listeners left ${ms} ms after the streams became garbage`);
  assert.equal(watching, 1, 'one listener for the ten streams');
  assert.ok(closed >= 10, `${closed} of 10 connections closed`);
  assert.equal(left, 0, 'the listener went with the streams');
});

test('worker threads: calls settle in each thread; ending a worker with calls in flight is safe', async (t) => {
  // Each environment (main thread, each worker) settles its promises through its own path; a
  // worker that ends while its calls are still running on the pool must not take the process
  // down when those calls finish.
  const out = await runNode(`${PRELUDE}
    const { Worker } = require('node:worker_threads');
    const source = \`
      const { parentPort, workerData } = require('node:worker_threads');
      const aigw = require(workerData.pkg);
      const client = new aigw.Client(workerData.profile);
      const hello = (t) => ({ messages: [{ role: 'user', content: t }] });
      (async () => {
        const answer = await client.chat(hello('worker ' + workerData.n));
        const slow = { headers: { 'x-mock-fault': 'delay_ms=400' } };
        client.chat(hello('in flight'), slow);
        client.chatStream(hello('in flight'), slow).next();
        parentPort.postMessage(answer.choices[0].message.content);
      })();
    \`;
    (async () => {
      const started = Date.now();
      const workers = [1, 2, 3].map((n) => new Worker(source, {
        eval: true, workerData: { pkg: process.cwd(), profile: JSON.parse(process.env.AIGW_TEST_PROFILE), n } }));
      const said = await Promise.all(workers.map((w) => new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      })));
      await Promise.all(workers.map((w) => w.terminate()));
      // The calls the workers left behind finish now, with nowhere to settle.
      await new Promise((resolve) => setTimeout(resolve, 800));
      const main = await client.chat(hello('main'));
      console.log(JSON.stringify({ said, main: main.choices[0].message.content, ms: Date.now() - started }));
    })();
  `);
  const { said, main, ms } = JSON.parse(out);
  t.diagnostic(`three workers and the main thread: ${ms} ms`);
  assert.deepEqual(said, ['echo: worker 1', 'echo: worker 2', 'echo: worker 3']);
  assert.equal(main, 'echo: main');
});

test('calls beyond AIGW_MAX_THREADS wait their turn', async () => {
  const out = await runNode(`${PRELUDE}
    const started = Date.now();
    Promise.all(Array.from({ length: 6 }, (_, i) =>
      client.chat(hello('q' + i), { headers: { 'x-mock-fault': 'delay_ms=200' } })))
      .then((all) => console.log(JSON.stringify({ n: all.length, ms: Date.now() - started })));
  `, { AIGW_MAX_THREADS: '2' });
  const { n, ms } = JSON.parse(out);
  assert.equal(n, 6);
  assert.ok(ms >= 550, `6 calls of 200 ms on 2 threads took ${ms} ms`);
});
