/*
 * Cancel tokens for non-streaming calls (aigw_cancel_token_*, aigw_client_chat_cancellable)
 * against the mock gateway: a token cancelled beforehand ends the call at once without any
 * request or connection reaching the mock (read from the mock's GET /__mock/stats over a plain
 * socket); a cancel from another thread while the mock holds the answer back for 5 s ends the
 * call well before that, after one request (no retry although two attempts are allowed); NULL
 * tokens, double cancels, reuse after a cancel, freeing a token during a call; a normal chat
 * with an uncancelled token; and streams of the translated kinds (anthropic, bedrock) cancelled
 * from another thread while the mock stalls mid-way: CANCELLED, only the text before the stall,
 * the connection closed (the mock's live connection count) and one request (no retry).
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

/* The mock holds the delayed answer back this long. */
#define DELAY_MS 5000
/* A cancelled call must be back this soon after the cancel: generous (valgrind), yet well
 * below DELAY_MS, so only a cancel that worked passes. */
#define AFTER_CANCEL_BOUND_MS 2000.0

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* ---- the mock's counters, over a plain HTTP/1.1 socket ------------------------------------ */

typedef struct {
    int ok;
    long requests;           /* chat/models/embeddings requests recorded (control routes not) */
    long connections_opened; /* every connection accepted, this one included */
    long connections_closed; /* connections whose end the mock has seen */
} mock_stats;

/* GET /__mock/stats on its own connection (closed after the answer). */
static mock_stats read_mock_stats(const test_args *args) {
    mock_stats stats = {0, 0, 0, 0};
    struct sockaddr_in addr;
    char request[128];
    char answer[4096];
    size_t len = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return stats;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)args->port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    snprintf(request, sizeof request,
             "GET /__mock/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        write(fd, request, strlen(request)) == (ssize_t)strlen(request)) {
        for (;;) {
            ssize_t n = read(fd, answer + len, sizeof answer - 1 - len);
            if (n <= 0) {
                break;
            }
            len += (size_t)n;
            if (len == sizeof answer - 1) {
                break;
            }
        }
    }
    close(fd);
    answer[len] = '\0';
    {
        const char *body = strstr(answer, "\r\n\r\n");
        json_value *doc = body != NULL ? json_parse(body + 4) : NULL;
        const json_value *requests = json_path(doc, "requests");
        const json_value *opened = json_path(doc, "connections_opened");
        const json_value *closed = json_path(doc, "connections_closed");
        if (strncmp(answer, "HTTP/1.1 200", 12) == 0 && requests != NULL &&
            requests->type == JSON_NUMBER && opened != NULL && opened->type == JSON_NUMBER &&
            closed != NULL && closed->type == JSON_NUMBER) {
            stats.ok = 1;
            stats.requests = (long)requests->number;
            stats.connections_opened = (long)opened->number;
            stats.connections_closed = (long)closed->number;
        }
        json_free(doc);
    }
    return stats;
}

/* ---- helpers ------------------------------------------------------------------------------- */

static aigw_cancel_token *new_token(void) {
    aigw_cancel_token *token = NULL;
    CHECK_STATUS(aigw_cancel_token_new(&token), AIGW_STATUS_OK, NULL);
    CHECK(token != NULL);
    return token;
}

/* A client on the mock with two attempts per request, so a retry after a cancel would show. */
static aigw_client *retrying_client(const test_args *args) {
    aigw_client *client = NULL;
    aigw_error *err = NULL;
    char *base = mock_base_url(args);
    char *profile = str_printf("{\"kind\": \"cloudflare\", \"base_url\": \"%s\", \"api_key\": "
                               "\"%s\", \"model\": \"%s\", \"retry_max_attempts\": 2, "
                               "\"retry_initial_backoff_ms\": 50}",
                               base, TEST_API_KEY, TEST_MODEL);
    CHECK_STATUS(aigw_client_new(profile, &client, &err), AIGW_STATUS_OK, err);
    aigw_error_free(err);
    free(profile);
    free(base);
    return client;
}

/* The attempts of an error as JSON (NULL when absent); free with json_free. */
static json_value *error_json(const aigw_error *err) {
    char *text = NULL;
    json_value *doc = NULL;
    if (aigw_error_json(err, &text) == AIGW_STATUS_OK) {
        doc = json_parse(text);
    }
    aigw_string_free(text);
    return doc;
}

/* ---- 1. a token cancelled beforehand: CANCELLED at once, nothing sent ---------------------- */

