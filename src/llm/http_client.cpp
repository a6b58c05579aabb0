// The curl HttpClient: each Send is one HttpExchange, a LoopTransfer on the
// loop's CurlDriver. The awaiting coroutine suspends until the driver says
// the transfer is done; a cancelled scope aborts it; the driver's 100 ms tick
// enforces the whole-exchange timeout. Everything runs on the loop's thread.
#include "llm/http_client.h"

#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <coroutine>
#include <utility>

#include <curl/curl.h>

#include "core/descriptors.h"
#include "llm/curl_driver.h"
#include "llm/openai_wire.h"

namespace flowrun {
namespace {

using Clock = std::chrono::steady_clock;

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' || text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

// The host of an http(s) URL, for messages (no user info, path or query).
std::string HostOf(const std::string& url) {
  std::string rest = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  const size_t at = rest.rfind('@');
  return at == std::string::npos ? rest : rest.substr(at + 1);
}

class HttpExchange final : public LoopTransfer {
 public:
  HttpExchange(const HttpCall& call, HttpAnswer* answer) : call_(call), answer_(answer) {}
  ~HttpExchange() override {
    if (headers_ != nullptr) curl_slist_free_all(headers_);
  }
  HttpExchange(const HttpExchange&) = delete;
  HttpExchange& operator=(const HttpExchange&) = delete;

  struct Awaiter {
    HttpExchange& exchange;
    CurlDriver& driver;
    CURL* easy;
    CancelScope& scope;
    bool await_ready() const { return false; }
    void await_suspend(std::coroutine_handle<> waiter) { exchange.Start(waiter, driver, easy, scope); }
    Status await_resume() { return std::move(exchange.status_); }
  };

  HttpFault fault() const { return fault_; }

 private:
  void Start(std::coroutine_handle<> waiter, CurlDriver& driver, CURL* easy, CancelScope& scope) {
    waiter_ = waiter;
    driver_ = &driver;
    easy_ = easy;
    scope_ = &scope;
    Prepare();
    driver.Start(easy, *this);
    on_cancel_ = scope.OnCancel([this] {
      on_cancel_ = 0;
      if (fault_ == HttpFault::kNone) fault_ = HttpFault::kCancelled;
      driver_->Abort(*this);
    });
  }

