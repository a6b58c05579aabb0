// Hot reload: edits to a served flow apply to new requests, running
// streams finish on their version, invalid edits never replace a working
// flow, and no request fails meanwhile. Hostile files (an alias bomb, a
// symbolic link loop, a huge flow) written while a stream is live change
// nothing but the log.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "fakes/raw_http_client.h"
#include "fakes/sanitizers.h"
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

// A served directory whose chat.yaml (v1) answers slowly, the server's log
// in a file, and one live stream on it that lasts several seconds.
class ServeHostileReload : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("flowrun-hostile-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    chat_ = (dir_ / "chat.yaml").string();
    log_ = (dir_.string() + ".log");
    Write(chat_, FlowText("v1", kDelayMs));
    server_ = std::make_unique<testing::ServeProcess>(
        std::vector<std::string>{dir_.string()},
        std::map<std::string, std::optional<std::string>>{{"OPENAI_API_KEY", std::nullopt},
                                                          {"OPENAI_BASE_URL", std::nullopt}},
        log_);
    ASSERT_GT(server_->port(), 0);
    rss_before_kib_ = testing::ReadProcessUsage(server_->pid()).rss_kib;
    // About 60 tokens at 100 ms: the stream stays open for some 6 s.
    std::string words;
    for (int i = 0; i < 40; ++i) words += "word ";
    live_ = std::thread([this, words] {
      live_response_ = testing::RawRequest(server_->port(), "POST", "/chat", R"({"message":")" + words + R"("})",
                                           {{"Content-Type", "application/json"}}, [this](const std::string& so_far) {
                                             if (so_far.find("event: chunk") != std::string::npos) live_started_ = true;
                                             return true;
                                           });
      live_done_ = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!live_started_ && !live_done_ && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(live_started_) << "the live stream sent no chunk within 10 s";
  }

  void TearDown() override {
    if (live_.joinable()) live_.join();
    server_.reset();
    std::filesystem::remove_all(dir_);
    std::filesystem::remove(log_);
  }

  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // Waits until the log holds `text`, watching the server's memory meanwhile.
  void WaitForLog(const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (Log().find(text) == std::string::npos) {
      const long rss = testing::ReadProcessUsage(server_->pid()).rss_kib;
      if (rss > kRunawayKib) {
        server_->Signal(SIGKILL);
        FAIL() << "the server grew to " << rss << " KiB; killed";
      }
      if (std::chrono::steady_clock::now() > deadline) FAIL() << "not in the log after 15 s: " << text << "\n" << Log();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    reported_while_live_ = !live_done_;
  }

  // The live stream ended well on v1, the server still serves v1, and its
  // memory stayed small.
  void ExpectNothingChanged() {
    EXPECT_TRUE(reported_while_live_) << "the reload was reported only after the live stream had ended";
    EXPECT_EQ(Description(server_->port()), "v1");
    auto fresh = testing::RawRequest(server_->port(), "POST", "/chat", R"({"message":"hi"})");
    EXPECT_EQ(StreamText(fresh.body).rfind("You said: \"v1: hi\"", 0), 0u) << fresh.body;
    live_.join();
    auto events = testing::ParseSse(live_response_.body);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back()["event"], "done") << live_response_.body;
    EXPECT_EQ(StreamText(live_response_.body).rfind("You said: \"v1: word word", 0), 0u) << live_response_.body;
    for (auto& event : events) EXPECT_NE(event["event"], "error") << event["data"];
    const long rss_after = testing::ReadProcessUsage(server_->pid()).rss_kib;
    std::cout << "server RSS before " << rss_before_kib_ << " KiB, after " << rss_after << " KiB\n";
#if FLOWRUN_MEASURES_RSS
    // Under a sanitizer (quarantine, shadow pages) RSS says nothing.
    EXPECT_LT(rss_after - rss_before_kib_, 64 * 1024);
#endif
  }

  static constexpr int kDelayMs = 100;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Redzones and quarantine (ASan), shadow and metadata pages (TSan, measured at 1 GiB here).
  static constexpr long kRunawayKib = 3 * 1024 * 1024;
#else
  static constexpr long kRunawayKib = 1024 * 1024;
#endif
  std::filesystem::path dir_;
  std::string chat_, log_;
  std::unique_ptr<testing::ServeProcess> server_;
  long rss_before_kib_ = 0;
  std::thread live_;
  testing::RawResponse live_response_;
  std::atomic<bool> live_started_{false}, live_done_{false};
  bool reported_while_live_ = false;
};

TEST_F(ServeHostileReload, AliasBombWrittenOverTheServedFile) {
  std::string bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n";
  for (char name = 'b'; name <= 'i'; ++name) {
    const std::string previous = std::string("*") + static_cast<char>(name - 1);
    bomb += std::string(1, name) + ": &" + name + " [";
    for (int i = 0; i < 9; ++i) bomb += previous + (i < 8 ? "," : "]\n");
  }
  Write(chat_, bomb);
  ASSERT_NO_FATAL_FAILURE(
      WaitForLog(chat_ + ":6:8: error: YAML aliases expand to more than 100000 nodes (the limit for a flow file)"));
  ExpectNothingChanged();
}

// A whole megabyte of '[': the worst case for yaml-cpp's scanner, which
// takes some 250 MB for a moment; the reload gives it back.
TEST_F(ServeHostileReload, DeepNestingWrittenOverTheServedFile) {
  Write(chat_, std::string(1 << 20, '['));
  ASSERT_NO_FATAL_FAILURE(
      WaitForLog(chat_ + ":1:33: error: YAML nesting is deeper than 64 levels (the limit for a flow file)"));
  ExpectNothingChanged();
}

TEST_F(ServeHostileReload, SymbolicLinkLoopInTheWatchedDirectory) {
  std::filesystem::create_symlink(dir_ / "loop2.yaml", dir_ / "loop1.yaml");
  std::filesystem::create_symlink(dir_ / "loop1.yaml", dir_ / "loop2.yaml");
  ASSERT_NO_FATAL_FAILURE(WaitForLog((dir_ / "loop1.yaml").string() +
                                     ": error: cannot read file: Too many levels of symbolic links "
                                     "(a symbolic link loop?)"));
  ExpectNothingChanged();
}

TEST_F(ServeHostileReload, HugeFlowWrittenOverTheServedFile) {
  std::string huge = "version: 1\nname: chat\nendpoint: /chat\nsteps:\n";
  for (int i = 0; i < 100000; ++i) {
    huge += "  - id: step-number-" + std::to_string(i) + "-of-a-huge-flow\n    type: append-reply\n";
  }
  ASSERT_GT(huge.size(), 5u << 20);
  Write(chat_, huge);
  ASSERT_NO_FATAL_FAILURE(WaitForLog(chat_ + ": error: the file is " + std::to_string(huge.size()) +
                                     " bytes, more than 1048576 bytes (the limit for a flow file)"));
  ExpectNothingChanged();
}

}  // namespace
}  // namespace flowrun
