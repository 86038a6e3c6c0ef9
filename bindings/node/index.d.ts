// aigw for Node: routes and authenticates LLM requests to providers, Cloudflare AI Gateway
// first. Hand-written types over the generated binding.d.ts (which only moves JSON text).

/** A secret reference: a literal, `"${X}"`, `"$X"`, `"env:X"`, `{ env: "X" }` or `{ file: "path" }`. */
export type SecretRef = string | { env: string } | { file: string };

/** Cloudflare AI Gateway options (docs/contract.md §7), per client and per request; camelCase or snake_case. */
export interface GatewayOptions {
  /** Token of an authenticated gateway → `cf-aig-authorization: Bearer …`. */
  authorization?: SecretRef;
  /** Cache TTL in seconds (≥ 60). */
  cacheTtl?: number;
  skipCache?: boolean;
  cacheKey?: string;
  /** Up to 5 entries; keys are yours and are sent as written. */
  metadata?: Record<string, string | number | boolean>;
  collectLog?: boolean;
  collectLogPayload?: boolean;
  requestTimeoutMs?: number;
  /** Gateway-side attempts, 1 to 5. */
  maxAttempts?: number;
  /** Gateway-side retry delay, at most 5000 ms. */
  retryDelayMs?: number;
  backoff?: 'constant' | 'linear' | 'exponential';
  eventId?: string;
  byokAlias?: string;
  /** Your prices for the gateway's cost analytics, USD per token → `cf-aig-custom-cost` (at least one). */
  customCost?: { perTokenIn?: number; perTokenOut?: number; perCacheReadToken?: number; perCacheWriteToken?: number; [snakeCase: string]: unknown };
  /** Zero data retention (`true` forces it, `false` turns it off; Unified Billing only) → `cf-aig-zdr`. */
  zdr?: boolean;
  /** Require your own provider credentials → `cf-aig-no-wholesale: true` (`false` sends nothing). */
  noWholesale?: boolean;
  /** Auto Router session → `cf-aig-session-id`. */
  sessionId?: string;
  /** Auto Router turn → `cf-aig-turn-id`. */
  turnId?: string;
  /** → `cf-aig-no-session-affinity: true` (`false` sends nothing). */
  noSessionAffinity?: boolean;
  /** Auto Router model allow-list (`*` wildcards), a list or one comma-separated string → `cf-aig-allowed-models`. */
  allowedModels?: string[] | string;
  /** Auto Router provider allow-list → `cf-aig-allowed-providers`. */
  allowedProviders?: string[] | string;
  /** 32 hex digits → `cf-aig-otel-trace-id`; filled from a `traceparent` header when you send one. */
  otelTraceId?: string;
  /** 16 hex digits → `cf-aig-otel-parent-span-id`; filled from a `traceparent` header when you send one. */
  otelParentSpanId?: string;
  [snakeCase: string]: unknown;
}

/**
 * A provider profile (docs/contract.md §3). Keys may be camelCase (`baseUrl`) or snake_case (`base_url`),
 * not both; `headers` and `gateway.metadata` keys are sent as written.
 */
export interface Profile {
  /** Kind id or alias, e.g. `"cloudflare_ai_gateway"` or `"cloudflare"` (see `providers()`). */
  kind: string;
  baseUrl?: string;
  /** Fills `<account_id>` in the kind's base URL template. */
  accountId?: string;
  /** Fills `<gateway_name>` in the kind's base URL template. */
  gatewayName?: string;
  /** Full chat URL override. */
  endpoint?: string;
  /** Full models URL override. */
  modelsEndpoint?: string;
  /** Explicit model; `"auto"` (default) discovers one from the catalog. */
  model?: string;
  preferredModels?: string[];
  /** Model for `embeddings()` when the request names none. */
  embeddingModel?: string;
  /** The key, or a pool of keys separated by `,` `;` or newlines. */
  apiKey?: SecretRef;
  /** An environment variable to read the key from. */
  apiKeyEnv?: string;
  /** Sent on every request; a user `Authorization` is never overwritten. */
  headers?: Record<string, string>;
  allowHttp?: boolean;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  streamIdleTimeoutMs?: number;
  retryMaxAttempts?: number;
  retryInitialBackoffMs?: number;
  retryMaxBackoffMs?: number;
  modelCatalogCacheTtlMs?: number;
  modelCatalogStaleIfErrorMs?: number;
  maxResponseBytes?: number;
  /** USD per million tokens per model; wins over the catalog's prices for `aigw.cost`. Model ids are kept as written. */
  prices?: Record<string, { input_per_mtok: number; output_per_mtok: number; cached_input_per_mtok?: number }>;
  gateway?: GatewayOptions;
  [snakeCase: string]: unknown;
}

