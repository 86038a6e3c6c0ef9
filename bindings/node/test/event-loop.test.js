'use strict';
// Async calls never block the event loop and do not occupy libuv's thread pool: while 32
// chat() promises wait on a slow mock, a timer keeps firing on schedule and fs/crypto work
// (which runs on libuv's pool) completes promptly.

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { promisify } = require('node:util');
const aigw = require('..');
const { startMock } = require('./helpers');

let mock;
test.before(async () => {
  mock = await startMock();
});
test.after(async () => {
  await mock?.stop();
});

const DELAY_MS = 1000;
const CONCURRENT = 32;
const TICK_MS = 10;

test(`a timer keeps its schedule while ${CONCURRENT} chat() calls wait on a slow gateway`, async (t) => {
  const client = new aigw.Client(mock.profile());
  // Warm up (first-use costs such as the pool's first thread are not what this measures).
  await client.chat({ messages: [{ role: 'user', content: 'warm' }] });

  const gaps = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }, TICK_MS);

  const started = performance.now();
  const calls = Array.from({ length: CONCURRENT }, (_, i) =>
    client.chat(
      { messages: [{ role: 'user', content: `slow ${i}` }] },
      { headers: { 'x-mock-fault': `delay_ms=${DELAY_MS}` } },
    ),
  );

  // libuv's pool (default 4 threads) stays free for the application while the chats wait.
  const pbkdf2Started = performance.now();
  await Promise.all(Array.from({ length: 4 }, () => promisify(crypto.pbkdf2)('pw', 'salt', 1, 32, 'sha256')));
  const pbkdf2Ms = performance.now() - pbkdf2Started;

  const responses = await Promise.all(calls);
  const elapsed = performance.now() - started;
  clearInterval(timer);

  responses.forEach((r, i) => assert.equal(r.choices[0].message.content, `echo: slow ${i}`));
  assert.ok(elapsed < DELAY_MS * 3, `the ${CONCURRENT} calls ran concurrently (${elapsed.toFixed(0)} ms)`);
  assert.ok(pbkdf2Ms < DELAY_MS / 2, `libuv pool work was not starved (${pbkdf2Ms.toFixed(0)} ms)`);
  const expectedTicks = Math.floor(elapsed / TICK_MS);
  assert.ok(gaps.length >= expectedTicks * 0.5, `timer fired ${gaps.length} times, expected about ${expectedTicks}`);
  const worst = Math.max(...gaps);
  t.diagnostic(`${CONCURRENT} calls: ${elapsed.toFixed(0)} ms; pbkdf2 x4: ${pbkdf2Ms.toFixed(1)} ms; ${gaps.length} ticks, worst gap ${worst.toFixed(1)} ms`);
  assert.ok(worst < 250, `longest gap between timer ticks was ${worst.toFixed(1)} ms`);
});
