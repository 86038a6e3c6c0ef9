/*
 * NULL for every pointer argument of every function, and invalid UTF-8 for every string
 * argument: each is AIGW_STATUS_INVALID_ARGUMENT naming the argument (or a documented no-op /
 * fallback for _free functions and error accessors), never a crash, and nothing is written.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support.h"

static const char *const BAD_UTF8 = "{\"kind\": \"\xff\xfe\"}";

/* Checks an INVALID_ARGUMENT result whose message names `argument`; frees the error. */
#define CHECK_INVALID(call, argument)                                 \
    do {                                                              \
        aigw_status status_ = (call);                                 \
        check_invalid(status_, err, argument, #call, __LINE__);       \
        err = NULL;                                                   \
    } while (0)

static void check_invalid(aigw_status status, aigw_error *err, const char *argument,
                          const char *what, int line) {
    check_status_at(status, AIGW_STATUS_INVALID_ARGUMENT, err, what, __FILE__, line);
    check_at(err != NULL, "an error was returned", __FILE__, line);
    if (err != NULL) {
        check_at(strstr(aigw_error_message(err), argument) != NULL, what, __FILE__, line);
        check_at(aigw_error_status(err) == AIGW_STATUS_INVALID_ARGUMENT, what, __FILE__, line);
    }
    aigw_error_free(err);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_process_functions(void) {
    aigw_error *err = NULL;
    CHECK_INVALID(aigw_providers_json(NULL, &err), "json_out");
    CHECK(aigw_providers_json(NULL, NULL) == AIGW_STATUS_INVALID_ARGUMENT);
    aigw_string_free(NULL);
    aigw_client_free(NULL);
    aigw_stream_free(NULL);
    aigw_error_free(NULL);
    aigw_cancel_token_free(NULL);
    CHECK(aigw_cancel_token_new(NULL) == AIGW_STATUS_INVALID_ARGUMENT);
    CHECK(aigw_cancel_token_cancel(NULL) == AIGW_STATUS_INVALID_ARGUMENT);
    CHECK(aigw_version() != NULL);
}

static void test_construction(const test_args *args) {
    aigw_client *client = (aigw_client *)&client;
    aigw_client *const sentinel = client;
    aigw_error *err = NULL;
    char *profile = mock_profile(args, "");
    CHECK_INVALID(aigw_client_new(NULL, &client, &err), "profile_json");
    CHECK_INVALID(aigw_client_new(profile, NULL, &err), "client_out");
    CHECK_INVALID(aigw_client_new(BAD_UTF8, &client, &err), "profile_json");
    CHECK(aigw_client_new(NULL, &client, NULL) == AIGW_STATUS_INVALID_ARGUMENT);
    CHECK(client == sentinel);

    CHECK_INVALID(aigw_client_from_config(NULL, NULL, &client, &err), "path");
    CHECK_INVALID(aigw_client_from_config(NULL, "p", &client, &err), "path");
    CHECK_INVALID(aigw_client_from_config("/nonexistent/aigw.toml", NULL, NULL, &err),
                  "client_out");
    CHECK_INVALID(aigw_client_from_config("/nonexistent/\xff.toml", NULL, &client, &err), "path");
    CHECK_INVALID(aigw_client_from_config("/nonexistent/aigw.toml", "\xc3", &client, &err),
                  "profile_id");
    CHECK(aigw_client_from_config(NULL, NULL, NULL, NULL) == AIGW_STATUS_INVALID_ARGUMENT);
    CHECK(client == sentinel);
    free(profile);
}

static void test_client_functions(aigw_client *client) {
    aigw_error *err = NULL;
    char *json = (char *)"untouched";
    aigw_stream *stream = (aigw_stream *)&stream;
    aigw_stream *const sentinel = stream;
    const char *request = "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}";
    /* Would take 3 s if any I/O happened: argument checks come first. */
    char *slow = fault_options("delay_ms=3000", "");
    aigw_cancel_token *token = NULL;
    double started;

    CHECK_INVALID(aigw_client_describe(NULL, &json, &err), "client");
    CHECK_INVALID(aigw_client_describe(client, NULL, &err), "json_out");
    CHECK_INVALID(aigw_client_doctor(NULL, &json, &err), "client");
    CHECK_INVALID(aigw_client_doctor(client, NULL, &err), "json_out");
    CHECK_INVALID(aigw_client_list_models(NULL, &json, &err), "client");
    CHECK_INVALID(aigw_client_list_models(client, NULL, &err), "json_out");
    CHECK(aigw_client_describe(NULL, NULL, NULL) == AIGW_STATUS_INVALID_ARGUMENT);

    started = now_seconds();
    CHECK_INVALID(aigw_client_chat(NULL, request, slow, &json, &err), "client");
    CHECK_INVALID(aigw_client_chat(client, NULL, slow, &json, &err), "request_json");
    CHECK_INVALID(aigw_client_chat(client, request, slow, NULL, &err), "response_json");
    CHECK_INVALID(aigw_client_chat(client, "{\"x\": \"\xff\"}", slow, &json, &err),
                  "request_json");
    CHECK_INVALID(aigw_client_chat(client, request, "{\"timeout_ms\": \"\xe2\x82\"}", &json, &err),
                  "options_json");
    CHECK(aigw_client_chat(NULL, NULL, NULL, NULL, NULL) == AIGW_STATUS_INVALID_ARGUMENT);

    CHECK_STATUS(aigw_cancel_token_new(&token), AIGW_STATUS_OK, NULL);
    CHECK_INVALID(aigw_client_chat_cancellable(NULL, request, slow, token, &json, &err), "client");
    CHECK_INVALID(aigw_client_chat_cancellable(client, NULL, slow, token, &json, &err),
                  "request_json");
    CHECK_INVALID(aigw_client_chat_cancellable(client, request, slow, NULL, &json, &err), "token");
    CHECK_INVALID(aigw_client_chat_cancellable(client, request, slow, token, NULL, &err),
                  "response_json");
    CHECK_INVALID(aigw_client_chat_cancellable(client, "\xff", slow, token, &json, &err),
                  "request_json");
    CHECK_INVALID(aigw_client_chat_cancellable(client, request, "\xc3", token, &json, &err),
                  "options_json");
    CHECK(aigw_client_chat_cancellable(NULL, NULL, NULL, NULL, NULL, NULL) ==
          AIGW_STATUS_INVALID_ARGUMENT);
    aigw_cancel_token_free(token);

    CHECK_INVALID(aigw_client_chat_stream(NULL, request, slow, &stream, &err), "client");
    CHECK_INVALID(aigw_client_chat_stream(client, NULL, slow, &stream, &err), "request_json");
    CHECK_INVALID(aigw_client_chat_stream(client, request, slow, NULL, &err), "stream_out");
    CHECK_INVALID(aigw_client_chat_stream(client, "\xed\xa0\x80", slow, &stream, &err),
                  "request_json");
    CHECK_INVALID(aigw_client_chat_stream(client, request, "\x80", &stream, &err),
                  "options_json");
    CHECK(aigw_client_chat_stream(NULL, NULL, NULL, NULL, NULL) == AIGW_STATUS_INVALID_ARGUMENT);
    CHECK(now_seconds() - started < 2.5);

    CHECK_STR(json, "untouched");
    CHECK(stream == sentinel);
    free(slow);
}

static void test_stream_functions(aigw_client *client) {
    aigw_error *err = NULL;
    aigw_stream *stream = NULL;
    char *json = (char *)"untouched";
    const char *chunk = "untouched";
    size_t len = 7;
    int guard;
    aigw_status status = AIGW_STATUS_OK;
    char *request = user_request("null checks");

    CHECK_INVALID(aigw_stream_meta_json(NULL, &json, &err), "stream");
    CHECK_INVALID(aigw_stream_next(NULL, &chunk, &len, &err), "stream");
    CHECK(aigw_stream_cancel(NULL) == AIGW_STATUS_INVALID_ARGUMENT);
    CHECK(aigw_stream_next(NULL, NULL, NULL, NULL) == AIGW_STATUS_INVALID_ARGUMENT);

    CHECK_STATUS(aigw_client_chat_stream(client, request, NULL, &stream, &err), AIGW_STATUS_OK,
                 err);
    CHECK_INVALID(aigw_stream_meta_json(stream, NULL, &err), "json_out");
    CHECK_INVALID(aigw_stream_next(stream, NULL, &len, &err), "chunk_json");
    CHECK_INVALID(aigw_stream_next(stream, &chunk, NULL, &err), "len");
    CHECK_STR(json, "untouched");
    CHECK_STR(chunk, "untouched");
    CHECK(len == 7);
    /* The rejected calls consumed nothing: the whole answer is still there. */
    {
        char text[256] = "";
        for (guard = 0; guard < 1000; guard++) {
            json_value *doc;
            const char *delta;
            status = aigw_stream_next(stream, &chunk, &len, &err);
            if (status != AIGW_STATUS_OK) {
                break;
            }
            doc = json_parse(chunk);
            delta = json_path_str(doc, "choices.0.delta.content");
            if (delta != NULL && strlen(text) + strlen(delta) < sizeof text) {
                strcat(text, delta);
            }
            json_free(doc);
        }
        CHECK_STATUS(status, AIGW_STATUS_DONE, err);
        CHECK_STR(text, "echo: null checks");
    }
    aigw_stream_free(stream);
    free(request);
}

static void test_error_accessors(void) {
    aigw_error *err = NULL;
    char *json = (char *)"untouched";
    CHECK(aigw_error_status(NULL) == AIGW_STATUS_INVALID_ARGUMENT);
    CHECK_STR(aigw_error_code(NULL), "INVALID_ARGUMENT");
    CHECK(aigw_error_message(NULL) != NULL);
    CHECK_CONTAINS(aigw_error_message(NULL), "NULL");
    CHECK(aigw_error_http_status(NULL) == 0);
    CHECK(aigw_error_retry_after_ms(NULL) == 0);
    CHECK(aigw_error_provider_code(NULL) == NULL);
    CHECK(aigw_error_request_id(NULL) == NULL);
    CHECK(aigw_error_json(NULL, &json) == AIGW_STATUS_INVALID_ARGUMENT);
    CHECK_STR(json, "untouched");

    /* A real error, to pass a NULL out-param next to it. */
    CHECK(aigw_client_new(NULL, NULL, &err) == AIGW_STATUS_INVALID_ARGUMENT);
    CHECK(aigw_error_json(err, NULL) == AIGW_STATUS_INVALID_ARGUMENT);
    CHECK(aigw_error_provider_code(err) == NULL);
    CHECK(aigw_error_request_id(err) == NULL);
    aigw_error_free(err);
}

int main(int argc, char **argv) {
    test_args args = parse_args(argc, argv);
    aigw_client *client = mock_client(&args, "");
    test_process_functions();
    test_construction(&args);
    test_client_functions(client);
    test_stream_functions(client);
    test_error_accessors();
    aigw_client_free(client);
    return finish("test_null");
}