static void test_already_cancelled(const test_args *args) {
    aigw_cancel_token *token = new_token();
    aigw_error *err = NULL;
    char *response = NULL;
    char *request = user_request("never sent");
    mock_stats before;
    mock_stats after;
    double started;
    double elapsed;
    aigw_client *client = mock_client(args, "");

    /* No model in the profile or the request: without the early check the call would fetch
     * the model catalog before sending anything. */
    aigw_client *discovering = NULL;
    char *base = mock_base_url(args);
    char *profile = str_printf("{\"kind\": \"cloudflare\", \"base_url\": \"%s\", "
                               "\"api_key\": \"%s\"}",
                               base, TEST_API_KEY);
    CHECK_STATUS(aigw_client_new(profile, &discovering, &err), AIGW_STATUS_OK, err);

    CHECK_STATUS(aigw_cancel_token_cancel(token), AIGW_STATUS_OK, NULL);
    before = read_mock_stats(args);
    CHECK(before.ok);

    started = now_ms();
    CHECK_STATUS(aigw_client_chat_cancellable(client, request, NULL, token, &response, &err),
                 AIGW_STATUS_CANCELLED, err);
    elapsed = now_ms() - started;
    CHECK(response == NULL);
    CHECK(err != NULL);
    CHECK_STR(aigw_error_code(err), "CANCELLED");
    CHECK(aigw_error_status(err) == AIGW_STATUS_CANCELLED);
    CHECK_CONTAINS(aigw_error_message(err), "cancelled");
    CHECK(aigw_error_http_status(err) == 0);
    {
        json_value *doc = error_json(err);
        const json_value *attempts = json_path(doc, "attempts");
        CHECK(attempts != NULL && attempts->type == JSON_ARRAY && attempts->count == 0);
        json_free(doc);
    }
    aigw_error_free(err);
    err = NULL;
    /* "At once": no network wait at all; the bound only has to survive valgrind. */
    CHECK(elapsed < 1000.0);

    CHECK_STATUS(aigw_client_chat_cancellable(discovering, request, NULL, token, &response, &err),
                 AIGW_STATUS_CANCELLED, err);
    CHECK(response == NULL);
    aigw_error_free(err);
    err = NULL;

    /* The same with the error out-param NULL. */
    CHECK_STATUS(aigw_client_chat_cancellable(client, request, NULL, token, &response, NULL),
                 AIGW_STATUS_CANCELLED, NULL);
    CHECK(response == NULL);

    after = read_mock_stats(args);
    CHECK(after.ok);
    /* Not one chat or catalog request, and no connection but the stats one of `after`. */
    CHECK(after.requests == before.requests);
    CHECK(after.connections_opened == before.connections_opened + 1);

    /* A client whose URL is a closed port: a call that tried to connect would be CONNECTION. */
    {
        aigw_client *nowhere = NULL;
        char *closed = str_printf("{\"kind\": \"cloudflare\", \"base_url\": "
                                  "\"http://127.0.0.1:9/v1/%s/%s/openai/compat\", "
                                  "\"api_key\": \"%s\", \"model\": \"%s\"}",
                                  TEST_ACCOUNT, TEST_GATEWAY, TEST_API_KEY, TEST_MODEL);
        CHECK_STATUS(aigw_client_new(closed, &nowhere, &err), AIGW_STATUS_OK, err);
        CHECK_STATUS(aigw_client_chat_cancellable(nowhere, request, NULL, token, &response, &err),
                     AIGW_STATUS_CANCELLED, err);
        aigw_error_free(err);
        err = NULL;
        aigw_client_free(nowhere);
        free(closed);
    }

    aigw_client_free(discovering);
    aigw_client_free(client);
    aigw_cancel_token_free(token);
    free(profile);
    free(base);
    free(request);
}

/* ---- 2. a cancel from another thread while the mock holds the answer back ------------------ */

typedef struct {
    const test_args *args;
    const aigw_cancel_token *token;
    long requests_before;
    int saw_request;       /* the request reached the mock before the cancel */
    double cancelled_at;   /* now_ms() just before aigw_cancel_token_cancel */
    aigw_status status;    /* what aigw_cancel_token_cancel returned */
} canceller;

/* Waits until the mock has the request (so the call is surely waiting for its answer), then
 * cancels. Gives up waiting after 10 s (and cancels anyway, so the test cannot hang). */
