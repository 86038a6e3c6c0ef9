/*
 * chat.c - the aigw C API in one page: build a client from a config file, show the operator
 * where traffic goes (endpoint, gateway path, account id, gateway name, credential source),
 * then stream an answer to stdout.
 *
 *   usage: chat CONFIG_FILE [MESSAGE [PROFILE_ID]]
 *
 * Build (from the repository root, after `cargo build --release -p aigw-ffi`):
 *   cc -std=c11 -Wall -Wextra -O2 -Iinclude examples/c/chat.c -o target/c-example/chat \
 *      -Ltarget/release -laigw -Wl,-rpath,"$PWD/target/release"
 *
 * The JSON this program reads (describe output, stream chunks) is compact and machine-made, so
 * a tiny member lookup is enough here; a real program would use its JSON library.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aigw.h"

/* ---- just enough JSON reading for this example ---------------------------------------- */

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
        p++;
    }
    return p;
}

/* Skips the JSON string starting at `p` (on its opening quote); returns what follows it. */
static const char *skip_string(const char *p) {
    for (p++; *p != '\0' && *p != '"'; p++) {
        if (*p == '\\' && p[1] != '\0') {
            p++;
        }
    }
    return *p == '"' ? p + 1 : p;
}

/*
 * The value of member `key` of the JSON object at `object` (on its '{'), looking only at the
 * object's own members; NULL when absent.
 */
static const char *member(const char *object, const char *key) {
    size_t key_len = strlen(key);
    int depth = 0;
    const char *p = object;
    if (object == NULL || *object != '{') {
        return NULL;
    }
    while (*p != '\0') {
        if (*p == '"') {
            const char *end = skip_string(p);
            const char *after = skip_ws(end);
            if (depth == 1 && *after == ':' && (size_t)(end - p) == key_len + 2 &&
                strncmp(p + 1, key, key_len) == 0) {
                return skip_ws(after + 1);
            }
            p = end;
            continue;
        }
        if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (--depth == 0) {
                return NULL;
            }
        }
        p++;
    }
    return NULL;
}

static void put_utf8(char **out, unsigned cp) {
    char *o = *out;
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    *out = o;
}

/* Decodes the JSON string at `value` into a malloc'd UTF-8 string; NULL if it is no string. */
static char *string_value(const char *value) {
    char *out;
    char *o;
    const char *p;
    if (value == NULL || *value != '"') {
        return NULL;
    }
    out = malloc(strlen(value) + 1); /* decoding never grows the text */
    if (out == NULL) {
        return NULL;
    }
    for (o = out, p = value + 1; *p != '\0' && *p != '"'; p++) {
        unsigned cp = 0;
        if (*p != '\\') {
            *o++ = *p;
            continue;
        }
        switch (*++p) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u':
            if (sscanf(p + 1, "%4x", &cp) != 1) {
                free(out);
                return NULL;
            }
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && p[1] == '\\' && p[2] == 'u') {
                unsigned low = 0;
                if (sscanf(p + 3, "%4x", &low) == 1 && low >= 0xDC00 && low <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    p += 6;
                }
            }
            put_utf8(&o, cp);
            break;
        case '\0':
            p--;
            break;
        default: *o++ = *p; break; /* \" \\ \/ */
        }
    }
    *o = '\0';
    return out;
}

/* Prints `label` and the string at `value` (or "-" when it is null or absent). */
static void show(const char *label, const char *value) {
    char *text = string_value(value);
    printf("  %-17s %s\n", label, text != NULL ? text : "-");
    free(text);
}

