// max_reply_bytes under `flowrun serve`: an upstream that streams as fast
// and as much as it can (the probe that grew one stream to 852 MB) gets its
// transfer aborted at the cap, the client gets an error event naming the
// limit and then `done`, and the server's memory stays bounded.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "fakes/fake_openai_upstream.h"
#include "fakes/raw_http_client.h"
#include "fakes/sanitizers.h"
#include "fakes/subprocess.h"

namespace flowrun {
namespace {

using Clock = std::chrono::steady_clock;

template <typename Condition>
bool WaitFor(Condition condition, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST(ServeReplyLimit, EndlessFastUpstreamIsCutAtTheDefaultCap) {
  testing::FakeOpenAiUpstream upstream;
  ASSERT_GT(upstream.port(), 0);
  const std::string delta(4096, 'a');  // 1024 of them are exactly the 4 MiB default
  testing::FakeUpstreamScript script;
  script.pieces = {"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n", testing::OpenAiDeltaEvent(delta)};
  script.end = testing::FakeUpstreamScript::End::kRepeatLast;
  upstream.SetScript(script);

  const std::string log_path = testing::WriteTempFile("serve.log", "");
  std::string body;
  long rss_growth_kib = 0;
  {
    testing::ServeProcess server({std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml"},
                                 {{"OPENAI_BASE_URL", upstream.base_url()}, {"OPENAI_API_KEY", "sk-test"}}, log_path);
    ASSERT_GT(server.port(), 0);
    const long before_kib = testing::ReadProcessUsage(server.pid()).rss_kib;
    // Without the cap this stream never ends: give up at 64 MiB.
    auto response = testing::RawRequest(server.port(), "POST", "/chat", R"({"message":"hi"})",
                                        {{"Content-Type", "application/json"}},
                                        [](const std::string& so_far) { return so_far.size() < (64u << 20); });
    rss_growth_kib = testing::ReadProcessUsage(server.pid()).rss_kib - before_kib;
    EXPECT_EQ(response.status, 200);
    ASSERT_LT(response.body.size(), 60u << 20) << "the stream went on past 60 MiB: the reply has no cap";
    body = response.body;

    // The upstream saw its connection closed (a write failed) and stopped.
    EXPECT_TRUE(WaitFor([&] { return upstream.client_gone_at().has_value() && upstream.open_responses() == 0; },
                        std::chrono::seconds(10)))
        << "the upstream transfer was not aborted; " << upstream.bytes_sent() << " bytes sent";
  }
  auto events = testing::ParseSse(body);
  ASSERT_GE(events.size(), 2u);
  std::string text;
  size_t chunks = 0;
  for (auto& event : events) {
    if (event["event"] != "chunk") break;
    auto parsed = nlohmann::json::parse(event["data"], nullptr, false);
    ASSERT_TRUE(parsed.is_string()) << event["data"].substr(0, 200);
    text += parsed.get<std::string>();
    ++chunks;
  }
  EXPECT_EQ(text.size(), 4194304u);
  EXPECT_EQ(chunks, 1024u);
  ASSERT_EQ(events.size(), chunks + 2);
  EXPECT_EQ(events[chunks]["event"], "error");
  EXPECT_EQ(nlohmann::json::parse(events[chunks]["data"]),
            nlohmann::json::parse(R"j({"error":"the reply is over max_reply_bytes (4194304 bytes)","step":"reply","path":"reply"})j"));
  EXPECT_EQ(events.back()["event"], "done");
  EXPECT_EQ(events.back()["data"], "[DONE]");
  std::cout << "upstream sent " << upstream.bytes_sent() << " bytes; server RSS grew " << rss_growth_kib << " KiB\n";
  // What was sent beyond the cap sat in socket and curl buffers, no more.
  EXPECT_LT(upstream.bytes_sent(), std::uint64_t{32} << 20);
  EXPECT_EQ(upstream.request_count(), 1) << "the cap must not be retried";
#if FLOWRUN_MEASURES_RSS
  EXPECT_LT(rss_growth_kib, 48 * 1024) << "KiB";
#endif

  std::ifstream in(log_path);
  std::stringstream log;
  log << in.rdbuf();
  EXPECT_NE(log.str().find("POST /chat (chat) 200 stream ended with error in step 'reply': the reply is over "
                           "max_reply_bytes (4194304 bytes), 1024 chunks"),
            std::string::npos)
      << log.str();
}

}  // namespace
}  // namespace flowrun
