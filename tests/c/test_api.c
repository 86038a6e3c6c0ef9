/*
 * The C API end to end against the mock gateway: version, status names, the provider registry,
 * describe, doctor, list-models, chat (with per-request options), config files, and the error
 * accessors and out-param rules.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

static void test_version(void) {
    char *numbers = str_printf("%d.%d.%d", AIGW_VERSION_MAJOR, AIGW_VERSION_MINOR,
                               AIGW_VERSION_PATCH);
    CHECK_STR(aigw_version(), numbers);
    CHECK_STR(aigw_version(), AIGW_VERSION);
    free(numbers);
}

static void test_status_names(void) {
    static const struct {
        aigw_status status;
        unsigned number;
        const char *name;
    } table[] = {
        {AIGW_STATUS_OK, 0, "OK"},
        {AIGW_STATUS_DONE, 1, "DONE"},
        {AIGW_STATUS_INVALID_ARGUMENT, 2, "INVALID_ARGUMENT"},
        {AIGW_STATUS_CONFIG, 3, "CONFIG"},
        {AIGW_STATUS_MISSING_CREDENTIALS, 4, "MISSING_CREDENTIALS"},
        {AIGW_STATUS_AUTH, 5, "AUTH"},
        {AIGW_STATUS_RATE_LIMITED, 6, "RATE_LIMITED"},
        {AIGW_STATUS_TIMEOUT, 7, "TIMEOUT"},
        {AIGW_STATUS_CONNECTION, 8, "CONNECTION"},
        {AIGW_STATUS_PROVIDER, 9, "PROVIDER"},
        {AIGW_STATUS_MODEL_SELECTION, 10, "MODEL_SELECTION"},
        {AIGW_STATUS_PROTOCOL, 11, "PROTOCOL"},
        {AIGW_STATUS_UNSUPPORTED, 12, "UNSUPPORTED"},
        {AIGW_STATUS_CANCELLED, 13, "CANCELLED"},
        {AIGW_STATUS_INTERNAL, 14, "INTERNAL"},
    };
    size_t i;
    CHECK(sizeof(aigw_status) == 4);
    for (i = 0; i < sizeof table / sizeof table[0]; i++) {
        CHECK((unsigned)table[i].status == table[i].number);
        CHECK_STR(aigw_status_str(table[i].status), table[i].name);
    }
    CHECK_STR(aigw_status_str(15), "UNKNOWN");
    CHECK_STR(aigw_status_str(0xFFFFFFFFu), "UNKNOWN");
}

static void test_providers(void) {
    char *json = NULL;
    aigw_error *err = NULL;
    json_value *doc;
    size_t i;
    int found = 0;
    CHECK_STATUS(aigw_providers_json(&json, &err), AIGW_STATUS_OK, err);
    CHECK(err == NULL);
    doc = json_parse(json);
    CHECK(doc != NULL && doc->type == JSON_ARRAY && doc->count == 45);
    for (i = 0; doc != NULL && i < doc->count; i++) {
        const char *id = json_path_str(&doc->items[i], "id");
        if (id != NULL && strcmp(id, "cloudflare_ai_gateway") == 0) {
            found = 1;
            CHECK_STR(json_path_str(&doc->items[i], "protocol_family"),
                      "openai_chat_completions");
        }
    }
    CHECK(found);
    json_free(doc);
    aigw_string_free(json);
}

static void test_describe(const test_args *args) {
    aigw_client *client = mock_client(args, "");
    aigw_error *err = NULL;
    char *json = NULL;
    char *base = mock_base_url(args);
    char *endpoint = str_printf("%s/chat/completions", base);
    json_value *doc;
    CHECK_STATUS(aigw_client_describe(client, &json, &err), AIGW_STATUS_OK, err);
    doc = json_parse(json);
    CHECK(doc != NULL);
    CHECK_STR(json_path_str(doc, "kind"), "cloudflare_ai_gateway");
    CHECK_STR(json_path_str(doc, "route.base_url"), base);
    CHECK_STR(json_path_str(doc, "route.request_endpoint"), endpoint);
    CHECK_STR(json_path_str(doc, "route.account_id"), TEST_ACCOUNT);
    CHECK_STR(json_path_str(doc, "route.gateway_name"), TEST_GATEWAY);
    CHECK_STR(json_path_str(doc, "credentials.source"), "provider.api_key (inline)");
    CHECK_STR(json_path_str(doc, "model.strategy"), "explicit_model");
    CHECK_STR(json_path_str(doc, "version"), aigw_version());
    CHECK(strstr(json, TEST_API_KEY) == NULL);
    json_free(doc);
    aigw_string_free(json);
    aigw_client_free(client);
    free(endpoint);

    /* A key from the environment: describe names the variable, never the value. */
    {
        char *profile = str_printf("{\"kind\": \"cloudflare\", \"base_url\": \"%s\", "
                                   "\"api_key_env\": \"AIGW_C_TEST_KEY\"}",
                                   base);
        setenv("AIGW_C_TEST_KEY", "secret-from-env-123", 1);
        CHECK_STATUS(aigw_client_new(profile, &client, &err), AIGW_STATUS_OK, err);
        CHECK_STATUS(aigw_client_describe(client, &json, &err), AIGW_STATUS_OK, err);
        doc = json_parse(json);
        CHECK_STR(json_path_str(doc, "credentials.source"), "env:AIGW_C_TEST_KEY");
        CHECK_STR(json_path_str(doc, "model.strategy"), "auto_discovery");
        CHECK(strstr(json, "secret-from-env-123") == NULL);
        json_free(doc);
        aigw_string_free(json);
        aigw_client_free(client);
        unsetenv("AIGW_C_TEST_KEY");
        free(profile);
    }
    free(base);
}