static void *cancel_once_request_arrived(void *arg) {
    canceller *c = arg;
    double give_up = now_ms() + 10000.0;
    while (now_ms() < give_up) {
        mock_stats stats = read_mock_stats(c->args);
        if (stats.ok && stats.requests > c->requests_before) {
            c->saw_request = 1;
            break;
        }
        sleep_ms(20);
    }
    /* Let the call settle into waiting for the answer. */
    sleep_ms(100);
    c->cancelled_at = now_ms();
    c->status = aigw_cancel_token_cancel(c->token);
    return NULL;
}

static void test_cancel_from_another_thread(const test_args *args) {
    aigw_client *client = retrying_client(args);
    aigw_cancel_token *token = new_token();
    aigw_error *err = NULL;
    char *response = NULL;
    char *request = user_request("held back");
    char *delay = str_printf("delay_ms=%d", DELAY_MS);
    char *options = fault_options(delay, "");
    canceller c;
    pthread_t thread;
    mock_stats before;
    mock_stats after;
    aigw_status status;
    double started;
    double returned;

    before = read_mock_stats(args);
    CHECK(before.ok);
    memset(&c, 0, sizeof c);
    c.args = args;
    c.token = token;
    c.requests_before = before.requests;
    c.status = AIGW_STATUS_INTERNAL;
    CHECK(pthread_create(&thread, NULL, cancel_once_request_arrived, &c) == 0);

    started = now_ms();
    status = aigw_client_chat_cancellable(client, request, options, token, &response, &err);
    returned = now_ms();
    CHECK(pthread_join(thread, NULL) == 0);

    CHECK_STATUS(status, AIGW_STATUS_CANCELLED, err);
    CHECK(response == NULL);
    CHECK(c.saw_request);
    CHECK_STATUS(c.status, AIGW_STATUS_OK, NULL);
    /* Back soon after the cancel, and long before the mock would have answered. */
    CHECK(returned >= c.cancelled_at);
    CHECK(returned - c.cancelled_at < AFTER_CANCEL_BOUND_MS);
    CHECK(returned - started < (double)DELAY_MS);
    if (returned - c.cancelled_at >= AFTER_CANCEL_BOUND_MS || returned - started >= DELAY_MS) {
        fprintf(stderr, "cancelled call returned %.0f ms after the cancel, %.0f ms after start\n",
                returned - c.cancelled_at, returned - started);
    }
    CHECK_STR(aigw_error_code(err), "CANCELLED");
    {
        /* One attempt, the cancelled one: no retry although the profile allows two. */
        json_value *doc = error_json(err);
        const json_value *attempts = json_path(doc, "attempts");
        CHECK(attempts != NULL && attempts->type == JSON_ARRAY && attempts->count == 1);
        CHECK_STR(json_path_str(doc, "attempts.0.error"), "CANCELLED");
        CHECK_STR(json_path_str(doc, "attempts.0.model"), TEST_MODEL);
        json_free(doc);
    }
    aigw_error_free(err);
    err = NULL;

    /* Give a retry (backoff 50 ms) time to show, then count: one request reached the mock. */
    sleep_ms(300);
    after = read_mock_stats(args);
    CHECK(after.ok);
    CHECK(after.requests == before.requests + 1);

    /* The token stays cancelled: reusing it ends the next call at once, without a request. */
    CHECK_STATUS(aigw_client_chat_cancellable(client, request, NULL, token, &response, &err),
                 AIGW_STATUS_CANCELLED, err);
    aigw_error_free(err);
    err = NULL;
    CHECK(read_mock_stats(args).requests == after.requests);

    aigw_cancel_token_free(token);
    aigw_client_free(client);
    free(options);
    free(delay);
    free(request);
}

/* ---- 3. arguments, double cancel, free ----------------------------------------------------- */

