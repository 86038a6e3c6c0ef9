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
 *                      `calls` and `doctor` cases are replayed by Rust, Python and Node).
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
    return finish("test_vectors");
}
