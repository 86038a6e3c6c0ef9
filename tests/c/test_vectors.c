/*
 * Replays the language-neutral vectors of tests/vectors from C:
 *   errors.json      - the status table (numbers, names, header constants) and HTTP statuses
 *                      provoked through the mock gateway;
 *   routes.json      - kind resolution and route resolution, compared with describe();
 *   credentials.json - credential precedence (source and pool size from describe(); the
 *                      MISSING_CREDENTIALS cases also through a call, which fails before I/O);
 *   usage.json       - usage normalisation: each upstream `usage` scripted into a mock answer,
 *                      compared with the answer's aigw.usage; plus one embeddings call;
 *   gateway.json     - the `options` cases: the cf-aig-* headers describe() says each gateway
 *                      table sends, or the CONFIG error it is refused with (the mock-driven
 *                      `calls` and `doctor` cases are replayed by Rust, Python and Node);
 *   protocols.json   - the translated kinds (anthropic, bedrock) through the mock: `requests`
 *                      (the body the mock received, read from GET /__mock/requests, equals
 *                      `upstream`), `answers` (plain and streamed: text and tool arguments from
 *                      the deltas, finish reason, usage: a stream's from aigw_stream_meta_json
 *                      after AIGW_STATUS_DONE), `errors`
 *                      (code, provider code, message parts) and `retries` (answer or error,
 *                      attempt statuses, and how many requests the mock received, from
 *                      GET /__mock/stats after a POST /__mock/reset).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static json_value *load(const test_args *args, const char *name, char **text) {
    char *path = str_printf("%s/%s", args->vectors_dir, name);
    json_value *doc;
    *text = read_file(path);
    doc = json_parse(*text);
    if (doc == NULL) {
        fprintf(stderr, "cannot read the vector file %s\n", path);
    }
    CHECK(doc != NULL);
    free(path);
    return doc;
}

static const struct {
    const char *name;
    aigw_status status;
} STATUS_CONSTANTS[] = {
    {"OK", AIGW_STATUS_OK},
    {"DONE", AIGW_STATUS_DONE},
    {"INVALID_ARGUMENT", AIGW_STATUS_INVALID_ARGUMENT},
    {"CONFIG", AIGW_STATUS_CONFIG},
    {"MISSING_CREDENTIALS", AIGW_STATUS_MISSING_CREDENTIALS},
    {"AUTH", AIGW_STATUS_AUTH},
    {"RATE_LIMITED", AIGW_STATUS_RATE_LIMITED},
    {"TIMEOUT", AIGW_STATUS_TIMEOUT},
    {"CONNECTION", AIGW_STATUS_CONNECTION},
    {"PROVIDER", AIGW_STATUS_PROVIDER},
    {"MODEL_SELECTION", AIGW_STATUS_MODEL_SELECTION},
    {"PROTOCOL", AIGW_STATUS_PROTOCOL},
    {"UNSUPPORTED", AIGW_STATUS_UNSUPPORTED},
    {"CANCELLED", AIGW_STATUS_CANCELLED},
    {"INTERNAL", AIGW_STATUS_INTERNAL},
};
#define STATUS_CONSTANT_COUNT (sizeof STATUS_CONSTANTS / sizeof STATUS_CONSTANTS[0])

/* The header constant named `code`, or -1. */
static long constant_named(const char *code) {
    size_t i;
    for (i = 0; code != NULL && i < STATUS_CONSTANT_COUNT; i++) {
        if (strcmp(STATUS_CONSTANTS[i].name, code) == 0) {
            return (long)STATUS_CONSTANTS[i].status;
        }
    }
    return -1;
}

static void replay_errors(const test_args *args) {
    char *text = NULL;
    json_value *doc = load(args, "errors.json", &text);
    const json_value *codes = json_get(doc, "codes");
    const json_value *http = json_get(doc, "http");
    aigw_client *client = mock_client(args, "");
    char *request = user_request("vector");
    size_t i;

    CHECK(codes != NULL && codes->count == STATUS_CONSTANT_COUNT);
    for (i = 0; codes != NULL && i < codes->count; i++) {
        const char *code = json_path_str(&codes->items[i], "code");
        const json_value *status = json_get(&codes->items[i], "status");
        CHECK(code != NULL && status != NULL && status->type == JSON_NUMBER);
        if (code == NULL || status == NULL) {
            continue;
        }
        CHECK_STR(aigw_status_str((uint32_t)status->number), code);
        CHECK(constant_named(code) == (long)status->number);
    }

    CHECK(http != NULL && http->count > 0);
    for (i = 0; http != NULL && i < http->count; i++) {
        const json_value *status = json_get(&http->items[i], "status");
        const char *code = json_path_str(&http->items[i], "code");
        char *spec;
        char *options;
        char *response = NULL;
        aigw_error *err = NULL;
        aigw_status got;
        if (status == NULL || code == NULL) {
            CHECK(0);
            continue;
        }
        spec = str_printf("status=%d", (int)status->number);
        options = fault_options(spec, "");
        got = aigw_client_chat(client, request, options, &response, &err);
        CHECK((long)got == constant_named(code));
        CHECK_STR(aigw_error_code(err), code);
        CHECK(aigw_error_http_status(err) == (uint16_t)status->number);
        if ((long)got != constant_named(code)) {
            fprintf(stderr, "HTTP %d gave %s: %s\n", (int)status->number, aigw_status_str(got),
                    aigw_error_message(err));
        }
        aigw_error_free(err);
        free(options);
        free(spec);
    }
    free(request);
    aigw_client_free(client);
    json_free(doc);
    free(text);
}

