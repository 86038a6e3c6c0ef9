/*
 * Shared helpers of the C test programs: check macros, the command line every program takes
 * (`PROGRAM PORT VECTORS_DIR ITERATIONS`), profiles pointing at the mock gateway, and a small
 * JSON reader so answers and test vectors can be checked field by field.
 */
#ifndef AIGW_TEST_SUPPORT_H
#define AIGW_TEST_SUPPORT_H

#include <stddef.h>

#include "aigw.h"

/* The API key the mock gateway accepts in every C test run. */
#define TEST_API_KEY "test-key"
#define TEST_ACCOUNT "0123456789abcdef0123456789abcdef"
#define TEST_GATEWAY "c-tests"
#define TEST_MODEL "openai/gpt-4o-mini"

/* ---- checks -------------------------------------------------------------------------------- */

void check_at(int ok, const char *what, const char *file, int line);
void check_status_at(aigw_status got, aigw_status want, aigw_error *err, const char *what,
                     const char *file, int line);
void check_str_at(const char *got, const char *want, const char *what, const char *file,
                  int line);

#define CHECK(cond) check_at((cond) != 0, #cond, __FILE__, __LINE__)
/* Checks a status; on mismatch prints the error's code and message (err may be NULL). */
#define CHECK_STATUS(got, want, err) check_status_at((got), (want), (err), #got, __FILE__, __LINE__)
#define CHECK_STR(got, want) check_str_at((got), (want), #got, __FILE__, __LINE__)
#define CHECK_CONTAINS(hay, needle) \
    check_at((hay) != NULL && strstr((hay), (needle)) != NULL, #hay " contains " #needle, \
             __FILE__, __LINE__)

/* Prints "NAME: N passed, N failed" and returns the process exit code. */
int finish(const char *name);

/* ---- command line and mock gateway -------------------------------------------------------- */

typedef struct {
    int port;                /* the mock gateway on 127.0.0.1 */
    const char *vectors_dir; /* tests/vectors */
    int iterations;          /* scale for loops (smaller under valgrind) */
} test_args;

/* Parses `PROGRAM PORT VECTORS_DIR ITERATIONS`; exits with 2 on a bad command line. */
test_args parse_args(int argc, char **argv);

/* "http://127.0.0.1:PORT/v1/ACCOUNT/GATEWAY/openai/compat" (malloc'd). */
char *mock_base_url(const test_args *args);

/*
 * A Cloudflare profile for the mock: base_url, api_key, model, one retry attempt; `extra` is
 * appended inside the object (e.g. "\"model\": null" is not allowed, but ", \"headers\": {...}"
 * is; pass "" for none). Returns malloc'd JSON.
 */
char *mock_profile(const test_args *args, const char *extra);

/* aigw_client_new on mock_profile(args, extra); aborts the program when it fails. */
aigw_client *mock_client(const test_args *args, const char *extra);

/* A chat request with one user message (malloc'd JSON; the message must not need escaping). */
char *user_request(const char *message);

/* `{"headers": {"x-mock-fault": SPEC}}` plus `more` (e.g. ", \"timeout_ms\": 300"). */
char *fault_options(const char *spec, const char *more);

/*
 * One call to the mock's control routes (`METHOD /__mock/ROUTE`: GET requests, GET stats, POST
 * reset) on a connection of its own, closed after the answer. Returns the body of a 200 answer
 * (malloc'd JSON text), or NULL when the mock could not be asked or did not answer 200.
 */
char *mock_control(const test_args *args, const char *method, const char *route);

/* ---- small utilities ----------------------------------------------------------------------- */

char *str_printf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
char *read_file(const char *path); /* NULL when unreadable */

/* ---- JSON reader ----------------------------------------------------------------------------- */

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value {
    json_type type;
    int boolean;
    double number;
    char *string; /* decoded UTF-8 (JSON_STRING) */
    size_t string_len;
    struct json_value *items; /* array elements or object values */
    char **keys;              /* object keys (decoded) */
    size_t count;
    const char *raw; /* the value's text in the source, valid while the source is */
    size_t raw_len;
} json_value;

/* Parses a whole document; NULL on a syntax error. Free with json_free. */
json_value *json_parse(const char *text);
void json_free(json_value *value);
/* Object member by key, or NULL. */
const json_value *json_get(const json_value *object, const char *key);
/* Path of keys and indexes separated by '.', e.g. "choices.0.message.content"; NULL if absent. */
const json_value *json_path(const json_value *value, const char *path);
/* The string at `path`, or NULL when absent or not a string. */
const char *json_path_str(const json_value *value, const char *path);
/* Deep equality (numbers compared as doubles). */
int json_equal(const json_value *a, const json_value *b);
/* The value's source text as a malloc'd NUL-terminated string. */
char *json_raw(const json_value *value);

#endif /* AIGW_TEST_SUPPORT_H */
