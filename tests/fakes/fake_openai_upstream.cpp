// FakeOpenAiUpstream implementation on cpp-httplib. Handlers poll a stop flag
// instead of blocking so the server's worker threads can always be joined.
#include "fakes/fake_openai_upstream.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <string_view>
#include <nlohmann/json.hpp>

namespace flowrun::testing {
namespace {

constexpr auto kHangSlice = std::chrono::milliseconds(5);
constexpr std::uint64_t kFillerWrite = 64 * 1024;
constexpr std::string_view kKeepAlive = ": keepalive\n\n";

bool SameName(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string ChunkJson(const nlohmann::json& delta, const nlohmann::json& finish_reason) {
  nlohmann::json chunk = {{"id", "chatcmpl-fake"},
                          {"object", "chat.completion.chunk"},
                          {"created", 1700000000},
                          {"model", "gpt-fake"},
                          {"choices", {{{"index", 0}, {"delta", delta}, {"finish_reason", finish_reason}}}}};
  return "data: " + chunk.dump() + "\n\n";
}

}  // namespace

std::string RecordedRequest::Header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (SameName(key, name)) return value;
  }
  return "";
}

bool RecordedRequest::HasHeader(const std::string& name) const {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& entry) { return SameName(entry.first, name); });
}

FakeOpenAiUpstream::FakeOpenAiUpstream() : server_(std::make_unique<httplib::Server>()) {
  // One request per connection: an idle keep-alive connection would hold a
  // worker thread, and so the destructor, for up to the keep-alive timeout.
  server_->set_keep_alive_max_count(1);
  auto handler = [this](const httplib::Request& request, httplib::Response& response) {
    FakeUpstreamScript script;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      last_request_.method = request.method;
      last_request_.path = request.path;
      const size_t question = request.target.find('?');
      last_request_.query = question == std::string::npos ? "" : request.target.substr(question + 1);
      last_request_.headers.clear();
      for (const auto& [key, value] : request.headers) last_request_.headers.emplace(key, value);
      last_request_.body = request.body;
      request_times_.push_back(std::chrono::steady_clock::now());
      script = scripts_[std::min(next_script_, scripts_.size() - 1)];
      ++next_script_;
    }
    ++request_count_;
    response.status = script.status;
    for (const auto& [key, value] : script.headers) response.set_header(key, value);
    if (!script.chunked) {
      std::string body;
      for (const auto& piece : script.pieces) body += piece;
      response.set_content(body, script.content_type);
      return;
    }
    response.set_chunked_content_provider(script.content_type, [this, script](size_t, httplib::DataSink& sink) {
      ++open_responses_;
      struct Closed {
        std::atomic<int>& count;
        ~Closed() { --count; }
      } closed{open_responses_};
      return SendBody(script, sink);
    });
  };
  server_->Post(".*", handler);
  server_->Get(".*", handler);
  server_->Put(".*", handler);
  server_->Patch(".*", handler);
  server_->Delete(".*", handler);
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ > 0) thread_ = std::thread([this] { server_->listen_after_bind(); });
  // stop() is a no-op until the accept loop runs, so wait for it here.
  while (port_ > 0 && !server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

bool FakeOpenAiUpstream::SendBody(const FakeUpstreamScript& script, httplib::DataSink& sink) {
  // Every failed write means the client is gone: that moment is what tests
  // of disconnect propagation measure.
  auto write = [&](const char* data, std::size_t size) {
    if (stopping_) return false;
    if (sink.write(data, size)) {
      bytes_sent_ += size;
      return true;
    }
    NoteClientGone();
    return false;
  };
  for (std::size_t i = 0; i < script.pieces.size(); ++i) {
    if (i > 0 && !Pause(script.piece_delay)) return false;
    if (!write(script.pieces[i].data(), script.pieces[i].size())) return false;
  }
  const std::string filler(std::min<std::uint64_t>(script.filler_bytes, kFillerWrite), 'x');
  for (std::uint64_t left = script.filler_bytes; left > 0;) {
    const std::size_t size = static_cast<std::size_t>(std::min<std::uint64_t>(left, filler.size()));
    if (!write(filler.data(), size)) return false;
    left -= size;
  }
  switch (script.end) {
    case FakeUpstreamScript::End::kComplete:
      sink.done();
      return true;
    case FakeUpstreamScript::End::kAbort:
      return false;
    case FakeUpstreamScript::End::kHang:
      while (Pause(kHangSlice)) {
      }
      return false;
    case FakeUpstreamScript::End::kTrickle:
      while (Pause(script.trickle_interval) && write(kKeepAlive.data(), kKeepAlive.size())) {
      }
      return false;
    case FakeUpstreamScript::End::kRepeatLast:
      while (!script.pieces.empty() && write(script.pieces.back().data(), script.pieces.back().size())) {
      }
      return false;
  }
  return false;
}

bool FakeOpenAiUpstream::Pause(std::chrono::milliseconds delay) const {
  const auto until = std::chrono::steady_clock::now() + delay;
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(kHangSlice, until - now));
  }
  return false;
}

