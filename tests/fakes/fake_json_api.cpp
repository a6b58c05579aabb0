// FakeJsonApi (fake_json_api.h) on cpp-httplib.
#include "fakes/fake_json_api.h"

#include <httplib.h>

namespace flowrun::testing {

FakeJsonApi::FakeJsonApi(Handler handler) : handler_(std::move(handler)), server_(std::make_unique<httplib::Server>()) {
  auto serve = [this](const httplib::Request& request, httplib::Response& response) {
    RecordedRequest recorded;
    recorded.method = request.method;
    recorded.path = request.path;
    const size_t query = request.target.find('?');
    if (query != std::string::npos) recorded.query = request.target.substr(query + 1);
    for (const auto& [name, value] : request.headers) recorded.headers.emplace(name, value);
    recorded.body = request.body;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(recorded);
      const int now = ++in_flight_;
      if (now > max_in_flight_) max_in_flight_ = now;
    }
    changed_.notify_all();
    Answer answer = handler_(recorded);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --in_flight_;
    }
    changed_.notify_all();
    response.status = answer.status;
    response.set_content(answer.body, "application/json");
  };
  server_->Get(".*", serve);
  server_->Post(".*", serve);
  server_->Put(".*", serve);
  server_->Patch(".*", serve);
  server_->Delete(".*", serve);
  // Bound before the constructor returns: connections queue until listen runs.
  port_ = server_->bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

FakeJsonApi::~FakeJsonApi() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::vector<RecordedRequest> FakeJsonApi::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

bool FakeJsonApi::WaitForInFlight(int count, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return max_in_flight_.load() >= count; });
}

}  // namespace flowrun::testing