static void test_arguments(const test_args *args) {
    aigw_client *client = mock_client(args, "");
    aigw_cancel_token *token = new_token();
    aigw_error *err = NULL;
    char *response = NULL;
    char *request = user_request("arguments");
    mock_stats before = read_mock_stats(args);

    /* A NULL token is a bad argument (never an uncancellable call), error or no error out-param. */
    CHECK_STATUS(aigw_client_chat_cancellable(client, request, NULL, NULL, &response, &err),
                 AIGW_STATUS_INVALID_ARGUMENT, err);
    CHECK(response == NULL);
    CHECK_STR(aigw_error_code(err), "INVALID_ARGUMENT");
    CHECK_CONTAINS(aigw_error_message(err), "token");
    aigw_error_free(err);
    err = NULL;
    CHECK_STATUS(aigw_client_chat_cancellable(client, request, NULL, NULL, &response, NULL),
                 AIGW_STATUS_INVALID_ARGUMENT, NULL);

    /* The other arguments are checked as for aigw_client_chat, also with a cancelled token:
     * a programming error is reported before the cancel. */
    CHECK_STATUS(aigw_client_chat_cancellable(NULL, request, NULL, token, &response, &err),
                 AIGW_STATUS_INVALID_ARGUMENT, err);
    aigw_error_free(err);
    err = NULL;
    CHECK_STATUS(aigw_client_chat_cancellable(client, NULL, NULL, token, &response, &err),
                 AIGW_STATUS_INVALID_ARGUMENT, err);
    aigw_error_free(err);
    err = NULL;
    CHECK_STATUS(aigw_client_chat_cancellable(client, request, NULL, token, NULL, &err),
                 AIGW_STATUS_INVALID_ARGUMENT, err);
    aigw_error_free(err);
    err = NULL;
    CHECK_STATUS(aigw_cancel_token_cancel(token), AIGW_STATUS_OK, NULL);
    CHECK_STATUS(aigw_client_chat_cancellable(client, "{not json", NULL, token, &response, &err),
                 AIGW_STATUS_INVALID_ARGUMENT, err);
    aigw_error_free(err);
    err = NULL;
    CHECK_STATUS(aigw_client_chat_cancellable(client, request, "{nope", token, &response, &err),
                 AIGW_STATUS_INVALID_ARGUMENT, err);
    aigw_error_free(err);
    err = NULL;

    /* Cancelling twice is fine; the token stays cancelled. */
    CHECK_STATUS(aigw_cancel_token_cancel(token), AIGW_STATUS_OK, NULL);
    CHECK_STATUS(aigw_cancel_token_cancel(token), AIGW_STATUS_OK, NULL);
    CHECK_STATUS(aigw_client_chat_cancellable(client, request, NULL, token, &response, &err),
                 AIGW_STATUS_CANCELLED, err);
    aigw_error_free(err);
    err = NULL;
    CHECK(read_mock_stats(args).requests == before.requests);

    /* NULL: cancel reports it, free ignores it, new refuses a NULL out-param. */
    CHECK_STATUS(aigw_cancel_token_cancel(NULL), AIGW_STATUS_INVALID_ARGUMENT, NULL);
    aigw_cancel_token_free(NULL);
    CHECK_STATUS(aigw_cancel_token_new(NULL), AIGW_STATUS_INVALID_ARGUMENT, NULL);

    /* Tokens are independent: cancelling one leaves another usable. */
    {
        aigw_cancel_token *other = new_token();
        CHECK_STATUS(aigw_client_chat_cancellable(client, request, NULL, other, &response, &err),
                     AIGW_STATUS_OK, err);
        aigw_string_free(response);
        response = NULL;
        aigw_cancel_token_free(other);
    }

    aigw_cancel_token_free(token);
    aigw_client_free(client);
    free(request);
}

/* ---- freeing the token while a call runs --------------------------------------------------- */

typedef struct {
    const aigw_client *client;
    const aigw_cancel_token *token;
    const char *request;
    const char *options;
    aigw_status status;
    double returned_at;
} chatter;

static void *chat_in_thread(void *arg) {
    chatter *c = arg;
    char *response = NULL;
    c->status = aigw_client_chat_cancellable(c->client, c->request, c->options, c->token,
                                             &response, NULL);
    c->returned_at = now_ms();
    aigw_string_free(response);
    return NULL;
}

static void test_free_during_call(const test_args *args) {
    aigw_client *client = retrying_client(args);
    aigw_cancel_token *token = new_token();
    char *request = user_request("token freed meanwhile");
    char *delay = str_printf("delay_ms=%d", DELAY_MS);
    char *options = fault_options(delay, "");
    mock_stats before = read_mock_stats(args);
    chatter c;
    pthread_t thread;
    double give_up;
    double cancelled_at;
    int arrived = 0;

    memset(&c, 0, sizeof c);
    c.client = client;
    c.token = token;
    c.request = request;
    c.options = options;
    c.status = AIGW_STATUS_INTERNAL;
    CHECK(pthread_create(&thread, NULL, chat_in_thread, &c) == 0);
    /* Once the request reached the mock, the call has its own reference: cancel, then free. */
    give_up = now_ms() + 10000.0;
    while (!arrived && now_ms() < give_up) {
        mock_stats stats = read_mock_stats(args);
        arrived = stats.ok && stats.requests > before.requests;
        if (!arrived) {
            sleep_ms(20);
        }
    }
    CHECK(arrived);
    cancelled_at = now_ms();
    CHECK_STATUS(aigw_cancel_token_cancel(token), AIGW_STATUS_OK, NULL);
    aigw_cancel_token_free(token);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK_STATUS(c.status, AIGW_STATUS_CANCELLED, NULL);
    CHECK(c.returned_at - cancelled_at < AFTER_CANCEL_BOUND_MS);

    aigw_client_free(client);
    free(options);
    free(delay);
    free(request);
}

