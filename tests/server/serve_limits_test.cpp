// `flowrun serve` under pressure, over real sockets: request limits,
// admission, idle keep-alive connections, heartbeats, disconnects and
// shutdown. Each flow here uses the offline mock with a per-token delay.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "fakes/raw_http_client.h"
#include "fakes/sanitizers.h"
#include "fakes/subprocess.h"

namespace flowrun {
namespace {

using Clock = std::chrono::steady_clock;
using testing::RawRequest;
using testing::ServeProcess;

std::string SlowFlow(int delay_ms) { return testing::WriteMockFlow("slow", delay_ms, 20); }

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string ErrorOf(const testing::RawResponse& response) {
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  return body.is_object() ? body.value("error", "") : "<not json: " + response.body + ">";
}

TEST(ServeLimits, RequestsAreCheckedBeforeAnyModelCall) {
  ServeProcess server({SlowFlow(0), "--max-body", "1024"});
  ASSERT_GT(server.port(), 0);
  auto declared = RawRequest(server.port(), "POST", "/slow", std::string(2000, ' '));
  EXPECT_EQ(declared.status, 413);
  EXPECT_EQ(ErrorOf(declared), "request body is 2000 bytes; the limit is 1024");

  // A chunked upload declares no length; the limit holds all the same.
  std::string chunked = "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  for (int i = 0; i < 3; ++i) chunked += "3e8\r\n" + std::string(1000, ' ') + "\r\n";
  chunked += "0\r\n\r\n";
  auto over = testing::SendRaw(server.port(), chunked);
  EXPECT_EQ(over.status, 413);
  EXPECT_EQ(ErrorOf(over), "request body is over the limit of 1024 bytes");

  const std::string small = R"({"message":"hi"})";
  char size[16];
  std::snprintf(size, sizeof(size), "%zx", small.size());
  auto ok = testing::SendRaw(server.port(), "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                                                std::string(size) + "\r\n" + small + "\r\n0\r\n\r\n");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(testing::ParseSse(ok.body).back()["event"], "done");

  auto text = RawRequest(server.port(), "POST", "/slow", "hi", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(text.status, 415);
  auto not_json = RawRequest(server.port(), "POST", "/slow", "{oops");
  EXPECT_EQ(not_json.status, 400);
  auto wrong_type = RawRequest(server.port(), "POST", "/slow", R"({"message":["hi"]})");
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_EQ(nlohmann::json::parse(wrong_type.body)["field"], "message");
  auto too_long = RawRequest(server.port(), "POST", "/slow", R"({"message":"123456789012345678901"})");
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(ErrorOf(too_long), "input 'message' is too long: 21 characters, at most 20");
}

TEST(ServeLimits, BeyondMaxStreamsA503AtOnceWhileHealthzStaysFast) {
  ServeProcess server({SlowFlow(100), "--threads", "6", "--max-streams", "2"});
  ASSERT_GT(server.port(), 0);
  std::atomic<int> streaming{0};
  std::vector<std::thread> streams;
  std::vector<int> statuses(2);
  for (int i = 0; i < 2; ++i) {
    streams.emplace_back([&, i] {
      bool counted = false;
      statuses[i] = RawRequest(server.port(), "POST", "/slow", R"({"message":"hi"})", {{"Content-Type", "application/json"}},
                               [&](const std::string&) {
                                 if (!counted) streaming++;
                                 counted = true;
                                 return true;
                               }).status;
    });
  }
  while (streaming < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));

  auto start = Clock::now();
  auto busy = RawRequest(server.port(), "POST", "/slow", R"({"message":"hi"})");
  double busy_ms = MsSince(start);
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.headers["retry-after"], "1");
  EXPECT_EQ(ErrorOf(busy), "the server is at its limit of 2 concurrent streams; retry shortly");
  start = Clock::now();
  auto health = RawRequest(server.port(), "GET", "/healthz");
  double health_ms = MsSince(start);
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(nlohmann::json::parse(health.body)["streams"], 2);
  // Generous bounds: the point is "at once, never a hang" (measured values are printed).
  EXPECT_LT(busy_ms, 1000);
  EXPECT_LT(health_ms, 1000);
  std::cout << "503 after " << busy_ms << " ms, /healthz after " << health_ms << " ms\n";
  for (auto& stream : streams) stream.join();
  EXPECT_EQ(statuses, (std::vector<int>{200, 200}));
}

// Reads one response with a Content-Length body from a kept-alive socket.
int ReadKeptAliveResponse(int fd) {
  std::string raw;
  char buffer[4096];
  while (true) {
    size_t header_end = raw.find("\r\n\r\n");
    if (header_end != std::string::npos) {
      size_t length_at = raw.find("Content-Length: ");
      size_t length = length_at == std::string::npos ? 0 : std::stoul(raw.substr(length_at + 16));
      if (raw.size() >= header_end + 4 + length) return std::stoi(raw.substr(9, 3));
    }
    ssize_t received = recv(fd, buffer, sizeof(buffer), 0);
    if (received <= 0) return 0;
    raw.append(buffer, static_cast<size_t>(received));
  }
}

TEST(ServeLimits, IdleKeepAliveConnectionsCannotStarveThePool) {
  ServeProcess server({SlowFlow(0), "--threads", "3"});
  ASSERT_GT(server.port(), 0);
  std::vector<int> sockets;
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  auto start = Clock::now();
  // Three times as many kept-alive connections as workers, all left idle.
  for (int i = 0; i < 9; ++i) {
    int fd = testing::ConnectTo(server.port());
    ASSERT_GE(fd, 0);
    send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    EXPECT_EQ(ReadKeptAliveResponse(fd), 200) << "connection " << i;
    sockets.push_back(fd);
  }
  auto fresh = RawRequest(server.port(), "POST", "/slow", R"({"message":"hi"})");
  EXPECT_EQ(fresh.status, 200);
  EXPECT_LT(MsSince(start), 3000);  // the keep-alive timeout is 5 s: nobody waited for it
  for (int fd : sockets) close(fd);
}

TEST(ServeLimits, HeartbeatCommentsWhileTheModelIsQuiet) {
  ServeProcess server({SlowFlow(2000), "--heartbeat", "0.1"});
  ASSERT_GT(server.port(), 0);
  auto start = Clock::now();
  auto response = RawRequest(server.port(), "POST", "/slow", R"({"message":"hi"})", {{"Content-Type", "application/json"}},
                             [](const std::string& so_far) { return so_far.find(": ping\n\n") == std::string::npos; });
  EXPECT_EQ(response.status, 200);
  EXPECT_NE(response.body.find(": ping\n\n"), std::string::npos);
  EXPECT_LT(MsSince(start), 1500);  // long before the first token (2 s)
}

TEST(ServeLimits, ConnectAndDropCyclesLeaveNothingBehind) {
  ServeProcess server({SlowFlow(1000), "--idle-worker-exit", "0.3"});
  ASSERT_GT(server.port(), 0);
  const std::string body = R"({"message":"hi"})";
  int refused = 0;
  auto cycle = [&](int count) {
    for (int i = 0; i < count; ++i) {
      // Drop while the run waits for its first token (1 s away). Slots are
      // freed only if the server notices: otherwise 503s pile up.
      auto response = testing::RawRequest(
          server.port(), "POST", "/slow", body, {{"Content-Type", "application/json"}},
          [](const std::string& so_far) { return so_far.find("\r\n\r\n") == std::string::npos; });
      refused += response.status != 200;
    }
  };
  auto wait_idle = [&] {
    auto start = Clock::now();
    while (MsSince(start) < 5000) {
      auto health = RawRequest(server.port(), "GET", "/healthz");
      if (health.status == 200 && nlohmann::json::parse(health.body)["streams"] == 0) return MsSince(start);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1.0;
  };
  cycle(100);  // warm up: first use of every worker's stack and allocator arena
  ASSERT_GE(wait_idle(), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // extra workers exit after 0.3 s idle
  auto before = testing::ReadProcessUsage(server.pid());
  cycle(1000);
  double idle_after = wait_idle();
  ASSERT_GE(idle_after, 0) << "streams still open after the clients left";
  auto after = testing::ReadProcessUsage(server.pid());
  for (int i = 0; i < 50 && after.threads > before.threads; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    after = testing::ReadProcessUsage(server.pid());
  }
  std::cout << "before: " << before.threads << " threads, " << before.fds << " fds, " << before.rss_kib
            << " KiB; after 1000 drops: " << after.threads << " threads, " << after.fds << " fds, " << after.rss_kib
            << " KiB; idle " << idle_after << " ms after the last drop\n";
  EXPECT_EQ(refused, 0);
  EXPECT_LT(idle_after, 500);
  EXPECT_EQ(after.threads, before.threads);
  EXPECT_LE(after.fds, before.fds + 2);
#if FLOWRUN_MEASURES_RSS
  EXPECT_LT(after.rss_kib, before.rss_kib + 2048);
#endif
}

TEST(ServeLimits, ShutdownLetsRunningStreamsFinish) {
  ServeProcess server({SlowFlow(40), "--drain-timeout", "10"});
  ASSERT_GT(server.port(), 0);
  std::atomic<bool> first_chunk{false};
  testing::RawResponse response;
  std::thread client([&] {
    response = RawRequest(server.port(), "POST", "/slow", R"({"message":"hi"})", {{"Content-Type", "application/json"}},
                          [&](const std::string& so_far) {
                            if (so_far.find("event: chunk") != std::string::npos) first_chunk = true;
                            return true;
                          });
  });
  while (!first_chunk) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(server.Stop(SIGTERM, std::chrono::seconds(10)), 0);
  client.join();
  auto events = testing::ParseSse(response.body);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[events.size() - 2]["event"], "chunk");  // the answer finished
  EXPECT_EQ(events.back()["event"], "done");
  EXPECT_EQ(testing::ConnectTo(server.port()), -1);  // no longer accepting
}

TEST(ServeLimits, ShutdownEndsStreamsLeftAfterTheDrainTimeout) {
  ServeProcess server({SlowFlow(3000), "--drain-timeout", "0.3"});
  ASSERT_GT(server.port(), 0);
  std::atomic<bool> started{false};
  testing::RawResponse response;
  std::thread client([&] {
    response = RawRequest(server.port(), "POST", "/slow", R"({"message":"hi"})", {{"Content-Type", "application/json"}},
                          [&](const std::string&) {
                            started = true;
                            return true;
                          });
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  auto start = Clock::now();
  EXPECT_EQ(server.Stop(SIGTERM, std::chrono::seconds(10)), 0);
  double stop_ms = MsSince(start);
  client.join();
  auto events = testing::ParseSse(response.body);
  ASSERT_EQ(events.size(), 2u) << response.body;
  EXPECT_EQ(events[0]["event"], "error");
  EXPECT_EQ(nlohmann::json::parse(events[0]["data"]),
            nlohmann::json::parse(R"({"error":"the server is shutting down","step":"reply","path":"reply"})"));
  EXPECT_EQ(events[1]["event"], "done");
  EXPECT_LT(stop_ms, 2500);  // 0.3 s drain, not the 3 s token
}

}  // namespace
}  // namespace flowrun