/* Checks a failed construction against `error` and `message_contains` of a vector case. */
static void check_expected_error(const json_value *item, aigw_status got, aigw_error *err,
                                 const char *name) {
    const char *want = json_path_str(item, "error");
    const json_value *parts = json_get(item, "message_contains");
    size_t j;
    CHECK_STR(aigw_status_str(got), want);
    CHECK_STR(aigw_error_code(err), want);
    for (j = 0; parts != NULL && j < parts->count; j++) {
        const char *part = parts->items[j].string;
        if (part == NULL || strstr(aigw_error_message(err), part) == NULL) {
            fprintf(stderr, "case \"%s\": message \"%s\" lacks \"%s\"\n", name,
                    aigw_error_message(err), part ? part : "(non-string)");
            CHECK(0);
        }
    }
    parts = json_get(item, "message_excludes");
    for (j = 0; parts != NULL && j < parts->count; j++) {
        const char *secret = parts->items[j].string;
        CHECK(secret != NULL && strstr(aigw_error_message(err), secret) == NULL);
    }
}

/* Builds a client from `profile_json`; returns the describe() document or NULL on failure. */
static json_value *describe_profile(const char *profile_json, aigw_status *status,
                                    aigw_error **err, char **describe_text) {
    aigw_client *client = NULL;
    *describe_text = NULL;
    *status = aigw_client_new(profile_json, &client, err);
    if (*status != AIGW_STATUS_OK) {
        return NULL;
    }
    CHECK_STATUS(aigw_client_describe(client, describe_text, err), AIGW_STATUS_OK, *err);
    aigw_client_free(client);
    return json_parse(*describe_text);
}

static void replay_kinds(const json_value *kinds) {
    size_t i;
    CHECK(kinds != NULL && kinds->count > 0);
    for (i = 0; kinds != NULL && i < kinds->count; i++) {
        const json_value *item = &kinds->items[i];
        const json_value *input = json_get(item, "input");
        char *raw = input ? json_raw(input) : str_printf("null");
        char *profile = str_printf("{\"kind\": %s}", raw);
        char *described = NULL;
        aigw_error *err = NULL;
        aigw_status status;
        json_value *doc = describe_profile(profile, &status, &err, &described);
        if (json_get(item, "error") != NULL) {
            check_expected_error(item, status, err, raw);
        } else {
            CHECK_STATUS(status, AIGW_STATUS_OK, err);
            CHECK_STR(json_path_str(doc, "kind"), json_path_str(item, "id"));
        }
        aigw_error_free(err);
        json_free(doc);
        aigw_string_free(described);
        free(profile);
        free(raw);
    }
}

static void replay_routes(const json_value *routes) {
    size_t i;
    CHECK(routes != NULL && routes->count > 0);
    for (i = 0; routes != NULL && i < routes->count; i++) {
        const json_value *item = &routes->items[i];
        const char *name = json_path_str(item, "name");
        const json_value *profile_value = json_get(item, "profile");
        const json_value *expect = json_get(item, "expect");
        char *profile = profile_value ? json_raw(profile_value) : str_printf("null");
        char *described = NULL;
        aigw_error *err = NULL;
        aigw_status status;
        json_value *doc = describe_profile(profile, &status, &err, &described);
        if (json_get(item, "error") != NULL) {
            check_expected_error(item, status, err, name);
        } else {
            const json_value *route = json_get(doc, "route");
            size_t j;
            CHECK_STATUS(status, AIGW_STATUS_OK, err);
            for (j = 0; expect != NULL && j < expect->count; j++) {
                const json_value *got = json_get(route, expect->keys[j]);
                if (!json_equal(got, &expect->items[j])) {
                    char *want_text = json_raw(&expect->items[j]);
                    char *got_text = got ? json_raw(got) : str_printf("(absent)");
                    fprintf(stderr, "case \"%s\": route.%s is %s, expected %s\n", name,
                            expect->keys[j], got_text, want_text);
                    free(want_text);
                    free(got_text);
                    CHECK(0);
                } else {
                    CHECK(1);
                }
            }
        }
        aigw_error_free(err);
        json_free(doc);
        aigw_string_free(described);
        free(profile);
    }
}