/* ---- 4. an uncancelled token: a normal chat ------------------------------------------------ */

static void test_uncancelled_chat(const test_args *args) {
    aigw_client *client = mock_client(args, "");
    aigw_cancel_token *token = new_token();
    aigw_error *err = NULL;
    char *response = NULL;
    char *request = user_request("hello cancellable");
    char *options = fault_options("delay_ms=200", ", \"timeout_ms\": 60000");
    int round;

    /* Twice, the second time slowed down so the call waits in cancellable slices first. */
    for (round = 0; round < 2; round++) {
        json_value *doc;
        CHECK_STATUS(aigw_client_chat_cancellable(client, request, round == 0 ? NULL : options,
                                                  token, &response, &err),
                     AIGW_STATUS_OK, err);
        CHECK(err == NULL);
        doc = json_parse(response);
        CHECK(doc != NULL);
        CHECK_STR(json_path_str(doc, "choices.0.message.content"), "echo: hello cancellable");
        CHECK_STR(json_path_str(doc, "aigw.model"), TEST_MODEL);
        {
            const json_value *status = json_path(doc, "aigw.status");
            CHECK(status != NULL && status->type == JSON_NUMBER && status->number == 200);
        }
        json_free(doc);
        aigw_string_free(response);
        response = NULL;
        aigw_error_free(err);
        err = NULL;
    }

    /* The same token then cancels a later call: it was never spent by the successful ones. */
    CHECK_STATUS(aigw_cancel_token_cancel(token), AIGW_STATUS_OK, NULL);
    CHECK_STATUS(aigw_client_chat_cancellable(client, request, NULL, token, &response, &err),
                 AIGW_STATUS_CANCELLED, err);
    aigw_error_free(err);

    aigw_cancel_token_free(token);
    aigw_client_free(client);
    free(options);
    free(request);
}

/* ---- 5. streams of the translated kinds, cancelled mid-way --------------------------------- */

/* Eight one-character deltas of "echo: hi"; the mock stalls after its fourth event (Anthropic:
 * message_start, content_block_start, ping, "e"; Bedrock: messageStart, "e", "c", "h"). */
#define STALLED_STREAM "chunks=8;stall_after=4;stall_ms=3000"
#define FULL_TEXT "echo: hi"

/* Polls the mock until no connection is open but the one asking (10 s at most); returns the
 * last stats read. */
static mock_stats wait_until_no_client_connection(const test_args *args) {
    double give_up = now_ms() + 10000.0;
    mock_stats stats = read_mock_stats(args);
    while (!(stats.ok && stats.connections_opened - stats.connections_closed == 1) &&
           now_ms() < give_up) {
        sleep_ms(20);
        stats = read_mock_stats(args);
    }
    return stats;
}

typedef struct {
    const aigw_stream *stream;
    aigw_status status;
} stream_canceller;

static void *cancel_stream_soon(void *arg) {
    stream_canceller *c = arg;
    sleep_ms(200);
    c->status = aigw_stream_cancel(c->stream);
    return NULL;
}

/* Appends the chunk's delta text to `text` (capacity `cap`). */
static void append_delta(char *text, size_t cap, const char *chunk) {
    json_value *doc = json_parse(chunk);
    const char *delta = json_path_str(doc, "choices.0.delta.content");
    CHECK(doc != NULL);
    if (delta != NULL && strlen(text) + strlen(delta) < cap) {
        strcat(text, delta);
    }
    json_free(doc);
}