/** Per-request options of the blocking calls (docs/contract.md §6). */
export interface SyncRequestOptions {
  /** Merged over the client's gateway options. */
  gateway?: GatewayOptions;
  /** Extra headers; they win over the client's of the same name. */
  headers?: Record<string, string>;
  /** Replaces the profile's `requestTimeoutMs` for this call. */
  timeoutMs?: number;
}

/** Per-request options (docs/contract.md §6) of the async calls. */
export interface RequestOptions extends SyncRequestOptions {
  /**
   * Aborts the call: the promise (a stream's pending or next read, and `ready()`) rejects at
   * once with an {@link AigwError} whose `name` is `'AbortError'` and `code` `'CANCELLED'`
   * (`cause` is `signal.reason`). The request is cancelled in core: its connection is closed
   * within about 100 ms and no retry follows. An already-aborted signal rejects before any
   * I/O. Stays in JavaScript (it is not sent); its listener is removed when the call settles.
   */
  signal?: AbortSignal | null;
}

/** Options of `listModels()`. */
export interface ListModelsOptions {
  /** Rejects the promise at once with an `AbortError` (code `CANCELLED`) and cancels the catalog request. */
  signal?: AbortSignal | null;
}

/** An OpenAI chat request, passed through untouched (`model` filled in when absent). */
export interface ChatRequest {
  messages: Array<{ role: string; content: unknown; [key: string]: unknown }>;
  model?: string;
  [key: string]: unknown;
}

/** An OpenAI embeddings request, passed through (`model` filled in when absent). */
export interface EmbeddingsRequest {
  input: string | string[] | number[] | number[][];
  model?: string;
  [key: string]: unknown;
}

/** An embeddings answer as the provider returned it, plus `aigw` metadata. */
export interface EmbeddingsResponse {
  data: Array<{ index: number; embedding: number[] | string; [key: string]: unknown }>;
  aigw: ResponseMeta;
  [key: string]: unknown;
}

/** Token usage in one shape whatever the provider (docs/contract.md §14); `null` where it did not say. */
export interface Usage {
  /** Prompt tokens not read from a cache (OpenAI's prompt_tokens minus cached ones). */
  input_tokens: number | null;
  cached_input_tokens: number | null;
  cache_write_tokens: number | null;
  /** Already counted in output_tokens. */
  reasoning_tokens: number | null;
  output_tokens: number | null;
  /** input + cached_input + cache_write + output. */
  total_tokens: number | null;
}

/** One try of a request. */
export interface Attempt {
  status: number | null;
  error: ErrorCode | null;
  model: string;
  key_index: number;
  delay_ms: number;
}

/** What aigw adds to every chat answer under `"aigw"`, and a stream's `meta`. */
export interface ResponseMeta {
  status: number;
  /** The model selected for this call. */
  model: string;
  request_id: string | null;
  cf_aig_log_id: string | null;
  cache_status: string | null;
  step: string | null;
  attempts: Attempt[];
  /** On chat and embeddings answers, and on a stream's meta once it ended. */
  usage?: Usage;
  /** USD from the profile's `prices` or the catalog's `cost_in`/`cost_out`; `null` without a price or usage. */
  cost?: { usd: number; source: 'catalog' | 'profile' } | null;
  /** Which response header `request_id` came from (`x-request-id`, `cf-aig-request-id`, `request-id`, `x-amzn-requestid`, `x-litellm-call-id`). */
  request_id_header?: string | null;
  /** The rest are present only when the gateway sent the header: `cf-aig-event-id`. */
  event_id?: string;
  /** `cf-aig-request-id`. */
  gateway_request_id?: string;
  /** `cf-aig-model` (dynamic routes). */
  upstream_model?: string;
  /** `cf-aig-provider` (dynamic routes). */
  upstream_provider?: string;
  /** `cf-aig-routed-model` (Auto Router). */
  routed_model?: string;
  /** `cf-aig-routing-reason` (Auto Router). */
  routing_reason?: string;
  /** `cf-aig-routing-decision-id` (Auto Router). */
  routing_decision_id?: string;
  /** The `x-ratelimit-*` headers present; limits and remainders are numbers when they parse, resets stay text. */
  rate_limit?: {
    limit_requests?: number | string;
    remaining_requests?: number | string;
    reset_requests?: number | string;
    limit_tokens?: number | string;
    remaining_tokens?: number | string;
    reset_tokens?: number | string;
  };
}