/* Every env var any credentials case names: unset before each case, so each sees only its own. */
static void clear_case_envs(const json_value *cases) {
    size_t i;
    size_t j;
    for (i = 0; cases != NULL && i < cases->count; i++) {
        const json_value *env = json_get(&cases->items[i], "env");
        for (j = 0; env != NULL && j < env->count; j++) {
            unsetenv(env->keys[j]);
        }
    }
    unsetenv("CLOUDFLARE_API_KEY");
    unsetenv("CLOUDFLARE_AI_GATEWAY_API_KEY");
}

static void replay_credentials(const test_args *args) {
    char *text = NULL;
    json_value *doc = load(args, "credentials.json", &text);
    const json_value *cases = json_get(doc, "cases");
    size_t i;
    CHECK(cases != NULL && cases->count > 0);
    for (i = 0; cases != NULL && i < cases->count; i++) {
        const json_value *item = &cases->items[i];
        const char *name = json_path_str(item, "name");
        const json_value *env = json_get(item, "env");
        const json_value *profile_value = json_get(item, "profile");
        char *profile = profile_value ? json_raw(profile_value) : str_printf("null");
        char *described = NULL;
        aigw_error *err = NULL;
        aigw_status status;
        json_value *described_doc;
        size_t j;
        clear_case_envs(cases);
        for (j = 0; env != NULL && j < env->count; j++) {
            setenv(env->keys[j], env->items[j].string ? env->items[j].string : "", 1);
        }
        described_doc = describe_profile(profile, &status, &err, &described);
        CHECK_STATUS(status, AIGW_STATUS_OK, err);
        if (json_get(item, "error") != NULL) {
            const char *exact = json_path_str(item, "message");
            const json_value *parts = json_get(item, "message_contains");
            const char *message = json_path_str(described_doc, "credentials.message");
            CHECK_STR(json_path_str(described_doc, "credentials.status"), "missing");
            if (exact != NULL) {
                CHECK_STR(message, exact);
            }
            for (j = 0; parts != NULL && j < parts->count; j++) {
                CHECK(message != NULL && parts->items[j].string != NULL &&
                      strstr(message, parts->items[j].string) != NULL);
            }
            /* The same error from a call, pointed at the loopback mock: it fails before I/O. */
            {
                char *base = mock_base_url(args);
                char *local = str_printf("{\"base_url\": \"%s\", %s", base, profile + 1);
                aigw_client *client = NULL;
                char *models = NULL;
                aigw_error *call_err = NULL;
                CHECK_STATUS(aigw_client_new(local, &client, &call_err), AIGW_STATUS_OK, call_err);
                CHECK_STATUS(aigw_client_list_models(client, &models, &call_err),
                             AIGW_STATUS_MISSING_CREDENTIALS, call_err);
                if (message != NULL) {
                    CHECK_STR(aigw_error_message(call_err), message);
                }
                aigw_error_free(call_err);
                aigw_client_free(client);
                free(local);
                free(base);
            }
        } else {
            const json_value *size = json_path(described_doc, "credentials.key_pool_size");
            const json_value *want_size = json_path(item, "expect.key_pool_size");
            CHECK_STR(json_path_str(described_doc, "credentials.source"),
                      json_path_str(item, "expect.source"));
            CHECK(json_equal(size, want_size));
            if (!json_equal(size, want_size)) {
                fprintf(stderr, "case \"%s\": wrong key_pool_size\n", name);
            }
        }
        aigw_error_free(err);
        json_free(described_doc);
        aigw_string_free(described);
        free(profile);
    }
    clear_case_envs(cases);
    json_free(doc);
    free(text);
}

static void replay_gateway_options(const test_args *args) {
    char *text = NULL;
    json_value *doc = load(args, "gateway.json", &text);
    const json_value *cases = json_get(doc, "options");
    size_t i;
    CHECK(cases != NULL && cases->count > 0);
    for (i = 0; cases != NULL && i < cases->count; i++) {
        const json_value *item = &cases->items[i];
        const char *name = json_path_str(item, "name");
        char *profile = json_raw(json_get(item, "profile"));
        char *described = NULL;
        aigw_error *err = NULL;
        aigw_status status;
        json_value *described_doc = describe_profile(profile, &status, &err, &described);
        if (json_get(item, "error") != NULL) {
            check_expected_error(item, status, err, name);
        } else {
            const json_value *got = json_get(described_doc, "gateway_headers");
            const json_value *want = json_get(item, "expect_headers");
            CHECK_STATUS(status, AIGW_STATUS_OK, err);
            CHECK(json_equal(got, want));
            if (!json_equal(got, want)) {
                char *got_text = got ? json_raw(got) : str_printf("(absent)");
                fprintf(stderr, "case \"%s\": gateway_headers are %s\n", name, got_text);
                free(got_text);
            }
        }
        aigw_error_free(err);
        json_free(described_doc);
        aigw_string_free(described);
        free(profile);
    }
    json_free(doc);
    free(text);
}

