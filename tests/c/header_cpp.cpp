// aigw.h from C++17: the header compiles with -Wall -Wextra -Werror -pedantic, its enum has the
// fixed numbers, and the library links and works (owned results held by RAII wrappers).
// Takes `PORT VECTORS_DIR ITERATIONS` like the C programs.
#include "aigw.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <type_traits>

static_assert(sizeof(aigw_status) == sizeof(std::uint32_t), "aigw_status is 32 bits");
static_assert(AIGW_STATUS_OK == 0 && AIGW_STATUS_DONE == 1 && AIGW_STATUS_INTERNAL == 14,
              "fixed status numbers");

namespace {

struct string_deleter {
    void operator()(char *s) const { aigw_string_free(s); }
};
struct client_deleter {
    void operator()(aigw_client *c) const { aigw_client_free(c); }
};
struct error_deleter {
    void operator()(aigw_error *e) const { aigw_error_free(e); }
};
using owned_string = std::unique_ptr<char, string_deleter>;
using owned_client = std::unique_ptr<aigw_client, client_deleter>;
using owned_error = std::unique_ptr<aigw_error, error_deleter>;

int passed = 0;
int failed = 0;

void check(bool ok, const char *what) {
    if (ok) {
        ++passed;
    } else {
        ++failed;
        std::fprintf(stderr, "check failed: %s\n", what);
    }
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s PORT VECTORS_DIR ITERATIONS\n", argv[0]);
        return 2;
    }
    const std::string port = argv[1];
    check(std::string(aigw_version()) == AIGW_VERSION, "aigw_version() == AIGW_VERSION");
    check(std::string(aigw_status_str(AIGW_STATUS_RATE_LIMITED)) == "RATE_LIMITED",
          "status names");

    const std::string profile = "{\"kind\": \"cloudflare\", \"base_url\": \"http://127.0.0.1:" +
                                port + "/v1/acc/cpp-gw/openai/compat\", \"api_key\": \"test-key\", "
                                "\"model\": \"openai/gpt-4o-mini\"}";
    aigw_client *raw_client = nullptr;
    aigw_error *raw_error = nullptr;
    aigw_status status = aigw_client_new(profile.c_str(), &raw_client, &raw_error);
    owned_client client(raw_client);
    owned_error error(raw_error);
    check(status == AIGW_STATUS_OK && client != nullptr, "aigw_client_new");

    char *raw_json = nullptr;
    status = aigw_client_describe(client.get(), &raw_json, nullptr);
    owned_string describe(raw_json);
    check(status == AIGW_STATUS_OK &&
              std::string(describe.get()).find("\"gateway_name\":\"cpp-gw\"") != std::string::npos,
          "describe names the gateway");

    raw_json = nullptr;
    status = aigw_client_chat(client.get(),
                              "{\"messages\": [{\"role\": \"user\", \"content\": \"from C++\"}]}",
                              nullptr, &raw_json, &raw_error);
    owned_string answer(raw_json);
    error.reset(raw_error);
    check(status == AIGW_STATUS_OK &&
              std::string(answer.get()).find("echo: from C++") != std::string::npos,
          "chat");

    raw_error = nullptr;
    status = aigw_client_chat(client.get(), "{", nullptr, &raw_json, &raw_error);
    error.reset(raw_error);
    check(status == AIGW_STATUS_INVALID_ARGUMENT && error != nullptr &&
              std::string(aigw_error_code(error.get())) == "INVALID_ARGUMENT",
          "errors from C++");

    std::printf("header_cpp: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