void FakeOpenAiUpstream::NoteClientGone() {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  client_gone_at_ = now;
}

FakeOpenAiUpstream::~FakeOpenAiUpstream() {
  stopping_ = true;
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string FakeOpenAiUpstream::base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

void FakeOpenAiUpstream::SetScript(FakeUpstreamScript script) {
  SetScripts({std::move(script)});
}

void FakeOpenAiUpstream::SetScripts(std::vector<FakeUpstreamScript> scripts) {
  if (scripts.empty()) scripts.emplace_back();
  std::lock_guard<std::mutex> lock(mutex_);
  scripts_ = std::move(scripts);
  next_script_ = 0;
}

void FakeOpenAiUpstream::SetStream(std::vector<std::string> pieces, FakeUpstreamScript::End end,
                                   std::chrono::milliseconds piece_delay) {
  FakeUpstreamScript script;
  script.pieces = std::move(pieces);
  script.end = end;
  script.piece_delay = piece_delay;
  SetScript(std::move(script));
}

RecordedRequest FakeOpenAiUpstream::last_request() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_request_;
}

std::vector<std::chrono::steady_clock::time_point> FakeOpenAiUpstream::request_times() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return request_times_;
}

std::optional<std::chrono::steady_clock::time_point> FakeOpenAiUpstream::client_gone_at() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return client_gone_at_;
}

std::string OpenAiDeltaEvent(const std::string& content) {
  return ChunkJson({{"content", content}}, nullptr);
}

std::vector<std::string> NumberedDeltaStream(int count, std::vector<std::string>* texts) {
  std::vector<std::string> pieces;
  for (int i = 0; i < count; ++i) {
    texts->push_back("d" + std::to_string(i) + " ");
    pieces.push_back(OpenAiDeltaEvent(texts->back()));
  }
  pieces.push_back(OpenAiFinishEvent());
  pieces.push_back(kOpenAiDoneEvent);
  return pieces;
}

std::string OpenAiFinishEvent() { return OpenAiFinishEvent("stop"); }

std::string OpenAiFinishEvent(const std::string& finish_reason) {
  return ChunkJson(nlohmann::json::object(), finish_reason);
}

std::string OpenAiUsageEvent(long long prompt_tokens, long long completion_tokens) {
  const nlohmann::json chunk = {{"id", "chatcmpl-fake"},
                                {"object", "chat.completion.chunk"},
                                {"created", 1700000000},
                                {"model", "gpt-fake"},
                                {"choices", nlohmann::json::array()},
                                {"usage",
                                 {{"prompt_tokens", prompt_tokens},
                                  {"completion_tokens", completion_tokens},
                                  {"total_tokens", prompt_tokens + completion_tokens}}}};
  return "data: " + chunk.dump() + "\n\n";
}

}  // namespace flowrun::testing
