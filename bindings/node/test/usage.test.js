'use strict';
// Embeddings, normalised usage and cost (docs/contract.md §14) through the Node binding: the
// shared vectors in tests/vectors/usage.json, the stream usage default and its fallback, and
// embeddings' answer, errors and model selection.

const test = require('node:test');
const assert = require('node:assert/strict');
const aigw = require('..');
const { startMock, caught, readVectors } = require('./helpers');

const usage = readVectors('usage');
let mock;

test.before(async () => {
  mock = await startMock();
});

test.after(async () => {
  await mock.stop();
});

const hi = () => ({ messages: [{ role: 'user', content: 'hi' }] });
const usageFault = (u) => ({ headers: { 'x-mock-fault': `usage=${JSON.stringify(u)}` } });
const fault = (spec) => ({ headers: { 'x-mock-fault': spec } });

test('usage vectors: aigw.usage on answers and on a stream\'s final meta', async (t) => {
  const client = new aigw.Client(mock.profile());
  for (const c of usage.normalisation) {
    await t.test(c.name, async () => {
      assert.deepEqual((await client.chat(hi(), usageFault(c.usage))).aigw.usage, c.expect);
      assert.deepEqual(client.chatSync(hi(), usageFault(c.usage)).aigw.usage, c.expect);
      const stream = client.chatStream(hi(), usageFault(c.usage));
      let last;
      for await (const chunk of stream) last = chunk;
      assert.deepEqual(last.choices, [], 'the usage chunk is yielded');
      assert.deepEqual(stream.meta.usage, c.expect);
    });
  }
});

test('cost vectors: profile prices win, catalog prices once the catalog was fetched', async (t) => {
  for (const c of usage.cost) {
    await t.test(c.name, async () => {
      const profile = mock.profile({ model: undefined, ...c.profile });
      const client = new aigw.Client(profile);
      const { cost } = (await client.chat(hi(), usageFault(c.usage))).aigw;
      if (c.expect === null) {
        assert.equal(cost, null);
      } else {
        assert.equal(cost.source, c.expect.source);
        assert.ok(Math.abs(cost.usd - c.expect.usd) < 1e-9, `${cost.usd} vs ${c.expect.usd}`);
      }
    });
  }
});

test('a refused stream_options is dropped once and not sent again', async () => {
  const fresh = await startMock();
  try {
    const client = new aigw.Client(fresh.profile());
    for (let i = 0; i < 2; i += 1) {
      const chunks = [];
      for await (const chunk of client.chatStream(hi(), fault('reject_stream_options'))) chunks.push(chunk);
      assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'echo: hi');
    }
    const sent = (await fresh.control('requests')).map((r) => 'stream_options' in JSON.parse(r.body));
    assert.deepEqual(sent, [true, false, false]);
  } finally {
    await fresh.stop();
  }
});

test('embeddings: answer, model selection, errors', async () => {
  const client = new aigw.Client(mock.profile({ embeddingModel: 'workers-ai/@cf/baai/bge-small-en-v1.5' }));
  assert.equal(client.describe().model.embedding_model, 'workers-ai/@cf/baai/bge-small-en-v1.5');
  const answer = await client.embeddings({ input: ['one two', 'three'] });
  assert.deepEqual(answer.data.map((d) => d.embedding.length), [8, 8]);
  assert.equal(answer.aigw.model, 'workers-ai/@cf/baai/bge-small-en-v1.5');
  assert.equal(answer.aigw.usage.input_tokens, 3);
  const named = client.embeddingsSync({ input: 'one two', model: 'openai/text-embedding-3-small' });
  assert.equal(named.aigw.model, 'openai/text-embedding-3-small');
  assert.deepEqual(named.data[0].embedding, answer.data[0].embedding);

  const plain = new aigw.Client(mock.profile());
  const noModel = await caught(() => plain.embeddings({ input: 'x' }));
  assert.equal(noModel.code, 'MODEL_SELECTION');
  assert.match(noModel.message, /provider\.embedding_model/);
  const empty = await caught(() => plain.embeddings({ input: [], model: 'openai/e' }));
  assert.equal(empty.code, 'INVALID_ARGUMENT');
  const refused = await caught(() => plain.embeddings({ input: 'x', model: 'openai/e' }, fault('status=401')));
  assert.equal(refused.code, 'AUTH');
  assert.equal(refused.httpStatus, 401);
});
