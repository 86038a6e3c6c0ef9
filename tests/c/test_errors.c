/*
 * Every aigw_status a C caller can meet, each provoked for real against the mock gateway:
 * OK, DONE, INVALID_ARGUMENT, CONFIG, MISSING_CREDENTIALS, AUTH, RATE_LIMITED, TIMEOUT,
 * CONNECTION, PROVIDER, MODEL_SELECTION, PROTOCOL, UNSUPPORTED, CANCELLED.
 * INTERNAL (a caught panic) has no legitimate trigger from C; the boundary's unit tests in
 * ffi/src/boundary.rs provoke it.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* Runs one chat and checks the status, code string, and (when given) a message fragment. */
static aigw_error *expect_chat(aigw_client *client, const char *request, const char *options,
                               aigw_status want, const char *message_part) {
    aigw_error *err = NULL;
    char *response = (char *)"untouched";
    CHECK_STATUS(aigw_client_chat(client, request, options, &response, &err), want, err);
    CHECK_STR(response, "untouched");
    CHECK(err != NULL);
    if (err != NULL) {
        CHECK_STR(aigw_error_code(err), aigw_status_str(want));
        CHECK(aigw_error_status(err) == want);
        if (message_part != NULL) {
            CHECK_CONTAINS(aigw_error_message(err), message_part);
        }
    }
    return err;
}

static void test_invalid_argument(aigw_client *client) {
    aigw_error_free(expect_chat(client, "{not json", NULL, AIGW_STATUS_INVALID_ARGUMENT,
                                "request_json"));
    aigw_error_free(expect_chat(client, "[1, 2]", NULL, AIGW_STATUS_INVALID_ARGUMENT,
                                "JSON object"));
    aigw_error_free(expect_chat(client, "{\"messages\": []}", "{oops",
                                AIGW_STATUS_INVALID_ARGUMENT, "options"));
}

static void test_config(const test_args *args) {
    aigw_client *client = (aigw_client *)&client; /* any non-NULL sentinel */
    aigw_client *const sentinel = client;
    aigw_error *err = NULL;
    char *request = user_request("x");
    CHECK_STATUS(aigw_client_new("{\"kind\": \"cloudfare\"}", &client, &err), AIGW_STATUS_CONFIG,
                 err);
    CHECK(client == sentinel);
    CHECK_CONTAINS(aigw_error_message(err), "did you mean");
    aigw_error_free(err);
    err = NULL;
    CHECK_STATUS(aigw_client_new("{\"kind\": \"cloudflare\", \"base_ur\": \"x\"}", &client, &err),
                 AIGW_STATUS_CONFIG, err);
    CHECK_CONTAINS(aigw_error_message(err), "provider.base_ur");
    aigw_error_free(err);
    err = NULL;
    CHECK_STATUS(aigw_client_new("not json", &client, &err), AIGW_STATUS_CONFIG, err);
    aigw_error_free(err);
    err = NULL;

    /* Unresolved placeholders: construction works, every call fails before any I/O. */
    CHECK_STATUS(aigw_client_new("{\"kind\": \"cloudflare\", \"api_key\": \"k\"}", &client, &err),
                 AIGW_STATUS_OK, err);
    aigw_error_free(expect_chat(client, request, NULL, AIGW_STATUS_CONFIG,
                                "replace <account_id> and <gateway_name>"));
    {
        char *json = NULL;
        CHECK_STATUS(aigw_client_list_models(client, &json, &err), AIGW_STATUS_CONFIG, err);
        aigw_error_free(err);
    }
    aigw_client_free(client);
    free(request);
    (void)args;
}

static void test_missing_credentials(const test_args *args) {
    aigw_client *client = NULL;
    aigw_error *err = NULL;
    char *base = mock_base_url(args);
    char *profile = str_printf("{\"kind\": \"cloudflare\", \"base_url\": \"%s\", \"model\": \"%s\"}",
                               base, TEST_MODEL);
    char *request = user_request("x");
    unsetenv("CLOUDFLARE_API_KEY");
    unsetenv("CLOUDFLARE_AI_GATEWAY_API_KEY");
    CHECK_STATUS(aigw_client_new(profile, &client, &err), AIGW_STATUS_OK, err);
    err = expect_chat(client, request, NULL, AIGW_STATUS_MISSING_CREDENTIALS,
                      "provider credentials are missing; set CLOUDFLARE_API_KEY or "
                      "CLOUDFLARE_AI_GATEWAY_API_KEY, or configure provider.api_key");
    CHECK(aigw_error_http_status(err) == 0);
    aigw_error_free(err);
    aigw_client_free(client);
    free(profile);
    free(request);
    free(base);
}

