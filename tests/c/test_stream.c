/*
 * Streaming from C: chunks and metadata, the end of a stream (DONE, repeatedly), SSE framing
 * faults the decoder must survive, the plain-JSON fallback, mid-stream failures, and
 * cancellation before reading and from another thread while one is reading.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support.h"

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* Appends a chunk's delta text to `text` (capacity `cap`); returns 0 for a malformed chunk. */
static int append_delta(char *text, size_t cap, const char *chunk, size_t len) {
    json_value *doc;
    const char *delta;
    int ok;
    if (strlen(chunk) != len) {
        return 0;
    }
    doc = json_parse(chunk);
    ok = doc != NULL;
    delta = json_path_str(doc, "choices.0.delta.content");
    if (delta != NULL) {
        ok = strlen(text) + strlen(delta) < cap;
        if (ok) {
            strcat(text, delta);
        }
    }
    json_free(doc);
    return ok;
}

/* Reads a whole stream; returns the status that ended it and fills `text` and `*chunks`. */
static aigw_status read_all(aigw_stream *stream, char *text, size_t cap, int *chunks,
                            aigw_error **err) {
    int guard;
    text[0] = '\0';
    *chunks = 0;
    for (guard = 0; guard < 10000; guard++) {
        const char *chunk = NULL;
        size_t len = 0;
        aigw_status status = aigw_stream_next(stream, &chunk, &len, err);
        if (status != AIGW_STATUS_OK) {
            return status;
        }
        (*chunks)++;
        CHECK(append_delta(text, cap, chunk, len));
    }
    return AIGW_STATUS_INTERNAL;
}

static aigw_stream *open_stream(aigw_client *client, const char *message, const char *options) {
    aigw_stream *stream = NULL;
    aigw_error *err = NULL;
    char *request = user_request(message);
    aigw_status status = aigw_client_chat_stream(client, request, options, &stream, &err);
    CHECK_STATUS(status, AIGW_STATUS_OK, err);
    aigw_error_free(err);
    free(request);
    return status == AIGW_STATUS_OK ? stream : NULL;
}

static void test_stream_to_done(aigw_client *client) {
    char text[4096];
    int chunks = 0;
    aigw_error *err = NULL;
    char *meta = NULL;
    json_value *doc;
    const char *chunk = "untouched";
    size_t len = 12345;
    aigw_stream *stream = open_stream(client, "stream this from C", NULL);
    if (stream == NULL) {
        return;
    }
    CHECK_STATUS(aigw_stream_meta_json(stream, &meta, &err), AIGW_STATUS_OK, err);
    doc = json_parse(meta);
    CHECK(json_path(doc, "status") != NULL && json_path(doc, "status")->number == 200);
    CHECK_STR(json_path_str(doc, "model"), TEST_MODEL);
    CHECK(json_path_str(doc, "request_id") != NULL);
    CHECK(json_path_str(doc, "cf_aig_log_id") != NULL);
    json_free(doc);
    aigw_string_free(meta);

    CHECK_STATUS(read_all(stream, text, sizeof text, &chunks, &err), AIGW_STATUS_DONE, err);
    CHECK_STR(text, "echo: stream this from C");
    CHECK(chunks > 1);
    CHECK(err == NULL);
    /* DONE again on every later call, and the out-params stay untouched. */
    CHECK_STATUS(aigw_stream_next(stream, &chunk, &len, &err), AIGW_STATUS_DONE, err);
    CHECK_STATUS(aigw_stream_next(stream, &chunk, &len, &err), AIGW_STATUS_DONE, err);
    CHECK_STR(chunk, "untouched");
    CHECK(len == 12345);
    /* Metadata stays readable after the end. */
    CHECK_STATUS(aigw_stream_meta_json(stream, &meta, &err), AIGW_STATUS_OK, err);
    aigw_string_free(meta);
    aigw_stream_free(stream);
}

