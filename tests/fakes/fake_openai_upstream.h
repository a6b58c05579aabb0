// FakeOpenAiUpstream: an in-process HTTP server on 127.0.0.1 that plays an
// OpenAI-compatible upstream for tests (and, answering every method, any
// HTTP API an http step calls). Each test scripts the responses
// (status, headers, body pieces sent as separate chunks with delays, and how
// the body ends; one script per request for retry tests) and inspects the
// requests, and when the fake noticed a client hang up. Thread-safe; the
// destructor stops the server promptly even while a response is "hanging".
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class DataSink;
class Server;
}  // namespace httplib

namespace flowrun::testing {

struct FakeUpstreamScript {
  enum class End {
    kComplete,  // terminate the chunked body properly
    kAbort,     // drop the connection mid-body (no terminating chunk)
    kHang,      // send nothing more until the fake is destroyed
    // Keep sending SSE comments (": keepalive") every trickle_interval until
    // a write fails (the client went away) or the fake is destroyed.
    kTrickle,
    // Send the last piece again and again, as fast as the client takes it,
    // until a write fails (the client went away) or the fake is destroyed.
    kRepeatLast,
  };

  int status = 200;
  std::string content_type = "text/event-stream";
  std::multimap<std::string, std::string> headers;  // extra response headers
  std::vector<std::string> pieces;                  // body pieces, in order
  std::chrono::milliseconds piece_delay{0};         // pause before each later piece
  End end = End::kComplete;
  // false: send the joined pieces with Content-Length in one go (end,
  // filler_bytes ignored).
  bool chunked = true;
  // After the pieces, this many 'x' bytes in 64 KiB writes, made on the fly
  // (the fake holds no more than one write): e.g. one enormous line.
  std::uint64_t filler_bytes = 0;
  std::chrono::milliseconds trickle_interval{10};
};

struct RecordedRequest {
  std::string method;
  std::string path;
  std::string query;  // the target's part after '?', as sent ("" when none)
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

  // Every request gets `script`.
  void SetScript(FakeUpstreamScript script);
  // Request N (counted from this call) gets scripts[N]; the last repeats.
  // E.g. {503, 503, stream} for a stream that succeeds on the third attempt.
  void SetScripts(std::vector<FakeUpstreamScript> scripts);
  // Convenience: a 200 SSE stream of `pieces` ending as `end`.
  void SetStream(std::vector<std::string> pieces, FakeUpstreamScript::End end = FakeUpstreamScript::End::kComplete,
                 std::chrono::milliseconds piece_delay = std::chrono::milliseconds(0));

  RecordedRequest last_request() const;
  int request_count() const { return request_count_.load(); }
  // When each request arrived, in order (steady clock).
  std::vector<std::chrono::steady_clock::time_point> request_times() const;
  // Chunked response bodies currently being sent (hanging, trickling...).
  int open_responses() const { return open_responses_.load(); }
  bool responding() const { return open_responses() > 0; }
  // When a body write last failed because the client had gone (closed or
  // reset the connection); nullopt if that never happened. With kTrickle a
  // write happens every trickle_interval, so this is at most that much (plus
  // one more write while the peer's reset arrives) after the client left.
  std::optional<std::chrono::steady_clock::time_point> client_gone_at() const;
  // Body bytes written so far, over all responses.
  std::uint64_t bytes_sent() const { return bytes_sent_.load(); }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> request_count_{0};
  std::atomic<int> open_responses_{0};
  std::atomic<std::uint64_t> bytes_sent_{0};
  mutable std::mutex mutex_;
  std::vector<FakeUpstreamScript> scripts_ = {FakeUpstreamScript()};
  std::size_t next_script_ = 0;
  RecordedRequest last_request_;
  std::vector<std::chrono::steady_clock::time_point> request_times_;
  std::optional<std::chrono::steady_clock::time_point> client_gone_at_;

  // Sends one scripted chunked body; false ends the response without its
  // terminating chunk.
  bool SendBody(const FakeUpstreamScript& script, httplib::DataSink& sink);
  bool Pause(std::chrono::milliseconds delay) const;  // false when stopping
  void NoteClientGone();
};

// A chat.completion.chunk `data:` line (with its blank line) carrying `content`.
std::string OpenAiDeltaEvent(const std::string& content);
// The closing chunk with an empty delta and finish_reason "stop".
std::string OpenAiFinishEvent();
// The closing chunk with an empty delta and `finish_reason` ("length", ...).
std::string OpenAiFinishEvent(const std::string& finish_reason);
// The chunk stream_options.include_usage asks for: no choices, and usage.
std::string OpenAiUsageEvent(long long prompt_tokens, long long completion_tokens);
// A complete stream of `count` deltas "d0 ", "d1 ", ... (then finish and
// [DONE]); their texts go to `*texts`.
std::vector<std::string> NumberedDeltaStream(int count, std::vector<std::string>* texts);
inline constexpr const char* kOpenAiDoneEvent = "data: [DONE]\n\n";

}  // namespace flowrun::testing