/* `text` (JSON) as the inside of a JSON string: quotes and backslashes escaped, line breaks
 * (json_raw's layout, insignificant in JSON) turned into spaces. */
static char *json_escaped(const char *text) {
    size_t n = strlen(text);
    char *out = malloc(2 * n + 1);
    size_t j = 0;
    size_t i;
    if (out == NULL) {
        abort();
    }
    for (i = 0; i < n; i++) {
        if (text[i] == '\n' || text[i] == '\r' || text[i] == '\t') {
            out[j++] = ' ';
            continue;
        }
        if (text[i] == '"' || text[i] == '\\') {
            out[j++] = '\\';
        }
        out[j++] = text[i];
    }
    out[j] = '\0';
    return out;
}

static void replay_usage(const test_args *args) {
    char *text = NULL;
    json_value *doc = load(args, "usage.json", &text);
    const json_value *cases = json_get(doc, "normalisation");
    aigw_client *client = mock_client(args, "");
    char *request = user_request("usage");
    char *embed_response = NULL;
    json_value *embedded;
    aigw_error *err = NULL;
    size_t i;
    CHECK(cases != NULL && cases->count > 0);
    for (i = 0; cases != NULL && i < cases->count; i++) {
        const json_value *item = &cases->items[i];
        const char *name = json_path_str(item, "name");
        char *usage = json_raw(json_get(item, "usage"));
        char *spec = str_printf("usage=%s", usage);
        char *escaped = json_escaped(spec);
        char *options = fault_options(escaped, "");
        char *response = NULL;
        json_value *answer;
        const json_value *got;
        aigw_status status = aigw_client_chat(client, request, options, &response, &err);
        CHECK_STATUS(status, AIGW_STATUS_OK, err);
        answer = response ? json_parse(response) : NULL;
        got = answer ? json_path(answer, "aigw.usage") : NULL;
        CHECK(json_equal(got, json_get(item, "expect")));
        if (!json_equal(got, json_get(item, "expect"))) {
            fprintf(stderr, "case \"%s\": usage is %s\n", name, response ? response : "(none)");
        }
        json_free(answer);
        aigw_string_free(response);
        aigw_error_free(err);
        err = NULL;
        free(options);
        free(escaped);
        free(spec);
        free(usage);
    }
    CHECK_STATUS(aigw_client_embeddings(client,
                                        "{\"input\": [\"one two\", \"three\"], "
                                        "\"model\": \"openai/text-embedding-3-small\"}",
                                        NULL, &embed_response, &err),
                 AIGW_STATUS_OK, err);
    embedded = embed_response ? json_parse(embed_response) : NULL;
    CHECK(embedded != NULL && json_get(embedded, "data") != NULL &&
          json_get(embedded, "data")->count == 2);
    CHECK(embedded != NULL && json_path(embedded, "aigw.usage.input_tokens") != NULL &&
          json_path(embedded, "aigw.usage.input_tokens")->number == 3);
    json_free(embedded);
    aigw_string_free(embed_response);
    aigw_error_free(err);
    /* Model selection: no model in the request and no embedding_model in the profile. */
    err = NULL;
    embed_response = NULL;
    CHECK(aigw_client_embeddings(client, "{\"input\": \"x\"}", NULL, &embed_response, &err) ==
          AIGW_STATUS_MODEL_SELECTION);
    CHECK(err != NULL && strstr(aigw_error_message(err), "embedding_model") != NULL);
    CHECK(embed_response == NULL);
    aigw_error_free(err);
    /* Errors as for chat: a refused key is AUTH. */
    err = NULL;
    {
        char *refused = fault_options("status=401", "");
        CHECK(aigw_client_embeddings(client, "{\"input\": \"x\", \"model\": \"openai/e\"}", refused,
                                     &embed_response, &err) == AIGW_STATUS_AUTH);
        CHECK(err != NULL && aigw_error_http_status(err) == 401);
        free(refused);
    }
    aigw_error_free(err);
    free(request);
    aigw_client_free(client);
    json_free(doc);
    free(text);
}

/* ---- protocols.json ------------------------------------------------------------------------ */

