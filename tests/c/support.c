/* Shared helpers of the C test programs; see support.h. */
#define _POSIX_C_SOURCE 200809L

#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- checks -------------------------------------------------------------------------------- */

static int checks_passed;
static int checks_failed;

void check_at(int ok, const char *what, const char *file, int line) {
    if (ok) {
        checks_passed++;
        return;
    }
    checks_failed++;
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
}

void check_status_at(aigw_status got, aigw_status want, aigw_error *err, const char *what,
                     const char *file, int line) {
    if (got == want) {
        checks_passed++;
        return;
    }
    checks_failed++;
    fprintf(stderr, "%s:%d: %s returned %s, expected %s", file, line, what,
            aigw_status_str(got), aigw_status_str(want));
    if (err != NULL) {
        fprintf(stderr, " (error %s: %s)", aigw_error_code(err), aigw_error_message(err));
    }
    fputc('\n', stderr);
}

void check_str_at(const char *got, const char *want, const char *what, const char *file,
                  int line) {
    if (got != NULL && want != NULL && strcmp(got, want) == 0) {
        checks_passed++;
        return;
    }
    checks_failed++;
    fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", file, line, what,
            got ? got : "(NULL)", want ? want : "(NULL)");
}

int finish(const char *name) {
    printf("%s: %d passed, %d failed\n", name, checks_passed, checks_failed);
    fflush(stdout);
    return checks_failed == 0 && checks_passed > 0 ? 0 : 1;
}

/* ---- command line and mock gateway -------------------------------------------------------- */

test_args parse_args(int argc, char **argv) {
    test_args args;
    char *end = NULL;
    long port;
    long iterations;
    if (argc != 4) {
        fprintf(stderr, "usage: %s PORT VECTORS_DIR ITERATIONS\n", argc > 0 ? argv[0] : "test");
        exit(2);
    }
    errno = 0;
    port = strtol(argv[1], &end, 10);
    if (errno != 0 || *end != '\0' || port <= 0 || port > 65535) {
        fprintf(stderr, "bad port: %s\n", argv[1]);
        exit(2);
    }
    iterations = strtol(argv[3], &end, 10);
    if (*end != '\0' || iterations <= 0 || iterations > 100000) {
        fprintf(stderr, "bad iteration count: %s\n", argv[3]);
        exit(2);
    }
    args.port = (int)port;
    args.vectors_dir = argv[2];
    args.iterations = (int)iterations;
    return args;
}

char *mock_base_url(const test_args *args) {
    return str_printf("http://127.0.0.1:%d/v1/%s/%s/openai/compat", args->port, TEST_ACCOUNT,
                      TEST_GATEWAY);
}

char *mock_profile(const test_args *args, const char *extra) {
    char *base = mock_base_url(args);
    char *profile = str_printf("{\"kind\": \"cloudflare\", \"base_url\": \"%s\", \"api_key\": \"%s\", "
                               "\"model\": \"%s\", \"retry_max_attempts\": 1%s}",
                               base, TEST_API_KEY, TEST_MODEL, extra);
    free(base);
    return profile;
}

aigw_client *mock_client(const test_args *args, const char *extra) {
    aigw_client *client = NULL;
    aigw_error *err = NULL;
    char *profile = mock_profile(args, extra);
    aigw_status status = aigw_client_new(profile, &client, &err);
    if (status != AIGW_STATUS_OK) {
        fprintf(stderr, "cannot build a client from %s: %s\n", profile, aigw_error_message(err));
        exit(1);
    }
    free(profile);
    return client;
}

char *user_request(const char *message) {
    return str_printf("{\"messages\": [{\"role\": \"user\", \"content\": \"%s\"}]}", message);
}

char *fault_options(const char *spec, const char *more) {
    return str_printf("{\"headers\": {\"x-mock-fault\": \"%s\"}%s}", spec, more);
}

/* Grows `*buf` (of `*cap` bytes, `len` used) so that at least 4 KiB are free; 0 when out of
 * memory (`*buf` and `*cap` unchanged). */
static int room_for(char **buf, size_t *cap, size_t len) {
    char *bigger;
    size_t grown;
    if (*cap - len >= 4096) {
        return 1;
    }
    grown = *cap * 2 + 4096;
    bigger = realloc(*buf, grown);
    if (bigger == NULL) {
        return 0;
    }
    *buf = bigger;
    *cap = grown;
    return 1;
}

