'use strict';
// Behaviour only a whole process shows: a pending call keeps Node alive until it settles, an
// abandoned stream does not, and calls beyond AIGW_NODE_MAX_THREADS wait their turn.

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
function runNode(script, env = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['-e', script],
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

test('calls beyond AIGW_NODE_MAX_THREADS wait their turn', async () => {
  const out = await runNode(`${PRELUDE}
    const started = Date.now();
    Promise.all(Array.from({ length: 6 }, (_, i) =>
      client.chat(hello('q' + i), { headers: { 'x-mock-fault': 'delay_ms=200' } })))
      .then((all) => console.log(JSON.stringify({ n: all.length, ms: Date.now() - started })));
  `, { AIGW_NODE_MAX_THREADS: '2' });
  const { n, ms } = JSON.parse(out);
  assert.equal(n, 6);
  assert.ok(ms >= 550, `6 calls of 200 ms on 2 threads took ${ms} ms`);
});
