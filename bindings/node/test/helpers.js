'use strict';
// Shared by the test files: the repo root, the mock gateway (started per file on an OS-chosen
// loopback port, killed at the end), and profiles pointing at it.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..', '..');
// Where `cargo build -p aigw-mock` (run from the repo root) puts the mock: CARGO_TARGET_DIR when
// set, else ./target. AIGW_MOCK_BIN names the binary outright.
const TARGET_DIR = path.resolve(ROOT, process.env.CARGO_TARGET_DIR || 'target');
const MOCK_BIN = process.env.AIGW_MOCK_BIN || path.join(TARGET_DIR, 'debug', 'aigw-mock-gateway');
const API_KEY = 'test-key-0123';
const ACCOUNT = '0123456789abcdef0123456789abcdef';
const GATEWAY = 'node-gw';

function readVectors(name) {
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'tests', 'vectors', `${name}.json`), 'utf8'));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts the mock gateway; resolves once it listens. Call `stop()` when done. `flags` replaces
 * the default `--api-key API_KEY` (e.g. the `mock_args` of a vector).
 */
async function startMock({ flags = ['--api-key', API_KEY] } = {}) {
  if (!fs.existsSync(MOCK_BIN)) {
    throw new Error(`${MOCK_BIN} is missing; run \`cargo build -p aigw-mock\` first`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aigw-node-test-'));
  const portFile = path.join(dir, 'port');
  const child = spawn(
    MOCK_BIN,
    [...flags, '--lifetime-secs', '300', '--port-file', portFile],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const deadline = Date.now() + 10_000;
  while (!fs.existsSync(portFile)) {
    if (child.exitCode !== null) throw new Error(`mock gateway exited with ${child.exitCode}`);
    if (Date.now() > deadline) {
      child.kill();
      throw new Error('mock gateway did not start within 10 s');
    }
    await sleep(10);
  }
  const port = Number(fs.readFileSync(portFile, 'utf8').trim());
  const origin = `http://127.0.0.1:${port}`;
  const baseUrl = `${origin}/v1/${ACCOUNT}/${GATEWAY}/openai/compat`;
  return {
    port,
    origin,
    baseUrl,
    /** A profile for this mock; `extra` wins. */
    profile(extra = {}) {
      return {
        kind: 'cloudflare_ai_gateway',
        baseUrl,
        apiKey: API_KEY,
        model: 'openai/gpt-4o-mini',
        ...extra,
      };
    },
    async control(route, method = 'GET') {
      const response = await fetch(`${origin}/__mock/${route}`, { method });
      return response.json();
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill();
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort() {
  const net = require('node:net');
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs `fn` (sync or async) and returns what it threw or rejected with. */
async function caught(fn) {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error, got none');
}

module.exports = { ROOT, API_KEY, ACCOUNT, GATEWAY, readVectors, startMock, closedPort, caught, sleep };
