// A client that stops reading: flowrun drops it after --write-timeout,
// aborts its upstream transfer, and never buffers the stream in memory.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <functional>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "fakes/fake_openai_upstream.h"
#include "fakes/raw_http_client.h"
#include "fakes/sanitizers.h"
#include "fakes/subprocess.h"

namespace flowrun {
namespace {

// A burst of `count` deltas of `size` bytes each, numbered so that order
// and completeness show in the text; returns the text they make.
std::string SetBurst(testing::FakeOpenAiUpstream& upstream, int count, size_t size) {
  std::vector<std::string> pieces;
  std::string expected;
  for (int i = 0; i < count; ++i) {
    const std::string delta = "<" + std::to_string(i) + ">" + std::string(size, static_cast<char>('a' + i % 26));
    pieces.push_back(testing::OpenAiDeltaEvent(delta));
    expected += delta;
  }
  pieces.push_back(testing::OpenAiFinishEvent());
  pieces.push_back(testing::kOpenAiDoneEvent);
  upstream.SetStream(pieces);
  return expected;
}

// Sends a chat request on a socket with a small receive buffer, reads the
// first bytes, calls `while_lagging` without reading, then reads to the end.
// Returns everything received (-1 socket: empty).
std::string LaggingChat(int port, const std::function<void()>& while_lagging) {
  int fd = testing::ConnectTo(port, /*receive_buffer_bytes=*/4096);
  if (fd < 0) return "";
  const std::string body = R"({"message":"hi"})";
  const std::string request = "POST /chat HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string received;
  char buffer[65536];
  ssize_t count = recv(fd, buffer, sizeof(buffer), 0);
  if (count > 0) received.append(buffer, static_cast<size_t>(count));
  while_lagging();
  while ((count = recv(fd, buffer, sizeof(buffer), 0)) > 0) received.append(buffer, static_cast<size_t>(count));
  close(fd);
  return received;
}

// The chunk text of a raw chunked SSE response, and its last event's name.
std::string ChunkText(const std::string& received, std::string* last_event) {
  const size_t head_end = received.find("\r\n\r\n");
  if (head_end == std::string::npos) return "";
  std::string text;
  for (const auto& event : testing::ParseSse(testing::Dechunk(received.substr(head_end + 4)))) {
    *last_event = event.count("event") != 0 ? event.at("event") : "";
    if (*last_event == "chunk") text += nlohmann::json::parse(event.at("data")).get<std::string>();
  }
  return text;
}


TEST(ServeSlowReader, IsDroppedAfterTheWriteTimeoutWithBoundedMemory) {
  testing::FakeOpenAiUpstream upstream;
  ASSERT_GT(upstream.port(), 0);
  // 48 MiB of answer: far more than the socket buffers between us hold.
  const std::string delta(64 * 1024, 'x');
  std::vector<std::string> pieces(768, testing::OpenAiDeltaEvent(delta));
  pieces.push_back(testing::OpenAiFinishEvent());
  pieces.push_back(testing::kOpenAiDoneEvent);
  upstream.SetStream(pieces);
  testing::ServeProcess server({std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml", "--write-timeout", "1"},
                               {{"OPENAI_BASE_URL", upstream.base_url()}, {"OPENAI_API_KEY", std::nullopt}});
  ASSERT_GT(server.port(), 0);
  const long rss_before = testing::ReadProcessUsage(server.pid()).rss_kib;

  int fd = testing::ConnectTo(server.port());
  ASSERT_GE(fd, 0);
  const std::string body = R"({"message":"hi"})";
  const std::string request = "POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  char buffer[4096];
  ASSERT_GT(recv(fd, buffer, sizeof(buffer), 0), 0);  // the stream has started; now stop reading

  // The stream must end (slot freed) while our socket is still open.
  long peak_rss = 0;
  bool ended = false;
  for (int i = 0; i < 100 * testing::kSlowdown && !ended; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    peak_rss = std::max(peak_rss, testing::ReadProcessUsage(server.pid()).rss_kib);
    auto health = testing::RawRequest(server.port(), "GET", "/healthz");
    ended = health.status == 200 && nlohmann::json::parse(health.body)["streams"] == 0;
  }
  EXPECT_TRUE(ended) << "the stream to a client that stopped reading is still open after " << 5 * testing::kSlowdown
                     << " s";
  for (int i = 0; i < 200 && !upstream.client_gone_at(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(upstream.client_gone_at()) << "the upstream transfer was not aborted";
  std::cout << "RSS before " << rss_before << " KiB, peak while stalled " << peak_rss << " KiB\n";
#if FLOWRUN_MEASURES_RSS
  EXPECT_LT(peak_rss - rss_before, 16 * 1024);  // nowhere near the 48 MiB answer
#endif
  close(fd);
}

// Streams are written from the upstream event loop, which never waits for a
// socket (socket_writer_test.cpp covers what it keeps). End to end: a client
// with a small receive buffer that pauses (shorter than the write timeout)
// while a burst arrives still gets every byte, in order, and the stream's end.
TEST(ServeSlowReader, AClientThatPausesGetsTheWholeBurst) {
  testing::FakeOpenAiUpstream upstream;
  ASSERT_GT(upstream.port(), 0);
  // ~600 KiB: far more than the small socket buffers hold.
  const std::string expected = SetBurst(upstream, 300, 2000);
  testing::ServeProcess server({std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml", "--write-timeout", "5"},
                               {{"OPENAI_BASE_URL", upstream.base_url()}, {"OPENAI_API_KEY", std::nullopt}});
  ASSERT_GT(server.port(), 0);
  const std::string received = LaggingChat(server.port(), [] {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));  // the burst arrives meanwhile
  });
  ASSERT_EQ(received.substr(0, 15), "HTTP/1.1 200 OK");
  std::string last_event;
  const std::string text = ChunkText(received, &last_event);
  EXPECT_EQ(text.size(), expected.size());
  EXPECT_TRUE(text == expected) << "the text arrived altered or out of order";
  EXPECT_EQ(last_event, "done");
}

// Flow control: a burst far larger than the socket buffers plus what
// flowrun may keep for a client (256 KiB) reaches a client that pauses, in
// full: while the client lags, flowrun stops reading the upstream (TCP
// holds the rest back there) instead of buffering it or dropping the client.
TEST(ServeSlowReader, ALaggingClientSlowsTheUpstreamInsteadOfLosingTheStream) {
  testing::FakeOpenAiUpstream upstream;
  ASSERT_GT(upstream.port(), 0);
  const std::string expected = SetBurst(upstream, 256, 32 * 1024);  // 8 MiB
  // Over llm-stream's default max_reply_bytes (4 MiB): raise it.
  const std::string flow = testing::WriteTempFile(
      "chat.yaml", "version: 1\nname: chat\nendpoint: /chat\ninput:\n  message: string\nsteps:\n"
                   "  - type: append-message\n    content: \"{{ input.message }}\"\n"
                   "  - id: reply\n    type: llm-stream\n    max_reply_bytes: 16777216\n");
  testing::ServeProcess server({flow, "--write-timeout", "5"},
                               {{"OPENAI_BASE_URL", upstream.base_url()}, {"OPENAI_API_KEY", std::nullopt}});
  ASSERT_GT(server.port(), 0);
  const long rss_before = testing::ReadProcessUsage(server.pid()).rss_kib;
  long peak_rss = 0;
  const std::string received = LaggingChat(server.port(), [&] {
    for (int i = 0; i < 10; ++i) {  // 1 s without reading
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      peak_rss = std::max(peak_rss, testing::ReadProcessUsage(server.pid()).rss_kib);
    }
  });
  std::string last_event;
  const std::string text = ChunkText(received, &last_event);
  EXPECT_EQ(text.size(), expected.size());
  EXPECT_TRUE(text == expected) << "the text arrived altered or out of order";
  EXPECT_EQ(last_event, "done");
  std::cout << "RSS before " << rss_before << " KiB, peak while the client lagged " << peak_rss << " KiB\n";
#if FLOWRUN_MEASURES_RSS
  EXPECT_LT(peak_rss - rss_before, 16 * 1024);  // not the 8 MiB answer
#endif
}

}  // namespace
}  // namespace flowrun