static void test_doctor(const test_args *args) {
    aigw_client *client = mock_client(args, "");
    aigw_error *err = NULL;
    char *json = NULL;
    json_value *doc;
    const json_value *checks;
    CHECK_STATUS(aigw_client_doctor(client, &json, &err), AIGW_STATUS_OK, err);
    doc = json_parse(json);
    CHECK_STR(json_path_str(doc, "status"), "pass");
    checks = json_path(doc, "checks");
    CHECK(checks != NULL && checks->type == JSON_ARRAY && checks->count == 4);
    CHECK_STR(json_path_str(doc, "checks.0.name"), "config");
    CHECK_STR(json_path_str(doc, "checks.3.name"), "model_probe");
    CHECK_STR(json_path_str(doc, "checks.3.status"), "pass");
    json_free(doc);
    aigw_string_free(json);
    aigw_client_free(client);
}

static void test_list_models(const test_args *args) {
    aigw_client *client = mock_client(args, "");
    aigw_error *err = NULL;
    char *json = NULL;
    json_value *doc;
    CHECK_STATUS(aigw_client_list_models(client, &json, &err), AIGW_STATUS_OK, err);
    doc = json_parse(json);
    CHECK(doc != NULL && doc->type == JSON_ARRAY && doc->count == 3);
    CHECK_STR(json_path_str(doc, "0.id"), "openai/gpt-4o-mini");
    CHECK_STR(json_path_str(doc, "2.id"), "workers-ai/@cf/meta/llama-3.1-8b-instruct");
    json_free(doc);
    aigw_string_free(json);
    aigw_client_free(client);
}

