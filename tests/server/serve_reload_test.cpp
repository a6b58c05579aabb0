// Hot reload: edits to a served flow apply to new requests, running
// streams finish on their version, invalid edits never replace a working
// flow, and no request fails meanwhile.
#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "fakes/raw_http_client.h"
#include "fakes/subprocess.h"

namespace flowrun {
namespace {

std::string FlowText(const std::string& version, int delay_ms) {
  return "version: 1\nname: chat\nendpoint: /chat\ndescription: " + version +
         "\ninput:\n  message: string\nsteps:\n  - type: append-message\n    content: \"" + version +
         ": {{ input.message }}\"\n  - id: reply\n    type: llm-stream\n    provider: mock\n    mock_delay_ms: " +
         std::to_string(delay_ms) + "\n";
}

const char kInvalid[] = "version: 1\nname: chat\nendpoint: /chat\nsteps:\n  - type: llm-strem\n";

void Write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::trunc) << text; }

std::string Description(int port) {
  auto flows = testing::RawRequest(port, "GET", "/flows");
  return nlohmann::json::parse(flows.body)["flows"][0]["description"];
}

std::string StreamText(const std::string& body) {
  std::string text;
  for (auto& event : testing::ParseSse(body)) {
    if (event["event"] == "chunk") text += nlohmann::json::parse(event["data"]).get<std::string>();
  }
  return text;
}

TEST(ServeReload, HundredEditsWhileStreamsRunAndNoRequestFails) {
  const std::string path = testing::WriteTempFile("chat.yaml", FlowText("v0", 1));
  testing::ServeProcess server({path});
  ASSERT_GT(server.port(), 0);
  std::atomic<bool> stop{false};
  std::atomic<int> requests{0}, failures{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      while (!stop) {
        auto response = testing::RawRequest(server.port(), "POST", "/chat", R"({"message":"hi"})");
        auto events = testing::ParseSse(response.body);
        bool ok = response.status == 200 && !events.empty() && events.back()["event"] == "done";
        for (auto& event : events) ok = ok && event["event"] != "error";
        requests++;
        if (!ok) failures++;
      }
    });
  }
  for (int i = 1; i <= 100; ++i) {
    Write(path, i % 3 == 0 ? kInvalid : FlowText("v" + std::to_string(i), 1 + i % 4));
    if (i % 2 == 0) server.Signal(SIGHUP);  // the rest are picked up by the file watcher
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  stop = true;
  for (auto& client : clients) client.join();
  EXPECT_EQ(failures, 0) << "of " << requests << " requests";
  EXPECT_GT(requests, 100);
  EXPECT_EQ(Description(server.port()), "v100");
}

TEST(ServeReload, InvalidEditKeepsThePreviousVersionAndRunningStreamsKeepTheirs) {
  const std::string path = testing::WriteTempFile("chat.yaml", FlowText("v1", 30));
  testing::ServeProcess server({path, "--no-watch"});
  ASSERT_GT(server.port(), 0);

  std::atomic<bool> started{false};
  testing::RawResponse running;
  std::thread client([&] {
    running = testing::RawRequest(server.port(), "POST", "/chat", R"({"message":"hi"})",
                                  {{"Content-Type", "application/json"}}, [&](const std::string& so_far) {
                                    if (so_far.find("event: chunk") != std::string::npos) started = true;
                                    return true;
                                  });
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(2));

  Write(path, FlowText("v2", 0));
  server.Signal(SIGHUP);
  for (int i = 0; i < 100 && Description(server.port()) != "v2"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Description(server.port()), "v2");
  auto fresh = testing::RawRequest(server.port(), "POST", "/chat", R"({"message":"hi"})");
  EXPECT_EQ(StreamText(fresh.body).rfind("You said: \"v2: hi\"", 0), 0u) << fresh.body;

  Write(path, kInvalid);
  server.Signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Description(server.port()), "v2");
  auto still = testing::RawRequest(server.port(), "POST", "/chat", R"({"message":"hi"})");
  EXPECT_EQ(StreamText(still.body).rfind("You said: \"v2: hi\"", 0), 0u) << still.body;

  client.join();
  // The stream that started on v1 finished on v1.
  EXPECT_EQ(StreamText(running.body).rfind("You said: \"v1: hi\"", 0), 0u) << running.body;
  EXPECT_EQ(testing::ParseSse(running.body).back()["event"], "done");
}

}  // namespace
}  // namespace flowrun