/* `"text"` with JSON escapes, malloc'd. */
static char *json_quote(const char *text) {
    char *out = malloc(strlen(text) * 6 + 3);
    char *o = out;
    const unsigned char *p;
    if (out == NULL) {
        return NULL;
    }
    *o++ = '"';
    for (p = (const unsigned char *)text; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            *o++ = '\\';
            *o++ = (char)*p;
        } else if (*p < 0x20) {
            o += sprintf(o, "\\u%04x", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

/* ---- the example ---------------------------------------------------------------------------- */

static int fail(const char *what, aigw_status status, aigw_error *err) {
    fprintf(stderr, "chat: %s failed: %s: %s\n", what, aigw_status_str(status),
            aigw_error_message(err));
    aigw_error_free(err);
    return 1;
}

/* Prints the operator-visible route from aigw_client_describe(). */
static int show_route(const aigw_client *client) {
    char *describe = NULL;
    aigw_error *err = NULL;
    aigw_status status = aigw_client_describe(client, &describe, &err);
    const char *route;
    const char *base;
    char *base_url;
    char *kind;
    char *hint;
    const char *path;
    if (status != AIGW_STATUS_OK) {
        return fail("describe", status, err);
    }
    route = member(describe, "route");
    base = member(route, "base_url");
    base_url = string_value(base);
    path = base_url != NULL ? strstr(base_url, "://") : NULL;
    path = path != NULL ? strchr(path + 3, '/') : NULL;

    kind = string_value(member(describe, "kind"));
    printf("aigw %s, kind %s; route:\n", aigw_version(), kind != NULL ? kind : "-");
    free(kind);
    show("request endpoint", member(route, "request_endpoint"));
    printf("  %-17s %s\n", "gateway path", path != NULL ? path : "-");
    show("account id", member(route, "account_id"));
    show("gateway name", member(route, "gateway_name"));
    show("credentials", member(member(describe, "credentials"), "source"));
    show("model", member(member(describe, "model"), "model"));
    hint = string_value(member(route, "hint"));
    if (hint != NULL) {
        printf("  warning: %s\n", hint);
        free(hint);
    }
    free(base_url);
    aigw_string_free(describe);
    return 0;
}

/* Prints the text a chunk carries: a streamed delta, or a whole message (non-SSE answer). */
static void print_chunk_text(const char *chunk) {
    const char *choices = member(chunk, "choices");
    const char *first = choices != NULL && *choices == '[' ? skip_ws(choices + 1) : NULL;
    const char *holder;
    char *text;
    holder = member(first, "delta");
    if (holder == NULL) {
        holder = member(first, "message");
    }
    text = string_value(member(holder, "content"));
    if (text != NULL) {
        fputs(text, stdout);
        fflush(stdout);
    }
    free(text);
}

int main(int argc, char **argv) {
    const char *config = argc > 1 ? argv[1] : NULL;
    const char *message = argc > 2 ? argv[2] : "Say hello in five words.";
    const char *profile_id = argc > 3 ? argv[3] : NULL;
    aigw_client *client = NULL;
    aigw_stream *stream = NULL;
    aigw_error *err = NULL;
    aigw_status status;
    char *quoted;
    char *request;
    char *meta = NULL;
    int chunks = 0;

    if (config == NULL) {
        fprintf(stderr, "usage: %s CONFIG_FILE [MESSAGE [PROFILE_ID]]\n", argv[0]);
        return 2;
    }
    status = aigw_client_from_config(config, profile_id, &client, &err);
    if (status != AIGW_STATUS_OK) {
        return fail("loading the config", status, err);
    }
    if (show_route(client) != 0) {
        aigw_client_free(client);
        return 1;
    }

    quoted = json_quote(message);
    request = malloc(strlen(quoted) + 64);
    if (quoted == NULL || request == NULL) {
        return 1;
    }
    sprintf(request, "{\"messages\": [{\"role\": \"user\", \"content\": %s}]}", quoted);
    free(quoted);
    printf("\n> %s\n", message);

    status = aigw_client_chat_stream(client, request, NULL, &stream, &err);
    free(request);
    if (status != AIGW_STATUS_OK) {
        aigw_client_free(client);
        return fail("chat", status, err);
    }
    for (;;) {
        const char *chunk = NULL; /* borrowed until the next aigw_stream_next */
        size_t len = 0;
        status = aigw_stream_next(stream, &chunk, &len, &err);
        if (status != AIGW_STATUS_OK) {
            break;
        }
        chunks++;
        print_chunk_text(chunk);
    }
    putchar('\n');
    if (status != AIGW_STATUS_DONE) {
        aigw_stream_free(stream);
        aigw_client_free(client);
        return fail("streaming", status, err);
    }
    if (aigw_stream_meta_json(stream, &meta, NULL) == AIGW_STATUS_OK) {
        char *model = string_value(member(meta, "model"));
        char *request_id = string_value(member(meta, "request_id"));
        char *log_id = string_value(member(meta, "cf_aig_log_id"));
        printf("(%d chunks; model %s, request id %s, cf-aig-log-id %s)\n", chunks,
               model ? model : "-", request_id ? request_id : "-", log_id ? log_id : "-");
        free(model);
        free(request_id);
        free(log_id);
        aigw_string_free(meta);
    }
    aigw_stream_free(stream);
    aigw_client_free(client);
    return 0;
}