static void test_cancel_translated_stream(const test_args *args, const char *kind,
                                          const char *extra) {
    char *profile = str_printf("{\"kind\": \"%s\", \"base_url\": \"http://127.0.0.1:%d\", "
                               "\"api_key\": \"%s\", \"retry_max_attempts\": 3, "
                               "\"retry_initial_backoff_ms\": 50%s}",
                               kind, args->port, TEST_API_KEY, extra);
    char *request = user_request("hi");
    char *options = fault_options(STALLED_STREAM, "");
    aigw_client *client = NULL;
    aigw_stream *stream = NULL;
    aigw_error *err = NULL;
    char text[64] = "";
    stream_canceller c;
    pthread_t thread;
    mock_stats before;
    mock_stats after;
    aigw_status status = AIGW_STATUS_INTERNAL;
    int reads;

    CHECK_STATUS(aigw_client_new(profile, &client, &err), AIGW_STATUS_OK, err);
    aigw_error_free(err);
    err = NULL;
    /* Earlier calls' connections are gone, so the count below is this stream's alone. */
    before = wait_until_no_client_connection(args);
    CHECK(before.ok && before.connections_opened - before.connections_closed == 1);

    CHECK_STATUS(aigw_client_chat_stream(client, request, options, &stream, &err), AIGW_STATUS_OK,
                 err);
    if (stream == NULL) {
        fprintf(stderr, "%s: the stream did not open\n", kind);
    }
    /* Read up to the first text, which comes before the stall. */
    for (reads = 0; stream != NULL && text[0] == '\0' && reads < 8; reads++) {
        const char *chunk = NULL;
        size_t len = 0;
        status = aigw_stream_next(stream, &chunk, &len, &err);
        CHECK_STATUS(status, AIGW_STATUS_OK, err);
        if (status != AIGW_STATUS_OK) {
            break;
        }
        append_delta(text, sizeof text, chunk);
    }
    CHECK(text[0] != '\0');

    if (stream != NULL && status == AIGW_STATUS_OK) {
        /* Another thread cancels while this one waits in the stall. */
        c.stream = stream;
        c.status = AIGW_STATUS_INTERNAL;
        CHECK(pthread_create(&thread, NULL, cancel_stream_soon, &c) == 0);
        for (reads = 0; reads < 16; reads++) {
            const char *chunk = NULL;
            size_t len = 0;
            status = aigw_stream_next(stream, &chunk, &len, &err);
            if (status != AIGW_STATUS_OK) {
                break;
            }
            append_delta(text, sizeof text, chunk);
        }
        CHECK(pthread_join(thread, NULL) == 0);
        CHECK_STATUS(c.status, AIGW_STATUS_OK, NULL);
        CHECK_STATUS(status, AIGW_STATUS_CANCELLED, err);
        CHECK_STR(aigw_error_code(err), "CANCELLED");
    }
    /* Only the text sent before the stall arrived. */
    CHECK(strlen(text) < strlen(FULL_TEXT) && strncmp(FULL_TEXT, text, strlen(text)) == 0);
    if (strlen(text) >= strlen(FULL_TEXT)) {
        fprintf(stderr, "%s: the cancelled stream read \"%s\"\n", kind, text);
    }
    aigw_error_free(err);
    err = NULL;

    /* The mock sees the connection close (when it writes again, after its stall) and received
     * this one request: nothing was retried although the profile allows three attempts. */
    after = wait_until_no_client_connection(args);
    CHECK(after.ok && after.connections_opened - after.connections_closed == 1);
    CHECK(after.connections_closed > before.connections_closed);
    CHECK(after.requests == before.requests + 1);
    if (after.requests != before.requests + 1) {
        fprintf(stderr, "%s: %ld requests reached the mock\n", kind,
                after.requests - before.requests);
    }

    aigw_stream_free(stream);
    aigw_client_free(client);
    free(options);
    free(request);
    free(profile);
}

int main(int argc, char **argv) {
    test_args args = parse_args(argc, argv);
    test_already_cancelled(&args);
    test_arguments(&args);
    test_uncancelled_chat(&args);
    test_cancel_from_another_thread(&args);
    test_free_during_call(&args);
    test_cancel_translated_stream(&args, "anthropic", ", \"model\": \"claude-sonnet-4-5\"");
    {
        char *bedrock = str_printf(", \"model\": \"anthropic.claude-3-haiku-20240307-v1:0\", "
                                   "\"models_endpoint\": \"http://127.0.0.1:%d/foundation-models\"",
                                   args.port);
        test_cancel_translated_stream(&args, "bedrock", bedrock);
        free(bedrock);
    }
    return finish("test_cancel");
}
