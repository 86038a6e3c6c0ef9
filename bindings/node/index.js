'use strict';
// aigw for Node: routes and authenticates LLM requests (Cloudflare AI Gateway first).
//
// A thin layer over the native addon (binding.d.ts): objects cross as JSON text, because
// JSON.stringify/JSON.parse are faster than walking objects through Node-API, and streams read
// one chunk per next() (never ahead, so streams nobody consumes hold no thread). Types and docs:
// index.d.ts.

const path = require('node:path');

function loadBinding() {
  const suffix = process.platform === 'linux' ? '-gnu' : '';
  const file = path.join(__dirname, `aigw.${process.platform}-${process.arch}${suffix}.node`);
  try {
    return require(file);
  } catch (cause) {
    if (cause && cause.code === 'MODULE_NOT_FOUND') {
      throw new Error(
        `the aigw native addon is not built (${file}); run \`npm ci && npm run build\` in ${__dirname}`,
        { cause },
      );
    }
    throw cause;
  }
}

const native = loadBinding();

/** JSON text for the native side; values JSON cannot hold are INVALID_ARGUMENT errors. */
function encode(value, what) {
  if (value === undefined) return 'null';
  let text;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    return native.invalidArgument(`${what} cannot be encoded as JSON: ${cause.message}`);
  }
  // JSON.stringify writes NaN and ±Infinity as null, where Python refuses them. A null value is
  // their only trace, and it always follows `:`, `,` or `[` (no spaces are written), so the
  // value is walked a second time only when the text holds one, not for every request.
  if (text === 'null' || NULL_VALUE.test(text)) refuseNonFinite(value, what);
  return text;
}

const NULL_VALUE = /[:,[]null/;

/** Throws INVALID_ARGUMENT naming the first NaN or ±Infinity in `value`, if there is one. */
function refuseNonFinite(value, what) {
  const paths = new WeakMap();
  JSON.stringify(value, function locate(key, item) {
    const within = paths.get(this);
    const path = within === undefined ? what : `${within}${Array.isArray(this) ? `[${key}]` : `.${key}`}`;
    // The replacer sees values after toJSON() but before Number objects are unwrapped.
    if ((typeof item === 'number' || item instanceof Number) && !Number.isFinite(Number(item))) {
      native.invalidArgument(
        `${path} is ${Number(item)}, which JSON cannot represent (JSON.stringify would send null); use a finite number`,
      );
    }
    if (item !== null && typeof item === 'object') paths.set(item, path);
    return item;
  });
}

function encodeOptions(options) {
  return options === undefined || options === null ? undefined : encode(options, 'options');
}

const kNative = Symbol('aigw.native');

class Client {
  /**
   * @param {object} profile docs/contract.md §3 fields, camelCase (`baseUrl`) or snake_case (`base_url`).
   */
  constructor(profile) {
    this[kNative] = new native.NativeClient(encode(profile, 'profile'));
  }

  /** A client from a TOML/JSON config file; `profile` picks one of its profiles. */
  static fromConfig(configPath, profile) {
    const client = Object.create(Client.prototype);
    client[kNative] = native.NativeClient.fromConfig(
      String(configPath),
      profile === undefined || profile === null ? null : String(profile),
    );
    return client;
  }

  describe() {
    return JSON.parse(this[kNative].describe());
  }

  async doctor() {
    return JSON.parse(await this[kNative].doctor());
  }

  async listModels() {
    return JSON.parse(await this[kNative].listModels());
  }

  async chat(request, options) {
    const text = await this[kNative].chat(encode(request, 'request'), encodeOptions(options));
    return JSON.parse(text);
  }

  chatSync(request, options) {
    return JSON.parse(this[kNative].chatSync(encode(request, 'request'), encodeOptions(options)));
  }

  /**
   * Creates embeddings: `{ input, model? }` (OpenAI JSON); the model is the request's, else the
   * profile's `embeddingModel`. Resolves with the upstream body plus `aigw` metadata.
   */
  async embeddings(request, options) {
    const text = await this[kNative].embeddings(encode(request, 'request'), encodeOptions(options));
    return JSON.parse(text);
  }

  /** `embeddings()` blocking the event loop. */
  embeddingsSync(request, options) {
    return JSON.parse(this[kNative].embeddingsSync(encode(request, 'request'), encodeOptions(options)));
  }

  chatStream(request, options) {
    return new ChatStream(
      this[kNative].chatStream(encode(request, 'request'), encodeOptions(options)),
    );
  }
}

const DONE = Object.freeze({ value: undefined, done: true });

class ChatStream {
  #native;
  #meta = null;
  #pending = null;

  /** @param {import('./binding').NativeStream} nativeStream */
  constructor(nativeStream) {
    this.#native = nativeStream;
  }

  /** Response metadata (status, model, request_id, cf_aig_log_id, attempts…) once the headers arrived, else null; `usage` and `cost` once the stream ended. */
  get meta() {
    if (this.#meta === null) {
      const text = this.#native.meta();
      if (text !== null) this.#meta = JSON.parse(text);
    }
    return this.#meta;
  }

  /** Resolves with `meta` once the headers arrived; rejects with the error if opening failed. */
  async ready() {
    await this.#native.ready();
    return this.meta;
  }

  next() {
    if (this.#pending !== null) {
      const again = () => this.next();
      return this.#pending.then(again, again);
    }
    const reading = this.#native.wait().then(
      (text) => {
        this.#pending = null;
        if (text === '') {
          // The final metadata (with usage and cost) replaces the one read at open.
          this.#meta = null;
          return DONE;
        }
        return { value: JSON.parse(text), done: false };
      },
      (err) => {
        this.#pending = null;
        throw err;
      },
    );
    this.#pending = reading;
    return reading;
  }

  /** Called by `break`/`return` inside `for await`: closes the stream. */
  return() {
    this.close();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /** Cancels the stream: the next read rejects with CANCELLED; the connection is dropped. */
  cancel() {
    this.#native.cancel();
  }

  /** Closes the stream: iteration ends; an unfinished connection is dropped. */
  close() {
    this.#native.close();
  }
}

if (typeof Symbol.asyncDispose === 'symbol') {
  ChatStream.prototype[Symbol.asyncDispose] = function asyncDispose() {
    this.close();
    return Promise.resolve();
  };
}

/** Every built-in provider kind (docs/contract.md §2). */
function providers() {
  return JSON.parse(native.providersJson());
}

/** The kind an id or alias names (trimmed, case-insensitive); throws CONFIG when unknown. */
function resolveKind(name) {
  return JSON.parse(native.resolveKindJson(String(name)));
}

/** Error codes (docs/contract.md §8) and their C status numbers. */
const codes = Object.freeze(JSON.parse(native.codesJson()));

module.exports = {
  Client,
  ChatStream,
  providers,
  resolveKind,
  codes,
  version: native.VERSION,
};