/** A chat completion as the provider returned it, plus `aigw` metadata. */
export interface ChatResponse {
  choices: Array<{ index: number; message: { role: string; content: string | null; [key: string]: unknown }; finish_reason: string | null; [key: string]: unknown }>;
  aigw: ResponseMeta;
  [key: string]: unknown;
}

/** One streamed item: a `chat.completion.chunk` (or, when the gateway buffered the stream, the whole completion). */
export interface ChatChunk {
  choices?: Array<{ index: number; delta?: { role?: string; content?: string | null; [key: string]: unknown }; finish_reason?: string | null; [key: string]: unknown }>;
  [key: string]: unknown;
}

/** docs/contract.md §8 codes. */
export type ErrorCode =
  | 'OK'
  | 'DONE'
  | 'INVALID_ARGUMENT'
  | 'CONFIG'
  | 'MISSING_CREDENTIALS'
  | 'AUTH'
  | 'RATE_LIMITED'
  | 'TIMEOUT'
  | 'CONNECTION'
  | 'PROVIDER'
  | 'MODEL_SELECTION'
  | 'PROTOCOL'
  | 'UNSUPPORTED'
  | 'CANCELLED'
  | 'INTERNAL';

/**
 * What every aigw call throws (sync) or rejects with (async): a plain `Error` with these
 * properties. A call aborted by its `AbortSignal` rejects with one whose `name` is
 * `'AbortError'`, `code` `'CANCELLED'` and `cause` the signal's `reason`.
 */
export interface AigwError extends Error {
  code: Exclude<ErrorCode, 'OK' | 'DONE'>;
  /** The C `aigw_status` number of `code`. */
  status: number;
  /** Upstream HTTP status, when there was one. */
  httpStatus: number | null;
  /** Gateway or provider error code (e.g. `"2009"`, `"insufficient_quota"`). */
  providerCode: string | null;
  /** Server-requested delay before retrying. */
  retryAfterMs: number | null;
  /** Upstream `x-request-id` (or `cf-aig-log-id`). */
  requestId: string | null;
  /** Every attempt made before failing (empty when nothing was sent). */
  attempts: Attempt[];
}

/** The operator descriptor (docs/contract.md §9); see `describe()` in the README for every field. */
export interface Description {
  kind: string;
  display_name: string;
  route: {
    resolved: boolean;
    base_url: string;
    request_endpoint: string;
    models_endpoint: string | null;
    account_id: string | null;
    gateway_name: string | null;
    hint: string | null;
  };
  credentials:
    | { status: 'resolved'; source: string; key_pool_size: number }
    | { status: 'missing'; source: null; message: string };
  model: { strategy: 'explicit_model' | 'auto_discovery'; model: string | null; preferred_models: string[] };
  /** The `cf-aig-*` headers every call sends (the token as `Bearer <its source>`, never its value). */
  gateway_headers: Record<string, string>;
  /**
   * Core's worker pool, which runs every async call (shared by every client in the process):
   * threads alive, their ceiling (`AIGW_MAX_THREADS`, default 10000), calls running or waiting.
   */
  runtime: { threads: number; max_threads: number | null; in_flight: number };
  version: string;
  [key: string]: unknown;
}

export interface DoctorCheck {
  name: 'config' | 'credentials' | 'route' | 'model_probe';
  status: 'pass' | 'warn' | 'fail';
  detail: string;
}

export interface DoctorReport {
  status: 'pass' | 'warn' | 'fail';
  checks: DoctorCheck[];
  [key: string]: unknown;
}

/** A registry entry (docs/contract.md §2). */
export interface ProviderKind {
  id: string;
  display_name: string;
  group: string | null;
  protocol_family: 'openai_chat_completions' | 'anthropic_messages' | 'bedrock_converse' | string;
  feature_family: string;
  auth_scheme: string;
  aliases: string[];
  default_base_url: string;
  chat_path: string;
  models_path: string | null;
  models_url: string | null;
  default_api_key_env: string | null;
  api_key_env_aliases: string[];
  oauth_envs: string[];
  credential_envs: string[];
  auth_optional: boolean;
  model_probe_auth_optional: boolean;
  requires_tenant_base_url: boolean;
  default_headers: Record<string, string>;
}