char *mock_control(const test_args *args, const char *method, const char *route) {
    struct sockaddr_in addr;
    char *request = str_printf("%s /__mock/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "Content-Length: 0\r\nConnection: close\r\n\r\n",
                               method, route);
    size_t request_len = strlen(request);
    char *answer = NULL;
    size_t len = 0;
    size_t cap = 0;
    char *body = NULL;
    int ok = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0) {
        memset(&addr, 0, sizeof addr);
        addr.sin_family = AF_INET;
        addr.sin_port = htons((unsigned short)args->port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
             write(fd, request, request_len) == (ssize_t)request_len;
    }
    /* The mock closes the connection after its answer (Connection: close): read to the end. */
    while (ok) {
        ssize_t n;
        if (!room_for(&answer, &cap, len)) {
            abort();
        }
        n = read(fd, answer + len, cap - len - 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    if (fd >= 0) {
        close(fd);
    }
    if (answer != NULL) {
        const char *start;
        answer[len] = '\0';
        start = strstr(answer, "\r\n\r\n");
        if (strncmp(answer, "HTTP/1.1 200", 12) == 0 && start != NULL) {
            body = str_printf("%s", start + 4);
        }
    }
    free(answer);
    free(request);
    return body;
}

/* ---- small utilities ----------------------------------------------------------------------- */

char *str_printf(const char *fmt, ...) {
    va_list ap;
    int needed;
    char *out;
    va_start(ap, fmt);
    needed = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (needed < 0) {
        abort();
    }
    out = malloc((size_t)needed + 1);
    if (out == NULL) {
        abort();
    }
    va_start(ap, fmt);
    vsnprintf(out, (size_t)needed + 1, fmt, ap);
    va_end(ap);
    return out;
}

char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0;
    size_t cap = 0;
    if (f == NULL) {
        return NULL;
    }
    for (;;) {
        size_t n;
        if (!room_for(&text, &cap, len)) {
            free(text);
            fclose(f);
            return NULL;
        }
        n = fread(text + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    fclose(f);
    text[len] = '\0';
    return text;
}

/* ---- JSON reader ----------------------------------------------------------------------------- */

typedef struct {
    const char *p;
    int depth;
} json_parser;

static void json_clear(json_value *v) {
    size_t i;
    free(v->string);
    for (i = 0; i < v->count; i++) {
        json_clear(&v->items[i]);
        if (v->keys != NULL) {
            free(v->keys[i]);
        }
    }
    free(v->items);
    free(v->keys);
}

void json_free(json_value *value) {
    if (value != NULL) {
        json_clear(value);
        free(value);
    }
}

static void skip_ws(json_parser *ps) {
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') {
        ps->p++;
    }
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (unsigned)(c - 'A' + 10);
        } else {
            return 0;
        }
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *out, unsigned cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses a string at ps->p (on the opening quote) into a malloc'd buffer. */
static char *parse_string(json_parser *ps, size_t *len_out) {
    const char *start = ps->p + 1;
    const char *q = start;
    char *out;
    size_t len = 0;
    /* The decoded text is never longer than the source text. */
    while (*q != '"') {
        if (*q == '\0' || (unsigned char)*q < 0x20) {
            return NULL;
        }
        q += (*q == '\\' && q[1] != '\0') ? 2 : 1;
    }
    out = malloc((size_t)(q - start) + 1);
    if (out == NULL) {
        return NULL;
    }
    for (q = start; *q != '"'; q++) {
        unsigned cp;
        if (*q != '\\') {
            out[len++] = *q;
            continue;
        }
        q++;
        switch (*q) {
        case '"': out[len++] = '"'; break;
        case '\\': out[len++] = '\\'; break;
        case '/': out[len++] = '/'; break;
        case 'b': out[len++] = '\b'; break;
        case 'f': out[len++] = '\f'; break;
        case 'n': out[len++] = '\n'; break;
        case 'r': out[len++] = '\r'; break;
        case 't': out[len++] = '\t'; break;
        case 'u':
            if (!hex4(q + 1, &cp)) {
                free(out);
                return NULL;
            }
            q += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && q[1] == '\\' && q[2] == 'u') {
                unsigned low;
                if (hex4(q + 3, &low) && low >= 0xDC00 && low <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    q += 6;
                }
            }
            len += put_utf8(out + len, cp);
            break;
        default:
            free(out);
            return NULL;
        }
    }
    out[len] = '\0';
    ps->p = q + 1;
    *len_out = len;
    return out;
}

static int parse_value(json_parser *ps, json_value *v);

static int push_item(json_value *v, size_t *cap, json_parser *ps, char *key) {
    json_value item;
    if (v->count == *cap) {
        size_t new_cap = *cap * 2 + 4;
        json_value *items = realloc(v->items, new_cap * sizeof *items);
        if (items == NULL) {
            return 0;
        }
        v->items = items;
        if (v->type == JSON_OBJECT) {
            char **keys = realloc(v->keys, new_cap * sizeof *keys);
            if (keys == NULL) {
                return 0;
            }
            v->keys = keys;
        }
        *cap = new_cap;
    }
    memset(&item, 0, sizeof item);
    if (!parse_value(ps, &item)) {
        json_clear(&item);
        return 0;
    }
    v->items[v->count] = item;
    if (v->type == JSON_OBJECT) {
        v->keys[v->count] = key;
    }
    v->count++;
    return 1;
}

static int parse_container(json_parser *ps, json_value *v, char close) {
    size_t cap = 0;
    ps->p++;
    skip_ws(ps);
    if (*ps->p == close) {
        ps->p++;
        return 1;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(ps);
        if (v->type == JSON_OBJECT) {
            size_t key_len;
            if (*ps->p != '"' || (key = parse_string(ps, &key_len)) == NULL) {
                return 0;
            }
            skip_ws(ps);
            if (*ps->p != ':') {
                free(key);
                return 0;
            }
            ps->p++;
        }
        if (!push_item(v, &cap, ps, key)) {
            free(key);
            return 0;
        }
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            return 1;
        }
        return 0;
    }
}