/* `text` with every `from` replaced by `to` (malloc'd). */
static char *replace_all(const char *text, const char *from, const char *to) {
    size_t from_len = strlen(from);
    size_t to_len = strlen(to);
    size_t count = 0;
    const char *p;
    char *out;
    char *w;
    for (p = strstr(text, from); p != NULL; p = strstr(p + from_len, from)) {
        count++;
    }
    out = malloc(strlen(text) - count * from_len + count * to_len + 1);
    if (out == NULL) {
        abort();
    }
    w = out;
    for (p = strstr(text, from); p != NULL; p = strstr(text, from)) {
        memcpy(w, text, (size_t)(p - text));
        w += p - text;
        memcpy(w, to, to_len);
        w += to_len;
        text = p + from_len;
    }
    strcpy(w, text);
    return out;
}

/* Appends `piece` to the malloc'd string `*text`. */
static void append(char **text, const char *piece) {
    char *joined = str_printf("%s%s", *text, piece);
    free(*text);
    *text = joined;
}

/* A malloc'd copy of `text`, or NULL. */
static char *copy_or_null(const char *text) {
    return text != NULL ? str_printf("%s", text) : NULL;
}

/* A stream chunk's `piece` (NULL: the chunk has none) taken into `*slot`: appended to it
 * (`*slot` holds text), or in place of it. */
static void take_piece(char **slot, const char *piece, int accumulate) {
    if (piece == NULL) {
        return;
    }
    if (accumulate) {
        append(slot, piece);
    } else {
        free(*slot);
        *slot = copy_or_null(piece);
    }
}

/* `profiles[kind]` of protocols.json as a profile for this run's mock: `{origin}` replaced by
 * the mock's address, the api_key by the one the mock accepts, and the fields of `overrides`
 * (may be NULL) laid over it. Returns malloc'd JSON. */
static char *protocol_profile(const test_args *args, const json_value *doc, const char *kind,
                              const json_value *overrides) {
    char *path = str_printf("profiles.%s", kind != NULL ? kind : "(none)");
    const json_value *profile = json_path(doc, path);
    char *origin = str_printf("http://127.0.0.1:%d", args->port);
    char *out = str_printf("{\"api_key\": \"%s\"", TEST_API_KEY);
    size_t i;
    CHECK(profile != NULL && profile->type == JSON_OBJECT);
    for (i = 0; profile != NULL && i < profile->count; i++) {
        const char *key = profile->keys[i];
        char *raw;
        char *value;
        char *field;
        if (strcmp(key, "api_key") == 0 || json_get(overrides, key) != NULL) {
            continue;
        }
        raw = json_raw(&profile->items[i]);
        value = replace_all(raw, "{origin}", origin);
        field = str_printf(", \"%s\": %s", key, value);
        append(&out, field);
        free(field);
        free(value);
        free(raw);
    }
    for (i = 0; overrides != NULL && i < overrides->count; i++) {
        char *raw = json_raw(&overrides->items[i]);
        char *field = str_printf(", \"%s\": %s", overrides->keys[i], raw);
        append(&out, field);
        free(field);
        free(raw);
    }
    append(&out, "}");
    free(origin);
    free(path);
    return out;
}

static aigw_client *protocol_client(const test_args *args, const json_value *doc,
                                    const json_value *item, const json_value *overrides) {
    char *profile = protocol_profile(args, doc, json_path_str(item, "kind"), overrides);
    aigw_client *client = NULL;
    aigw_error *err = NULL;
    CHECK_STATUS(aigw_client_new(profile, &client, &err), AIGW_STATUS_OK, err);
    if (client == NULL) {
        fprintf(stderr, "case \"%s\": no client from %s\n", json_path_str(item, "name"), profile);
    }
    aigw_error_free(err);
    free(profile);
    return client;
}

/* Forgets the requests the mock recorded and its per-tag fault counters. */
static void reset_mock(const test_args *args) {
    char *answer = mock_control(args, "POST", "reset");
    CHECK(answer != NULL);
    free(answer);
}

/* How many requests the mock recorded since the last reset, or -1. */
static long mock_requests(const test_args *args) {
    char *answer = mock_control(args, "GET", "stats");
    json_value *stats = answer != NULL ? json_parse(answer) : NULL;
    const json_value *requests = json_get(stats, "requests");
    long count = requests != NULL && requests->type == JSON_NUMBER ? (long)requests->number : -1;
    json_free(stats);
    free(answer);
    return count;
}

/* What one chat call (streaming or not) ended with: text, tool call, finish reason, and the
 * answer (its `aigw` metadata) or the stream's meta read after the end. */