/**
 * A streaming chat answer: `for await (const chunk of stream)`. Leaving the loop early
 * (`break`, `return`, a throw) closes the stream and drops its connection. Chunks are read only
 * while you ask for them (one per `next()`), and a stream dropped without `close()` is closed
 * when it is garbage-collected (a `signal` does not keep it alive). Aborting the `signal` given
 * to `chatStream()` cancels the stream: the pending (or next) read rejects with an `AbortError`
 * (code `CANCELLED`), once; then the stream is done.
 */
export declare class ChatStream implements AsyncIterableIterator<ChatChunk> {
  private constructor();
  /** Response metadata once the headers arrived, else `null`. */
  readonly meta: ResponseMeta | null;
  /** Resolves with `meta` once the headers arrived; rejects with the error if opening failed. */
  ready(): Promise<ResponseMeta>;
  next(): Promise<IteratorResult<ChatChunk, undefined>>;
  /** Closes the stream (what `break` does). */
  return(): Promise<IteratorResult<ChatChunk, undefined>>;
  [Symbol.asyncIterator](): ChatStream;
  /** Cancels the stream: the next read rejects with `CANCELLED`; the connection is dropped. */
  cancel(): void;
  /** Closes the stream: iteration ends; an unfinished connection is dropped. */
  close(): void;
}

/**
 * An aigw client. Building one does no network I/O. Async methods run on core's worker pool
 * (a thread per call in flight, up to `AIGW_MAX_THREADS`, default 10000) and never block the
 * event loop; they take `{ signal }` to be aborted. `chatSync` blocks it on purpose. A profile, request or
 * options object holding `NaN` or `±Infinity` is refused with `INVALID_ARGUMENT` (JSON has no
 * form for them; `JSON.stringify` would silently send `null`).
 */
export declare class Client {
  /** Throws `CONFIG` for a bad profile (unknown kind or field, plain http to a remote host…). */
  constructor(profile: Profile);
  /** A client from a TOML/JSON config file; `profile` selects one of its profiles (docs/contract.md §3). */
  static fromConfig(path: string, profile?: string | null): Client;
  /** What this client will do: route, credential source (never the key), model strategy. */
  describe(): Description;
  /** Checks config, credentials, route and the models endpoint. */
  doctor(): Promise<DoctorReport>;
  /** The gateway's model catalog. `options` take only `signal`; anything else is `INVALID_ARGUMENT`. */
  listModels(options?: ListModelsOptions | null): Promise<Array<{ id: string; [key: string]: unknown }>>;
  chat(request: ChatRequest, options?: RequestOptions | null): Promise<ChatResponse>;
  /** `chat()` blocking the event loop; a `signal` is `INVALID_ARGUMENT` (no abort could be seen). */
  chatSync(request: ChatRequest, options?: SyncRequestOptions | null): ChatResponse;
  /**
   * Embeddings (docs/contract.md §14): `{ input, model? }` passed through to `…/embeddings`; the
   * model is the request's, else the profile's `embeddingModel` (else `MODEL_SELECTION`).
   */
  embeddings(request: EmbeddingsRequest, options?: RequestOptions | null): Promise<EmbeddingsResponse>;
  /** `embeddings()` blocking the event loop; a `signal` is `INVALID_ARGUMENT`. */
  embeddingsSync(request: EmbeddingsRequest, options?: SyncRequestOptions | null): EmbeddingsResponse;
  /** Opens a streaming chat (`stream: true` is set for you). Bad options (a `signal` that is not an AbortSignal) throw here. */
  chatStream(request: ChatRequest, options?: RequestOptions | null): ChatStream;
}

/** Every built-in provider kind. */
export declare function providers(): ProviderKind[];
/** The kind an id or alias names (trimmed, case-insensitive); throws `CONFIG` when unknown. */
export declare function resolveKind(name: string): ProviderKind;
/** Error codes and their C status numbers. */
export declare const codes: Readonly<Record<ErrorCode, number>>;
/** The aigw version. */
export declare const version: string;