static void test_auth(const test_args *args) {
    aigw_client *client = NULL;
    aigw_error *err = NULL;
    char *base = mock_base_url(args);
    char *profile = str_printf("{\"kind\": \"cloudflare\", \"base_url\": \"%s\", \"model\": \"%s\", "
                               "\"api_key\": \"wrong-key\", \"retry_max_attempts\": 1}",
                               base, TEST_MODEL);
    char *request = user_request("x");
    CHECK_STATUS(aigw_client_new(profile, &client, &err), AIGW_STATUS_OK, err);
    err = expect_chat(client, request, NULL, AIGW_STATUS_AUTH, "Incorrect API key");
    CHECK(aigw_error_http_status(err) == 401);
    CHECK_STR(aigw_error_provider_code(err), "invalid_api_key");
    CHECK(strstr(aigw_error_message(err), "wrong-key") == NULL);
    aigw_error_free(err);
    aigw_client_free(client);
    free(profile);
    free(request);
    free(base);
}

static void test_upstream_errors(aigw_client *client) {
    char *request = user_request("x");
    char *options;
    aigw_error *err;

    /* A server delay above retry_max_backoff_ms is not slept: RATE_LIMITED at once. */
    options = fault_options("status=429;retry_after=7", "");
    err = expect_chat(client, request, options, AIGW_STATUS_RATE_LIMITED, NULL);
    CHECK(aigw_error_http_status(err) == 429);
    CHECK(aigw_error_retry_after_ms(err) == 7000);
    aigw_error_free(err);
    free(options);

    options = fault_options("status=429;retry_after_ms=250", "");
    err = expect_chat(client, request, options, AIGW_STATUS_RATE_LIMITED, NULL);
    CHECK(aigw_error_retry_after_ms(err) == 250);
    aigw_error_free(err);
    free(options);

    options = fault_options("delay_ms=2000", ", \"timeout_ms\": 300");
    err = expect_chat(client, request, options, AIGW_STATUS_TIMEOUT, "response");
    aigw_error_free(err);
    free(options);

    options = fault_options("reset_before_headers", "");
    aigw_error_free(expect_chat(client, request, options, AIGW_STATUS_CONNECTION, NULL));
    free(options);

    options = fault_options("status=500", "");
    err = expect_chat(client, request, options, AIGW_STATUS_PROVIDER, NULL);
    CHECK(aigw_error_http_status(err) == 500);
    CHECK_STR(aigw_error_provider_code(err), "mock_500");
    CHECK(aigw_error_request_id(err) != NULL);
    aigw_error_free(err);
    free(options);

    options = fault_options("envelope=2008", "");
    err = expect_chat(client, request, options, AIGW_STATUS_PROVIDER, "mock envelope 2008");
    CHECK_STR(aigw_error_provider_code(err), "2008");
    aigw_error_free(err);
    free(options);

    options = fault_options("malformed_json", "");
    aigw_error_free(expect_chat(client, request, options, AIGW_STATUS_PROTOCOL, NULL));
    free(options);

    options = fault_options("not_openai_shape", "");
    aigw_error_free(expect_chat(client, request, options, AIGW_STATUS_PROTOCOL, "choices"));
    free(options);
    free(request);
}

static void test_model_selection(const test_args *args) {
    aigw_client *client = NULL;
    aigw_error *err = NULL;
    char *base = mock_base_url(args);
    /* model = auto, and the catalog fails: the recovery text of docs/contract.md §5. */
    char *profile = str_printf("{\"kind\": \"cloudflare\", \"base_url\": \"%s\", \"api_key\": \"%s\", "
                               "\"retry_max_attempts\": 1, "
                               "\"headers\": {\"x-mock-fault\": \"models:status=500\"}}",
                               base, TEST_API_KEY);
    char *request = user_request("x");
    CHECK_STATUS(aigw_client_new(profile, &client, &err), AIGW_STATUS_OK, err);
    aigw_error_free(expect_chat(client, request, NULL, AIGW_STATUS_MODEL_SELECTION,
                                "list-models is unreliable for this account or region"));
    aigw_client_free(client);
    free(profile);
    free(request);
    free(base);
}

