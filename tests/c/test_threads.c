/*
 * One `const aigw_client *` shared by 8 threads, each sending ITERATIONS chat requests (plus a
 * describe and a list-models now and then, and one stream at the end) and checking that every
 * answer is its own.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define THREADS 8

typedef struct {
    const aigw_client *client;
    int index;
    int iterations;
    int ok;     /* answers that were right */
    int failed; /* anything else */
    char first_failure[512];
} worker;

static void fail(worker *w, const char *what, aigw_error *err) {
    if (w->failed++ == 0) {
        snprintf(w->first_failure, sizeof w->first_failure, "%s: %s %s", what,
                 err ? aigw_error_code(err) : "", err ? aigw_error_message(err) : "");
    }
    aigw_error_free(err);
}

static void chat_once(worker *w, int i) {
    aigw_error *err = NULL;
    char *response = NULL;
    char *message = str_printf("thread %d request %d", w->index, i);
    char *request = user_request(message);
    char *expected = str_printf("echo: %s", message);
    if (aigw_client_chat(w->client, request, NULL, &response, &err) != AIGW_STATUS_OK) {
        fail(w, "chat", err);
    } else {
        json_value *doc = json_parse(response);
        const char *content = json_path_str(doc, "choices.0.message.content");
        if (content != NULL && strcmp(content, expected) == 0) {
            w->ok++;
        } else {
            fail(w, "chat answered someone else's request", NULL);
        }
        json_free(doc);
        aigw_string_free(response);
    }
    free(expected);
    free(request);
    free(message);
}

static void operator_calls(worker *w) {
    aigw_error *err = NULL;
    char *json = NULL;
    if (aigw_client_describe(w->client, &json, &err) != AIGW_STATUS_OK) {
        fail(w, "describe", err);
    }
    aigw_string_free(json);
    json = NULL;
    if (aigw_client_list_models(w->client, &json, &err) != AIGW_STATUS_OK) {
        fail(w, "list_models", err);
    }
    aigw_string_free(json);
}

static void stream_once(worker *w) {
    aigw_stream *stream = NULL;
    aigw_error *err = NULL;
    char *message = str_printf("stream of thread %d", w->index);
    char *request = user_request(message);
    char *expected = str_printf("echo: %s", message);
    char text[256] = "";
    int guard;
    aigw_status status = AIGW_STATUS_OK;
    if (aigw_client_chat_stream(w->client, request, NULL, &stream, &err) != AIGW_STATUS_OK) {
        fail(w, "chat_stream", err);
    } else {
        for (guard = 0; guard < 1000; guard++) {
            const char *chunk = NULL;
            size_t len = 0;
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
        if (status == AIGW_STATUS_DONE && strcmp(text, expected) == 0) {
            w->ok++;
        } else {
            fail(w, "stream", err);
        }
        aigw_stream_free(stream);
    }
    free(expected);
    free(request);
    free(message);
}

static void *run_worker(void *arg) {
    worker *w = arg;
    int i;
    for (i = 0; i < w->iterations; i++) {
        chat_once(w, i);
        if (i % 50 == 0) {
            operator_calls(w);
        }
    }
    stream_once(w);
    return NULL;
}

int main(int argc, char **argv) {
    test_args args = parse_args(argc, argv);
    aigw_client *client = mock_client(&args, "");
    pthread_t threads[THREADS];
    worker workers[THREADS];
    int i;
    int started = 0;
    memset(workers, 0, sizeof workers);
    for (i = 0; i < THREADS; i++) {
        workers[i].client = client;
        workers[i].index = i;
        workers[i].iterations = args.iterations;
        if (pthread_create(&threads[i], NULL, run_worker, &workers[i]) != 0) {
            break;
        }
        started++;
    }
    CHECK(started == THREADS);
    for (i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
    }
    for (i = 0; i < started; i++) {
        if (workers[i].failed != 0) {
            fprintf(stderr, "thread %d: %d failures, first: %s\n", i, workers[i].failed,
                    workers[i].first_failure);
        }
        CHECK(workers[i].failed == 0);
        CHECK(workers[i].ok == args.iterations + 1);
    }
    printf("%d threads x %d requests on one client\n", THREADS, args.iterations);
    aigw_client_free(client);
    return finish("test_threads");
}
