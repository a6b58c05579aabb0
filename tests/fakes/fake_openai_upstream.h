// FakeOpenAiUpstream: an in-process HTTP server on 127.0.0.1 that plays an
// OpenAI-compatible upstream for tests. Each test scripts the response
// (status, headers, body pieces sent as separate chunks with delays, and how
// the body ends) and inspects the last request. Thread-safe; the destructor
// stops the server promptly even while a response is "hanging".
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace flowrun::testing {

struct FakeUpstreamScript {
  enum class End {
    kComplete,  // terminate the chunked body properly
    kAbort,     // drop the connection mid-body (no terminating chunk)
    kHang,      // send nothing more until the fake is destroyed
  };

  int status = 200;
  std::string content_type = "text/event-stream";
  std::multimap<std::string, std::string> headers;  // extra response headers
  std::vector<std::string> pieces;                  // body pieces, in order
  std::chrono::milliseconds piece_delay{0};         // pause before each later piece
  End end = End::kComplete;
  // false: send the joined pieces with Content-Length in one go (end ignored).
  bool chunked = true;
};

struct RecordedRequest {
  std::string method;
  std::string path;
  std::multimap<std::string, std::string> headers;  // names as sent
  std::string body;

  // The first value of header `name` (case-insensitive), or "" when absent.
  std::string Header(const std::string& name) const;
  bool HasHeader(const std::string& name) const;
};

class FakeOpenAiUpstream {
 public:
  FakeOpenAiUpstream();  // starts listening; check port() > 0
  ~FakeOpenAiUpstream();
  FakeOpenAiUpstream(const FakeOpenAiUpstream&) = delete;
  FakeOpenAiUpstream& operator=(const FakeOpenAiUpstream&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:<port>/v1", ready for OpenAiConfig::base_url.
  std::string base_url() const;

  void SetScript(FakeUpstreamScript script);
  // Convenience: a 200 SSE stream of `pieces` ending as `end`.
  void SetStream(std::vector<std::string> pieces, FakeUpstreamScript::End end = FakeUpstreamScript::End::kComplete,
                 std::chrono::milliseconds piece_delay = std::chrono::milliseconds(0));

  RecordedRequest last_request() const;
  int request_count() const { return request_count_.load(); }
  // Whether a response body is currently being sent (e.g. hanging).
  bool responding() const { return responding_.load(); }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> request_count_{0};
  std::atomic<bool> responding_{false};
  mutable std::mutex mutex_;
  FakeUpstreamScript script_;
  RecordedRequest last_request_;
};

// A chat.completion.chunk `data:` line (with its blank line) carrying `content`.
std::string OpenAiDeltaEvent(const std::string& content);
// The closing chunk with an empty delta and finish_reason "stop".
std::string OpenAiFinishEvent();
inline constexpr const char* kOpenAiDoneEvent = "data: [DONE]\n\n";

}  // namespace flowrun::testing