static void test_unsupported(const test_args *args) {
    aigw_client *client = NULL;
    aigw_error *err = NULL;
    /* Every protocol is served; n > 1 has no Anthropic Messages form. */
    char *profile = str_printf("{\"kind\": \"anthropic\", \"base_url\": \"http://127.0.0.1:%d\", "
                               "\"api_key\": \"k\", \"model\": \"claude\"}",
                               args->port);
    char *request = str_printf("{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"n\": 2}");
    CHECK_STATUS(aigw_client_new(profile, &client, &err), AIGW_STATUS_OK, err);
    aigw_error_free(expect_chat(client, request, NULL, AIGW_STATUS_UNSUPPORTED, "`n`"));
    aigw_client_free(client);
    free(profile);
    free(request);
}

static void test_stream_statuses(aigw_client *client) {
    aigw_stream *stream = NULL;
    aigw_error *err = NULL;
    const char *chunk = NULL;
    size_t len = 0;
    int guard;
    char *request = user_request("statuses");
    aigw_status status = AIGW_STATUS_OK;

    CHECK_STATUS(aigw_client_chat_stream(client, request, NULL, &stream, &err), AIGW_STATUS_OK,
                 err);
    for (guard = 0; guard < 1000 && status == AIGW_STATUS_OK; guard++) {
        status = aigw_stream_next(stream, &chunk, &len, &err);
    }
    CHECK_STATUS(status, AIGW_STATUS_DONE, err);
    CHECK(err == NULL);
    aigw_stream_free(stream);

    CHECK_STATUS(aigw_client_chat_stream(client, request, NULL, &stream, &err), AIGW_STATUS_OK,
                 err);
    CHECK_STATUS(aigw_stream_cancel(stream), AIGW_STATUS_OK, NULL);
    CHECK_STATUS(aigw_stream_next(stream, &chunk, &len, &err), AIGW_STATUS_CANCELLED, err);
    CHECK_STR(aigw_error_code(err), "CANCELLED");
    aigw_error_free(err);
    aigw_stream_free(stream);

    /* Errors before the first event come from aigw_client_chat_stream itself. */
    {
        char *options = fault_options("status=503", "");
        stream = NULL;
        err = NULL;
        CHECK_STATUS(aigw_client_chat_stream(client, request, options, &stream, &err),
                     AIGW_STATUS_PROVIDER, err);
        CHECK(stream == NULL);
        CHECK(aigw_error_http_status(err) == 503);
        aigw_error_free(err);
        free(options);
    }

    free(request);
}

static void test_stream_idle_timeout(const test_args *args) {
    aigw_client *client = mock_client(args, ", \"stream_idle_timeout_ms\": 1000");
    aigw_stream *stream = NULL;
    aigw_error *err = NULL;
    const char *chunk = NULL;
    size_t len = 0;
    int guard;
    aigw_status status = AIGW_STATUS_OK;
    char *request = user_request("idle");
    char *options = fault_options("stall_after=1;stall_ms=3000", "");
    CHECK_STATUS(aigw_client_chat_stream(client, request, options, &stream, &err), AIGW_STATUS_OK,
                 err);
    for (guard = 0; stream != NULL && guard < 100 && status == AIGW_STATUS_OK; guard++) {
        status = aigw_stream_next(stream, &chunk, &len, &err);
    }
    CHECK_STATUS(status, AIGW_STATUS_TIMEOUT, err);
    CHECK_CONTAINS(aigw_error_message(err), "stream_idle");
    aigw_error_free(err);
    aigw_stream_free(stream);
    aigw_client_free(client);
    free(options);
    free(request);
}

int main(int argc, char **argv) {
    test_args args = parse_args(argc, argv);
    aigw_client *client = mock_client(&args, "");
    test_invalid_argument(client);
    test_config(&args);
    test_missing_credentials(&args);
    test_auth(&args);
    test_upstream_errors(client);
    test_model_selection(&args);
    test_unsupported(&args);
    test_stream_statuses(client);
    test_stream_idle_timeout(&args);
    aigw_client_free(client);
    return finish("test_errors");
}