static void test_sse_framing(aigw_client *client) {
    static const char *const specs[] = {"utf8_split", "split_bytes;utf8_split", "crlf;bom;comments",
                                        "cr;chunks=3"};
    size_t i;
    for (i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        char text[4096];
        int chunks = 0;
        aigw_error *err = NULL;
        char *options = fault_options(specs[i], "");
        aigw_stream *stream = open_stream(client, "framing", options);
        if (stream != NULL) {
            CHECK_STATUS(read_all(stream, text, sizeof text, &chunks, &err), AIGW_STATUS_DONE,
                         err);
            if (strstr(specs[i], "utf8_split") != NULL) {
                CHECK_STR(text, "a\xc3\xa9" "b\xe4\xb8\xad" "c\xf0\x9f\xa6\x80" "d\xc3\xa9"
                                "a\xc3\xa9" "b\xe4\xb8\xad" "c\xf0\x9f\xa6\x80" "d\xc3\xa9");
            } else {
                CHECK_STR(text, "echo: framing");
            }
            aigw_error_free(err);
            aigw_stream_free(stream);
        }
        free(options);
    }
}

static void test_json_fallback(aigw_client *client) {
    const char *chunk = NULL;
    size_t len = 0;
    aigw_error *err = NULL;
    char *options = fault_options("json_for_stream", "");
    aigw_stream *stream = open_stream(client, "buffered", options);
    if (stream != NULL) {
        json_value *doc;
        CHECK_STATUS(aigw_stream_next(stream, &chunk, &len, &err), AIGW_STATUS_OK, err);
        CHECK(strlen(chunk) == len);
        doc = json_parse(chunk);
        CHECK_STR(json_path_str(doc, "object"), "chat.completion");
        CHECK_STR(json_path_str(doc, "choices.0.message.content"), "echo: buffered");
        json_free(doc);
        CHECK_STATUS(aigw_stream_next(stream, &chunk, &len, &err), AIGW_STATUS_DONE, err);
        aigw_stream_free(stream);
    }
    free(options);
}

static void expect_stream_failure(aigw_client *client, const char *spec, aigw_status want,
                                  const char *message_part) {
    char text[4096];
    int chunks = 0;
    aigw_error *err = NULL;
    char *options = fault_options(spec, "");
    aigw_stream *stream = open_stream(client, "failing stream", options);
    if (stream != NULL) {
        const char *chunk = NULL;
        size_t len = 0;
        CHECK_STATUS(read_all(stream, text, sizeof text, &chunks, &err), want, err);
        if (err != NULL && message_part != NULL) {
            CHECK_CONTAINS(aigw_error_message(err), message_part);
        }
        CHECK(err != NULL);
        aigw_error_free(err);
        err = NULL;
        /* After an error the stream is closed. */
        CHECK_STATUS(aigw_stream_next(stream, &chunk, &len, &err), AIGW_STATUS_DONE, err);
        aigw_stream_free(stream);
    }
    free(options);
}

static void test_mid_stream_failures(aigw_client *client) {
    expect_stream_failure(client, "truncate_after=2", AIGW_STATUS_PROTOCOL, "truncated after");
    expect_stream_failure(client, "malformed_sse", AIGW_STATUS_PROTOCOL, "not valid JSON");
    expect_stream_failure(client, "sse_error_frame", AIGW_STATUS_PROVIDER, "upstream overloaded");
    expect_stream_failure(client, "reset_after=2", AIGW_STATUS_CONNECTION, NULL);
}

static void test_cancel_before_reading(aigw_client *client) {
    aigw_error *err = NULL;
    const char *chunk = NULL;
    size_t len = 0;
    aigw_stream *stream = open_stream(client, "cancel me", NULL);
    if (stream == NULL) {
        return;
    }
    CHECK_STATUS(aigw_stream_cancel(stream), AIGW_STATUS_OK, NULL);
    CHECK_STATUS(aigw_stream_cancel(stream), AIGW_STATUS_OK, NULL);
    CHECK_STATUS(aigw_stream_next(stream, &chunk, &len, &err), AIGW_STATUS_CANCELLED, err);
    CHECK_STR(aigw_error_code(err), "CANCELLED");
    aigw_error_free(err);
    aigw_stream_free(stream);
}