typedef struct {
    aigw_status status;
    aigw_error *err;      /* when status is not OK */
    char *content;        /* the text (a stream's concatenated deltas); NULL when none */
    char *tool_name;      /* the first tool call's name; NULL when none */
    char *tool_arguments; /* its arguments (a stream's concatenated deltas); NULL when none */
    char *finish_reason;  /* the finish reason (a stream's one non-null one) */
    char *meta_text;      /* the answer, or the stream's final meta (aigw-owned) */
    json_value *meta;
    const json_value *usage;    /* aigw.usage, or the stream meta's usage */
    const json_value *attempts; /* aigw.attempts, or the stream meta's attempts */
    int stream;
} outcome;

static void outcome_free(outcome *o) {
    aigw_error_free(o->err);
    free(o->content);
    free(o->tool_name);
    free(o->tool_arguments);
    free(o->finish_reason);
    json_free(o->meta);
    aigw_string_free(o->meta_text);
    memset(o, 0, sizeof *o);
}

/* Whether a case's call streams (`"stream": true`). */
static int is_stream(const json_value *item) {
    const json_value *stream = json_get(item, "stream");
    return stream != NULL && stream->type == JSON_BOOL && stream->boolean;
}

/* Chats {"messages":[{"role":"user","content":"hi"}]} with x-mock-fault: `fault`. */
static outcome protocol_outcome(const aigw_client *client, const char *fault, int stream) {
    outcome o;
    char *request = user_request("hi");
    char *escaped = json_escaped(fault != NULL ? fault : "");
    char *options = fault_options(escaped, "");
    memset(&o, 0, sizeof o);
    o.stream = stream;
    if (client == NULL) {
        o.status = AIGW_STATUS_INVALID_ARGUMENT;
    } else if (!stream) {
        o.status = aigw_client_chat(client, request, options, &o.meta_text, &o.err);
        if (o.status == AIGW_STATUS_OK) {
            o.meta = json_parse(o.meta_text);
            CHECK(o.meta != NULL);
            o.content = copy_or_null(json_path_str(o.meta, "choices.0.message.content"));
            o.tool_name =
                copy_or_null(json_path_str(o.meta, "choices.0.message.tool_calls.0.function.name"));
            o.tool_arguments = copy_or_null(
                json_path_str(o.meta, "choices.0.message.tool_calls.0.function.arguments"));
            o.finish_reason = copy_or_null(json_path_str(o.meta, "choices.0.finish_reason"));
            o.usage = json_path(o.meta, "aigw.usage");
            o.attempts = json_path(o.meta, "aigw.attempts");
        }
    } else {
        aigw_stream *s = NULL;
        char *text = str_printf("%s", "");
        char *args = str_printf("%s", "");
        int malformed_chunks = 0;
        o.status = aigw_client_chat_stream(client, request, options, &s, &o.err);
        while (o.status == AIGW_STATUS_OK) {
            const char *chunk = NULL;
            size_t len = 0;
            json_value *doc;
            o.status = aigw_stream_next(s, &chunk, &len, &o.err);
            if (o.status != AIGW_STATUS_OK) {
                break;
            }
            doc = json_parse(chunk);
            if (doc == NULL || strlen(chunk) != len) {
                malformed_chunks++;
            }
            take_piece(&text, json_path_str(doc, "choices.0.delta.content"), 1);
            take_piece(&o.tool_name,
                       json_path_str(doc, "choices.0.delta.tool_calls.0.function.name"), 0);
            take_piece(&args,
                       json_path_str(doc, "choices.0.delta.tool_calls.0.function.arguments"), 1);
            take_piece(&o.finish_reason, json_path_str(doc, "choices.0.finish_reason"), 0);
            json_free(doc);
        }
        /* One check for all chunks: how many arrive before a mid-stream error may vary. */
        CHECK(malformed_chunks == 0);
        if (o.status == AIGW_STATUS_DONE) {
            o.status = aigw_stream_meta_json(s, &o.meta_text, &o.err);
            o.meta = o.meta_text != NULL ? json_parse(o.meta_text) : NULL;
            CHECK(o.meta != NULL);
            o.usage = json_get(o.meta, "usage");
            o.attempts = json_get(o.meta, "attempts");
        }
        o.content = text[0] != '\0' ? copy_or_null(text) : NULL;
        o.tool_arguments = args[0] != '\0' ? copy_or_null(args) : NULL;
        free(args);
        free(text);
        aigw_stream_free(s);
    }
    free(options);
    free(escaped);
    free(request);
    return o;
}

/* `got` (NULL for none) against the string or null `want`. */
static void check_text_field(const char *name, const char *field, const char *got,
                             const json_value *want) {
    int ok = want != NULL && ((want->type == JSON_NULL && got == NULL) ||
                              (want->type == JSON_STRING && got != NULL &&
                               strlen(got) == want->string_len && strcmp(got, want->string) == 0));
    CHECK(ok);
    if (!ok) {
        char *want_text = want != NULL ? json_raw(want) : str_printf("(absent)");
        fprintf(stderr, "case \"%s\": %s is %s%s%s, expected %s\n", name, field, got ? "\"" : "",
                got ? got : "null", got ? "\"" : "", want_text);
        free(want_text);
    }
}