  void Prepare() {
    for (const auto& [name, value] : call_.headers) {
      headers_ = curl_slist_append(headers_, (name + ": " + value).c_str());
    }
    headers_ = curl_slist_append(headers_, "Expect:");  // no 100-continue round trip
    curl_easy_setopt(easy_, CURLOPT_URL, call_.url.c_str());
    if (call_.method == "HEAD") {
      curl_easy_setopt(easy_, CURLOPT_NOBODY, 1L);
    } else if (call_.method != "GET") {
      curl_easy_setopt(easy_, CURLOPT_CUSTOMREQUEST, call_.method.c_str());
    }
    if (!call_.body.empty()) {
      curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, call_.body.data());
      curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call_.body.size()));
    }
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(easy_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy_, CURLOPT_FOLLOWLOCATION, 0L);  // a redirect may not pick another host
    curl_easy_setopt(easy_, CURLOPT_USERAGENT, "flowrun");
    curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy_, CURLOPT_NOPROGRESS, 1L);
    curl_easy_setopt(easy_, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT_MS, call_.connect_timeout_ms);
    curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, error_buffer_);
    curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, &HttpExchange::HeaderThunk);
    curl_easy_setopt(easy_, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &HttpExchange::WriteThunk);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(easy_, CURLOPT_OPENSOCKETFUNCTION, &HttpExchange::OpenSocketThunk);
    curl_easy_setopt(easy_, CURLOPT_OPENSOCKETDATA, this);
    if (call_.timeout_ms > 0) deadline_ = Clock::now() + std::chrono::milliseconds(call_.timeout_ms);
  }

  void AfterReads() override {}

  bool ShouldStop(bool /*full_check*/) override {
    if (call_.timeout_ms > 0 && Clock::now() >= deadline_) {
      if (fault_ == HttpFault::kNone) fault_ = HttpFault::kTimeout;
      return true;
    }
    return false;
  }

  void Done(CURLcode result) override {
    if (scope_ != nullptr && on_cancel_ != 0) scope_->RemoveCallback(on_cancel_);
    on_cancel_ = 0;
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &answer_->status);
    // The easy handle goes back to the driver: it must keep no pointer into this.
    curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(easy_, CURLOPT_OPENSOCKETFUNCTION, nullptr);
    curl_easy_setopt(easy_, CURLOPT_OPENSOCKETDATA, nullptr);
    status_ = Conclude(result);
    driver_ = nullptr;
    std::exchange(waiter_, nullptr).resume();  // last: the coroutine may destroy this
  }

  Status Conclude(CURLcode result) {
    if (result == CURLE_OK && fault_ == HttpFault::kNone) return Status::Ok();
    const std::string host = HostOf(call_.url);
    if (fault_ == HttpFault::kCancelled) return Status::Cancelled("the request to " + host + " was cancelled");
    if (fault_ == HttpFault::kTimeout) {
      return Status::DeadlineExceeded("no whole response from " + host + " within " +
                                      std::to_string(call_.timeout_ms) + " ms");
    }
    if (fault_ == HttpFault::kTooLarge) {
      return Status::ResourceExhausted("the response from " + host + " is larger than max_response_bytes (" +
                                       std::to_string(call_.max_response_bytes) + ")");
    }
    const std::string detail = Abbreviate(error_buffer_[0] != '\0' ? error_buffer_ : curl_easy_strerror(result), 200);
    if (out_of_fds_) {
      fault_ = HttpFault::kOutOfDescriptors;
      return Status::Unavailable("cannot open a connection to " + host +
                                 ": this process has no file descriptor left (raise ulimit -n)");
    }
    if (answer_->status == 0) {
      fault_ = result == CURLE_OPERATION_TIMEDOUT ? HttpFault::kTimeout : HttpFault::kUnreachable;
      return Status::Unavailable("cannot reach " + host + ": " + detail);
    }
    fault_ = HttpFault::kOther;
    return Status::Unavailable("the response from " + host + " broke off: " + detail);
  }

  static size_t HeaderThunk(char* data, size_t size, size_t count, void* self) {
    auto* exchange = static_cast<HttpExchange*>(self);
    const std::string_view line(data, size * count);
    HttpHeaders& headers = exchange->answer_->headers;
    if (line.rfind("HTTP/", 0) == 0) {
      headers.clear();  // a new response (after a 100 Continue, say): only the last one counts
    } else if (const size_t colon = line.find(':'); colon != std::string_view::npos && colon > 0) {
      headers.emplace_back(Lower(std::string(line.substr(0, colon))), Trim(line.substr(colon + 1)));
    }
    return size * count;
  }

  static size_t WriteThunk(char* data, size_t size, size_t count, void* self) {
    auto* exchange = static_cast<HttpExchange*>(self);
    const size_t bytes = size * count;
    std::string& body = exchange->answer_->body;
    if (body.size() + bytes > exchange->call_.max_response_bytes) {
      exchange->fault_ = HttpFault::kTooLarge;
      return 0;  // curl ends the transfer with CURLE_WRITE_ERROR
    }
    body.append(data, bytes);
    if (exchange->driver_ != nullptr) exchange->driver_->NoteRead(*exchange);
    return bytes;
  }

  static curl_socket_t OpenSocketThunk(void* self, curlsocktype, curl_sockaddr* address) {
    const curl_socket_t fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd == CURL_SOCKET_BAD && IsDescriptorExhaustion(errno)) static_cast<HttpExchange*>(self)->out_of_fds_ = true;
    return fd;
  }

  const HttpCall& call_;
  HttpAnswer* answer_;
  CurlDriver* driver_ = nullptr;
  CURL* easy_ = nullptr;
  CancelScope* scope_ = nullptr;
  CancelScope::CallbackId on_cancel_ = 0;
  std::coroutine_handle<> waiter_;
  curl_slist* headers_ = nullptr;
  char error_buffer_[CURL_ERROR_SIZE] = {};
  Clock::time_point deadline_;
  HttpFault fault_ = HttpFault::kNone;
  bool out_of_fds_ = false;
  Status status_;
};

class CurlClient final : public HttpClient {
 public:
  Task<Status> Send(const HttpCall& call, HttpAnswer* answer, EventLoop& loop, CancelScope& scope,
                    HttpFault* fault) override {
    HttpFault ignored = HttpFault::kNone;
    HttpFault& why = fault != nullptr ? *fault : ignored;
    why = HttpFault::kNone;
    *answer = HttpAnswer();
    if (scope.cancelled()) {
      why = HttpFault::kCancelled;
      co_return Status::Cancelled("the request to " + HostOf(call.url) + " was cancelled");
    }
    CurlDriver* driver = CurlDriver::For(loop);
    CURL* easy = driver != nullptr ? driver->TakeEasy() : nullptr;
    if (easy == nullptr) {
      why = HttpFault::kOther;
      co_return Status::Internal("cannot start an HTTP request: curl initialisation failed");
    }
    HttpExchange exchange(call, answer);
    Status status = co_await HttpExchange::Awaiter{exchange, *driver, easy, scope};
    driver->GiveBack(easy);
    why = exchange.fault();
    co_return status;
  }
};

}  // namespace

std::shared_ptr<HttpClient> CurlHttpClient() {
  static const std::shared_ptr<HttpClient> client = std::make_shared<CurlClient>();
  return client;
}

}  // namespace flowrun