static void test_chat(const test_args *args) {
    aigw_client *client = mock_client(args, "");
    aigw_error *err = NULL;
    char *json = NULL;
    char *request = user_request("hello from C");
    json_value *doc;
    CHECK_STATUS(aigw_client_chat(client, request, NULL, &json, &err), AIGW_STATUS_OK, err);
    doc = json_parse(json);
    CHECK_STR(json_path_str(doc, "choices.0.message.content"), "echo: hello from C");
    CHECK_STR(json_path_str(doc, "aigw.model"), TEST_MODEL);
    CHECK(json_path_str(doc, "aigw.request_id") != NULL);
    CHECK(json_path_str(doc, "aigw.cf_aig_log_id") != NULL);
    CHECK(json_path(doc, "aigw.attempts.0") != NULL);
    CHECK(json_path(doc, "aigw.attempts.1") == NULL);
    json_free(doc);
    aigw_string_free(json);

    /* Per-request options reach the gateway: a cache TTL makes the second answer a HIT. */
    {
        const char *options = "{\"gateway\": {\"cache_ttl\": 120, \"metadata\": {\"team\": \"c\"}}, "
                              "\"headers\": {\"x-c-test\": \"1\"}, \"timeout_ms\": 10000}";
        char *message = str_printf("cache me from C, process %ld", (long)getpid());
        char *cached = user_request(message);
        free(message);
        CHECK_STATUS(aigw_client_chat(client, cached, options, &json, &err), AIGW_STATUS_OK, err);
        doc = json_parse(json);
        CHECK_STR(json_path_str(doc, "aigw.cache_status"), "MISS");
        json_free(doc);
        aigw_string_free(json);
        CHECK_STATUS(aigw_client_chat(client, cached, options, &json, &err), AIGW_STATUS_OK, err);
        doc = json_parse(json);
        CHECK_STR(json_path_str(doc, "aigw.cache_status"), "HIT");
        json_free(doc);
        aigw_string_free(json);
        free(cached);
    }

    /* The request body is passed through; a `model` in it wins over the profile's. */
    CHECK_STATUS(aigw_client_chat(client,
                                  "{\"model\": \"openai/gpt-4o\", \"temperature\": 0.5, "
                                  "\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}",
                                  "", &json, &err),
                 AIGW_STATUS_OK, err);
    doc = json_parse(json);
    CHECK_STR(json_path_str(doc, "model"), "openai/gpt-4o");
    CHECK_STR(json_path_str(doc, "aigw.model"), "openai/gpt-4o");
    json_free(doc);
    aigw_string_free(json);

    /* `stream: true` belongs to aigw_client_chat_stream. */
    CHECK_STATUS(aigw_client_chat(client, "{\"stream\": true, \"messages\": []}", NULL, &json,
                                  &err),
                 AIGW_STATUS_INVALID_ARGUMENT, err);
    aigw_error_free(err);
    err = NULL;
    free(request);
    aigw_client_free(client);
}

static char *write_config(const test_args *args) {
    char path[] = "/tmp/aigw-c-config-XXXXXX";
    char *base = mock_base_url(args);
    char *text;
    int fd = mkstemp(path);
    FILE *f;
    CHECK(fd >= 0);
    if (fd < 0) {
        free(base);
        return NULL;
    }
    f = fdopen(fd, "w");
    text = str_printf("active_provider = \"second\"\n\n"
                      "[providers.first]\nkind = \"cloudflare\"\nbase_url = \"%s\"\n"
                      "api_key = \"%s\"\nmodel = \"%s\"\n\n"
                      "[providers.second]\nkind = \"cloudflare_ai_gateway\"\n"
                      "base_url = \"http://127.0.0.1:%d/v1/%s/second-gw/openai/compat\"\n"
                      "api_key = \"%s\"\nmodel = \"%s\"\n",
                      base, TEST_API_KEY, TEST_MODEL, args->port, TEST_ACCOUNT, TEST_API_KEY,
                      TEST_MODEL);
    fputs(text, f);
    fclose(f);
    free(text);
    free(base);
    return str_printf("%s", path);
}

static void test_from_config(const test_args *args) {
    char *path = write_config(args);
    aigw_client *client = NULL;
    aigw_error *err = NULL;
    char *json = NULL;
    json_value *doc;
    if (path == NULL) {
        return;
    }
    CHECK_STATUS(aigw_client_from_config(path, NULL, &client, &err), AIGW_STATUS_OK, err);
    CHECK_STATUS(aigw_client_describe(client, &json, &err), AIGW_STATUS_OK, err);
    doc = json_parse(json);
    CHECK_STR(json_path_str(doc, "route.gateway_name"), "second-gw");
    json_free(doc);
    aigw_string_free(json);
    aigw_client_free(client);

    CHECK_STATUS(aigw_client_from_config(path, "first", &client, &err), AIGW_STATUS_OK, err);
    CHECK_STATUS(aigw_client_describe(client, &json, &err), AIGW_STATUS_OK, err);
    doc = json_parse(json);
    CHECK_STR(json_path_str(doc, "route.gateway_name"), TEST_GATEWAY);
    json_free(doc);
    aigw_string_free(json);
    {
        char *request = user_request("from a config file");
        CHECK_STATUS(aigw_client_chat(client, request, NULL, &json, &err), AIGW_STATUS_OK, err);
        aigw_string_free(json);
        free(request);
    }
    aigw_client_free(client);

    client = NULL;
    CHECK_STATUS(aigw_client_from_config(path, "third", &client, &err), AIGW_STATUS_CONFIG, err);
    CHECK(client == NULL);
    CHECK_CONTAINS(aigw_error_message(err), "first");
    aigw_error_free(err);
    err = NULL;
    unlink(path);
    CHECK_STATUS(aigw_client_from_config(path, NULL, &client, &err), AIGW_STATUS_CONFIG, err);
    CHECK_CONTAINS(aigw_error_message(err), "cannot read config file");
    aigw_error_free(err);
    free(path);
}