typedef struct {
    const aigw_stream *stream;
    long delay_ms;
    aigw_status status;
} canceller;

static void *cancel_later(void *arg) {
    canceller *c = arg;
    sleep_ms(c->delay_ms);
    c->status = aigw_stream_cancel(c->stream);
    return NULL;
}

/* One thread reads a stream that stalls; another cancels it meanwhile. */
static void test_cancel_from_another_thread(aigw_client *client) {
    aigw_error *err = NULL;
    const char *chunk = NULL;
    size_t len = 0;
    pthread_t thread;
    canceller c;
    int reads = 0;
    aigw_status status = AIGW_STATUS_OK;
    char *options = fault_options("chunks=6;stall_after=2;stall_ms=1500", "");
    aigw_stream *stream = open_stream(client, "cancel me from a thread", options);
    free(options);
    if (stream == NULL) {
        return;
    }
    CHECK_STATUS(aigw_stream_next(stream, &chunk, &len, &err), AIGW_STATUS_OK, err);
    c.stream = stream;
    c.delay_ms = 200;
    c.status = AIGW_STATUS_INTERNAL;
    CHECK(pthread_create(&thread, NULL, cancel_later, &c) == 0);
    while (reads < 10) {
        status = aigw_stream_next(stream, &chunk, &len, &err);
        reads++;
        if (status != AIGW_STATUS_OK) {
            break;
        }
    }
    pthread_join(thread, NULL);
    CHECK_STATUS(c.status, AIGW_STATUS_OK, NULL);
    CHECK_STATUS(status, AIGW_STATUS_CANCELLED, err);
    CHECK(reads < 6); /* it did not read the rest of the answer */
    aigw_error_free(err);
    aigw_stream_free(stream);
}

/* A stream freed half-way through drops its connection without leaking. */
static void test_free_unfinished(aigw_client *client) {
    aigw_error *err = NULL;
    const char *chunk = NULL;
    size_t len = 0;
    aigw_stream *stream = open_stream(client, "abandon me", NULL);
    if (stream != NULL) {
        CHECK_STATUS(aigw_stream_next(stream, &chunk, &len, &err), AIGW_STATUS_OK, err);
        aigw_stream_free(stream);
    }
    /* And the client keeps working afterwards. */
    stream = open_stream(client, "after abandon", NULL);
    if (stream != NULL) {
        char text[1024];
        int chunks = 0;
        CHECK_STATUS(read_all(stream, text, sizeof text, &chunks, &err), AIGW_STATUS_DONE, err);
        CHECK_STR(text, "echo: after abandon");
        aigw_stream_free(stream);
    }
}

/* A stream outlives the client it came from. */
static void test_stream_outlives_client(const test_args *args) {
    aigw_client *client = mock_client(args, "");
    aigw_stream *stream = open_stream(client, "orphan", NULL);
    aigw_client_free(client);
    if (stream != NULL) {
        char text[1024];
        int chunks = 0;
        aigw_error *err = NULL;
        CHECK_STATUS(read_all(stream, text, sizeof text, &chunks, &err), AIGW_STATUS_DONE, err);
        CHECK_STR(text, "echo: orphan");
        aigw_stream_free(stream);
    }
}

int main(int argc, char **argv) {
    test_args args = parse_args(argc, argv);
    aigw_client *client = mock_client(&args, "");
    test_stream_to_done(client);
    test_sse_framing(client);
    test_json_fallback(client);
    test_mid_stream_failures(client);
    test_cancel_before_reading(client);
    test_cancel_from_another_thread(client);
    test_free_unfinished(client);
    aigw_client_free(client);
    test_stream_outlives_client(&args);
    return finish("test_stream");
}
