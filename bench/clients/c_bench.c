/* aigw from C: the same workload as bench/src/lib.rs, reported as one JSON line. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "aigw.h"

static const char *REQ = "{\"messages\":[{\"role\":\"user\",\"content\":\"bench\"}]}";
static char stream_opts[128];

static double cpu_us(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 + (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec);
}

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void chat(const aigw_client *c) {
    char *resp = NULL;
    if (aigw_client_chat(c, REQ, NULL, &resp, NULL) != AIGW_STATUS_OK) {
        fprintf(stderr, "chat failed\n");
        exit(1);
    }
    aigw_string_free(resp);
}

/* Time from the stream call to its first chunk, µs (one sample per stream). */
static double *ttfc;
static size_t ttfc_n;

static size_t stream(const aigw_client *c) {
    double t0 = now_us();
    aigw_stream *s = NULL;
    if (aigw_client_chat_stream(c, REQ, stream_opts, &s, NULL) != AIGW_STATUS_OK) {
        fprintf(stderr, "stream failed\n");
        exit(1);
    }
    size_t n = 0;
    const char *chunk = NULL;
    size_t len = 0;
    aigw_status st;
    while ((st = aigw_stream_next(s, &chunk, &len, NULL)) == AIGW_STATUS_OK) {
        if (n == 0) ttfc[ttfc_n++] = now_us() - t0;
        n++;
    }
    if (st != AIGW_STATUS_DONE) {
        fprintf(stderr, "stream ended with %s\n", aigw_status_str(st));
        exit(1);
    }
    aigw_stream_free(s);
    return n;
}

struct job { const aigw_client *c; int n; };

static void *worker(void *arg) {
    struct job *j = arg;
    for (int i = 0; i < j->n; i++) chat(j->c);
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--noop") == 0) return 0; /* cold start: load libaigw only */
    int port = argc > 1 ? atoi(argv[1]) : 0;
    int k = argc > 2 ? atoi(argv[2]) : 2000, s = argc > 3 ? atoi(argv[3]) : 200;
    int n = argc > 4 ? atoi(argv[4]) : 64, t = argc > 5 ? atoi(argv[5]) : 8;
    char profile[512];
    snprintf(profile, sizeof profile,
             "{\"kind\":\"cloudflare\",\"base_url\":\"http://127.0.0.1:%d/v1/0123456789abcdef0123456789abcdef/bench/openai/compat\","
             "\"model\":\"openai/gpt-4o-mini\",\"api_key\":\"bench-key\"}", port);
    snprintf(stream_opts, sizeof stream_opts, "{\"headers\":{\"x-mock-fault\":\"chunks=%d;content_len=%d\"}}", n, n * 4);
    aigw_client *c = NULL;
    if (aigw_client_new(profile, &c, NULL) != AIGW_STATUS_OK) return 1;
    for (int i = 0; i < 100; i++) chat(c);
    double *lat = malloc(sizeof(double) * (size_t)k);
    double c0 = cpu_us();
    for (int i = 0; i < k; i++) {
        double t0 = now_us();
        chat(c);
        lat[i] = now_us() - t0;
    }
    double cpu_req = (cpu_us() - c0) / k;
    ttfc = malloc(sizeof(double) * (size_t)(s > 0 ? s : 1));
    double c1 = cpu_us();
    size_t events = 0;
    for (int i = 0; i < s; i++) events += stream(c);
    double cpu_event = (cpu_us() - c1) / (double)(events ? events : 1);
    int per = k / t > 0 ? k / t : 1;
    pthread_t th[64];
    struct job job = { c, per };
    double w0 = now_us();
    for (int i = 0; i < t && i < 64; i++) pthread_create(&th[i], NULL, worker, &job);
    for (int i = 0; i < t && i < 64; i++) pthread_join(th[i], NULL);
    double rps = (double)per * t / ((now_us() - w0) / 1e6);
    qsort(lat, (size_t)k, sizeof(double), cmp);
    qsort(ttfc, ttfc_n, sizeof(double), cmp);
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    printf("{\"client\":\"aigw (C)\",\"latency_us_median\":%.1f,\"ttfc_us_median\":%.1f,\"cpu_us_per_req\":%.2f,\"cpu_us_per_event\":%.3f,"
           "\"events\":%zu,\"concurrent_rps\":%.0f,\"peak_rss_kib\":%ld}\n",
           lat[k / 2], ttfc_n ? ttfc[ttfc_n / 2] : 0.0, cpu_req, cpu_event, events, rps, r.ru_maxrss);
    free(lat);
    free(ttfc);
    aigw_client_free(c);
    return 0;
}