/* The `status` of each entry of `attempts` against the list `want`. */
static int statuses_equal(const json_value *attempts, const json_value *want) {
    size_t i;
    if (attempts == NULL || want == NULL || attempts->type != JSON_ARRAY ||
        want->type != JSON_ARRAY || attempts->count != want->count) {
        return 0;
    }
    for (i = 0; i < want->count; i++) {
        if (!json_equal(json_get(&attempts->items[i], "status"), &want->items[i])) {
            return 0;
        }
    }
    return 1;
}

/* Each field of `expect` against what the call ended with. */
static void check_expect(const char *name, const outcome *o, const json_value *expect) {
    size_t i;
    CHECK(expect != NULL && expect->type == JSON_OBJECT && expect->count > 0);
    for (i = 0; expect != NULL && i < expect->count; i++) {
        const char *field = expect->keys[i];
        const json_value *want = &expect->items[i];
        const struct {
            const char *field;
            const char *got;
        } texts[] = {{"content", o->content},
                     {"tool_name", o->tool_name},
                     {"tool_arguments", o->tool_arguments},
                     {"finish_reason", o->finish_reason}};
        size_t t;
        int ok;
        for (t = 0; t < sizeof texts / sizeof texts[0]; t++) {
            if (strcmp(field, texts[t].field) == 0) {
                break;
            }
        }
        if (t < sizeof texts / sizeof texts[0]) {
            check_text_field(name, field, texts[t].got, want);
            continue;
        }
        if (strcmp(field, "usage") == 0) {
            ok = json_equal(o->usage, want);
        } else if (strcmp(field, "attempts_statuses") == 0) {
            ok = statuses_equal(o->attempts, want);
        } else {
            fprintf(stderr, "case \"%s\": unknown expect field %s\n", name, field);
            ok = 0;
        }
        CHECK(ok);
        if (!ok) {
            fprintf(stderr, "case \"%s\": %s differs in %s\n", name, field,
                    o->meta_text ? o->meta_text : "(no answer)");
        }
    }
}

static void replay_protocol_requests(const test_args *args, const json_value *doc) {
    const json_value *cases = json_get(doc, "requests");
    size_t i;
    CHECK(cases != NULL && cases->count > 0);
    for (i = 0; cases != NULL && i < cases->count; i++) {
        const json_value *item = &cases->items[i];
        const char *name = json_path_str(item, "name");
        aigw_client *client = protocol_client(args, doc, item, NULL);
        char *request = json_raw(json_get(item, "request"));
        char *response = NULL;
        char *received;
        json_value *recorded;
        json_value *sent;
        const char *body;
        aigw_error *err = NULL;
        reset_mock(args);
        CHECK_STATUS(aigw_client_chat(client, request, NULL, &response, &err), AIGW_STATUS_OK, err);
        received = mock_control(args, "GET", "requests");
        recorded = received != NULL ? json_parse(received) : NULL;
        CHECK(recorded != NULL && recorded->type == JSON_ARRAY && recorded->count == 1);
        body = json_path_str(recorded, "0.body");
        sent = body != NULL ? json_parse(body) : NULL;
        CHECK(json_equal(sent, json_get(item, "upstream")));
        if (!json_equal(sent, json_get(item, "upstream"))) {
            fprintf(stderr, "case \"%s\": the mock received %s\n", name, body ? body : "(none)");
        }
        json_free(sent);
        json_free(recorded);
        free(received);
        aigw_error_free(err);
        aigw_string_free(response);
        free(request);
        aigw_client_free(client);
    }
}

static void replay_protocol_answers(const test_args *args, const json_value *doc) {
    const json_value *cases = json_get(doc, "answers");
    size_t i;
    CHECK(cases != NULL && cases->count > 0);
    for (i = 0; cases != NULL && i < cases->count; i++) {
        const json_value *item = &cases->items[i];
        const char *name = json_path_str(item, "name");
        aigw_client *client = protocol_client(args, doc, item, NULL);
        outcome o = protocol_outcome(client, json_path_str(item, "fault"), is_stream(item));
        CHECK_STATUS(o.status, AIGW_STATUS_OK, o.err);
        if (o.status != AIGW_STATUS_OK) {
            fprintf(stderr, "case \"%s\" failed\n", name);
        } else {
            check_expect(name, &o, json_get(item, "expect"));
        }
        outcome_free(&o);
        aigw_client_free(client);
    }
}

/* The failed call's code, provider code, message parts, HTTP status and attempt statuses, as
 * far as `want` names them. */