static void test_error_accessors(const test_args *args) {
    aigw_client *client;
    aigw_error *err = NULL;
    char *json = (char *)"untouched";
    char *error_json = NULL;
    char *request = user_request("wrong key");
    char *base = mock_base_url(args);
    char *profile = str_printf("{\"kind\": \"cloudflare\", \"base_url\": \"%s\", "
                               "\"api_key\": \"not-the-key\", \"model\": \"%s\", "
                               "\"retry_max_attempts\": 1}",
                               base, TEST_MODEL);
    json_value *doc;
    free(base);
    CHECK_STATUS(aigw_client_new(profile, &client, &err), AIGW_STATUS_OK, err);
    CHECK_STATUS(aigw_client_chat(client, request, NULL, &json, &err), AIGW_STATUS_AUTH, err);
    CHECK_STR(json, "untouched"); /* out-params are written only on success */
    CHECK(err != NULL);
    CHECK_STR(aigw_error_code(err), "AUTH");
    CHECK(aigw_error_status(err) == AIGW_STATUS_AUTH);
    CHECK(aigw_error_http_status(err) == 401);
    CHECK_STR(aigw_error_provider_code(err), "invalid_api_key");
    CHECK(aigw_error_request_id(err) != NULL);
    CHECK(aigw_error_retry_after_ms(err) == 0);
    CHECK(strlen(aigw_error_message(err)) > 0);
    CHECK(strstr(aigw_error_message(err), "not-the-key") == NULL);
    CHECK_STATUS(aigw_error_json(err, &error_json), AIGW_STATUS_OK, NULL);
    doc = json_parse(error_json);
    CHECK_STR(json_path_str(doc, "code"), "AUTH");
    CHECK(json_path(doc, "status") != NULL && json_path(doc, "status")->number == 5);
    CHECK(json_path(doc, "http_status") != NULL && json_path(doc, "http_status")->number == 401);
    CHECK(json_path(doc, "retry_after_ms") != NULL &&
          json_path(doc, "retry_after_ms")->type == JSON_NULL);
    CHECK(json_path(doc, "attempts.0") != NULL);
    json_free(doc);
    aigw_string_free(error_json);
    aigw_error_free(err);

    /* `err` may be NULL: the status alone still reports the failure. */
    CHECK_STATUS(aigw_client_chat(client, request, NULL, &json, NULL), AIGW_STATUS_AUTH, NULL);
    CHECK_STR(json, "untouched");
    aigw_client_free(client);
    free(profile);
    free(request);

    /* On success *err is not touched. */
    client = mock_client(args, "");
    err = NULL;
    request = user_request("ok");
    CHECK_STATUS(aigw_client_chat(client, request, NULL, &json, &err), AIGW_STATUS_OK, err);
    CHECK(err == NULL);
    aigw_string_free(json);
    free(request);
    aigw_client_free(client);
}

int main(int argc, char **argv) {
    test_args args = parse_args(argc, argv);
    test_version();
    test_status_names();
    test_providers();
    test_describe(&args);
    test_doctor(&args);
    test_list_models(&args);
    test_chat(&args);
    test_from_config(&args);
    test_error_accessors(&args);
    return finish("test_api");
}