static int parse_value(json_parser *ps, json_value *v) {
    const char *start;
    int ok = 1;
    skip_ws(ps);
    start = ps->p;
    if (++ps->depth > 64) {
        return 0;
    }
    switch (*ps->p) {
    case '{':
        v->type = JSON_OBJECT;
        ok = parse_container(ps, v, '}');
        break;
    case '[':
        v->type = JSON_ARRAY;
        ok = parse_container(ps, v, ']');
        break;
    case '"':
        v->type = JSON_STRING;
        v->string = parse_string(ps, &v->string_len);
        ok = v->string != NULL;
        break;
    case 't':
    case 'f':
    case 'n': {
        static const char *const words[] = {"true", "false", "null"};
        int i;
        ok = 0;
        for (i = 0; i < 3; i++) {
            size_t n = strlen(words[i]);
            if (strncmp(ps->p, words[i], n) == 0) {
                v->type = i == 2 ? JSON_NULL : JSON_BOOL;
                v->boolean = i == 0;
                ps->p += n;
                ok = 1;
                break;
            }
        }
        break;
    }
    default: {
        char *end = NULL;
        if (*ps->p != '-' && (*ps->p < '0' || *ps->p > '9')) {
            ok = 0;
            break;
        }
        v->type = JSON_NUMBER;
        v->number = strtod(ps->p, &end);
        ok = end != ps->p;
        ps->p = end;
        break;
    }
    }
    ps->depth--;
    v->raw = start;
    v->raw_len = (size_t)(ps->p - start);
    return ok;
}

json_value *json_parse(const char *text) {
    json_parser ps;
    json_value *v;
    if (text == NULL) {
        return NULL;
    }
    v = calloc(1, sizeof *v);
    if (v == NULL) {
        return NULL;
    }
    ps.p = text;
    ps.depth = 0;
    if (!parse_value(&ps, v)) {
        json_free(v);
        return NULL;
    }
    skip_ws(&ps);
    if (*ps.p != '\0') {
        json_free(v);
        return NULL;
    }
    return v;
}

const json_value *json_get(const json_value *object, const char *key) {
    size_t i;
    if (object == NULL || object->type != JSON_OBJECT) {
        return NULL;
    }
    for (i = 0; i < object->count; i++) {
        if (strcmp(object->keys[i], key) == 0) {
            return &object->items[i];
        }
    }
    return NULL;
}

const json_value *json_path(const json_value *value, const char *path) {
    char segment[256];
    while (value != NULL && *path != '\0') {
        size_t n = strcspn(path, ".");
        if (n >= sizeof segment) {
            return NULL;
        }
        memcpy(segment, path, n);
        segment[n] = '\0';
        path += n;
        if (*path == '.') {
            path++;
        }
        if (value->type == JSON_ARRAY) {
            char *end = NULL;
            unsigned long index = strtoul(segment, &end, 10);
            value = (*end == '\0' && index < value->count) ? &value->items[index] : NULL;
        } else {
            value = json_get(value, segment);
        }
    }
    return value;
}

const char *json_path_str(const json_value *value, const char *path) {
    const json_value *v = json_path(value, path);
    return v != NULL && v->type == JSON_STRING ? v->string : NULL;
}

int json_equal(const json_value *a, const json_value *b) {
    size_t i;
    if (a == NULL || b == NULL || a->type != b->type) {
        return 0;
    }
    switch (a->type) {
    case JSON_NULL:
        return 1;
    case JSON_BOOL:
        return a->boolean == b->boolean;
    case JSON_NUMBER:
        return a->number == b->number;
    case JSON_STRING:
        return a->string_len == b->string_len && memcmp(a->string, b->string, a->string_len) == 0;
    case JSON_ARRAY:
        if (a->count != b->count) {
            return 0;
        }
        for (i = 0; i < a->count; i++) {
            if (!json_equal(&a->items[i], &b->items[i])) {
                return 0;
            }
        }
        return 1;
    case JSON_OBJECT:
        if (a->count != b->count) {
            return 0;
        }
        for (i = 0; i < a->count; i++) {
            if (!json_equal(&a->items[i], json_get(b, a->keys[i]))) {
                return 0;
            }
        }
        return 1;
    }
    return 0;
}

char *json_raw(const json_value *value) {
    char *out = malloc(value->raw_len + 1);
    if (out == NULL) {
        abort();
    }
    memcpy(out, value->raw, value->raw_len);
    out[value->raw_len] = '\0';
    return out;
}