static void check_protocol_error(const char *name, const outcome *o, const json_value *want) {
    const char *code = json_path_str(want, "code");
    const json_value *provider_code = json_get(want, "provider_code");
    const json_value *http_status = json_get(want, "http_status");
    const json_value *statuses = json_get(want, "attempts_statuses");
    const json_value *parts = json_get(want, "message_contains");
    size_t j;
    CHECK(o->status != AIGW_STATUS_OK && o->err != NULL);
    CHECK_STR(aigw_status_str(o->status), code);
    CHECK_STR(aigw_error_code(o->err), code);
    if (provider_code != NULL) {
        CHECK_STR(aigw_error_provider_code(o->err), provider_code->string);
    }
    if (http_status != NULL) {
        CHECK(http_status->type == JSON_NUMBER &&
              aigw_error_http_status(o->err) == (uint16_t)http_status->number);
    }
    if (statuses != NULL) {
        char *text = NULL;
        json_value *error = NULL;
        if (aigw_error_json(o->err, &text) == AIGW_STATUS_OK) {
            error = json_parse(text);
        }
        CHECK(statuses_equal(json_get(error, "attempts"), statuses));
        if (!statuses_equal(json_get(error, "attempts"), statuses)) {
            fprintf(stderr, "case \"%s\": the error is %s\n", name, text ? text : "(none)");
        }
        json_free(error);
        aigw_string_free(text);
    }
    for (j = 0; parts != NULL && j < parts->count; j++) {
        const char *part = parts->items[j].string;
        CHECK(part != NULL && strstr(aigw_error_message(o->err), part) != NULL);
    }
    if (o->err != NULL && code != NULL && strcmp(aigw_error_code(o->err), code) != 0) {
        fprintf(stderr, "case \"%s\": %s: %s\n", name, aigw_error_code(o->err),
                aigw_error_message(o->err));
    }
}

static void replay_protocol_errors(const test_args *args, const json_value *doc) {
    const json_value *cases = json_get(doc, "errors");
    size_t i;
    CHECK(cases != NULL && cases->count > 0);
    for (i = 0; cases != NULL && i < cases->count; i++) {
        const json_value *item = &cases->items[i];
        aigw_client *client = protocol_client(args, doc, item, NULL);
        outcome o = protocol_outcome(client, json_path_str(item, "fault"), is_stream(item));
        check_protocol_error(json_path_str(item, "name"), &o, item);
        outcome_free(&o);
        aigw_client_free(client);
    }
}

static void replay_protocol_retries(const test_args *args, const json_value *doc) {
    const json_value *cases = json_get(doc, "retries");
    const json_value *retry_profile = json_get(doc, "retry_profile");
    size_t i;
    CHECK(cases != NULL && cases->count > 0);
    CHECK(retry_profile != NULL && retry_profile->type == JSON_OBJECT);
    for (i = 0; cases != NULL && i < cases->count; i++) {
        const json_value *item = &cases->items[i];
        const char *name = json_path_str(item, "name");
        const json_value *want_requests = json_get(item, "requests");
        const json_value *error = json_get(item, "error");
        aigw_client *client = protocol_client(args, doc, item, retry_profile);
        outcome o;
        long requests;
        reset_mock(args);
        o = protocol_outcome(client, json_path_str(item, "fault"), is_stream(item));
        if (error != NULL) {
            check_protocol_error(name, &o, error);
        } else {
            CHECK_STATUS(o.status, AIGW_STATUS_OK, o.err);
            if (o.status == AIGW_STATUS_OK) {
                check_expect(name, &o, json_get(item, "expect"));
            }
        }
        requests = mock_requests(args);
        CHECK(want_requests != NULL && requests == (long)want_requests->number);
        if (want_requests == NULL || requests != (long)want_requests->number) {
            fprintf(stderr, "case \"%s\": the mock received %ld requests\n", name, requests);
        }
        outcome_free(&o);
        aigw_client_free(client);
    }
}

static void replay_protocols(const test_args *args) {
    char *text = NULL;
    json_value *doc = load(args, "protocols.json", &text);
    replay_protocol_requests(args, doc);
    replay_protocol_answers(args, doc);
    replay_protocol_errors(args, doc);
    replay_protocol_retries(args, doc);
    json_free(doc);
    free(text);
}

int main(int argc, char **argv) {
    test_args args = parse_args(argc, argv);
    char *text = NULL;
    json_value *routes;
    replay_errors(&args);
    routes = load(&args, "routes.json", &text);
    replay_kinds(json_get(routes, "kinds"));
    replay_routes(json_get(routes, "routes"));
    json_free(routes);
    free(text);
    replay_credentials(&args);
    replay_gateway_options(&args);
    replay_usage(&args);
    replay_protocols(&args);
    return finish("test_vectors");
}
