// CurlDriver on a test's own EventLoop against FakeOpenAiUpstream: every
// transfer ends with exactly one Done() on the loop (never inside Start),
// shards are added as the load grows, Abort closes the connection at once,
// one flush hint follows each batch of reads, a paused transfer resumes,
// a socket waiting for its first data sits in the priority set, the tick
// asks ShouldStop, and a transfer whose socket changes leaves no socket
// bound to it once it is done.
#include "llm/curl_driver.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fakes/fake_openai_upstream.h"
#include "llm/loop_test_support.h"

namespace flowrun {
namespace {

using testing::FakeOpenAiUpstream;
using testing::FakeUpstreamScript;
using testing::LoopThread;
using testing::OpenAiDeltaEvent;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A transfer that keeps what it got and logs its callbacks: 'w' for a
// write callback, 'a' for AfterReads.
class TestTransfer : public LoopTransfer {
 public:
  TestTransfer(CurlDriver& driver, EventLoop& loop, const std::string& url) : driver_(driver), loop_(loop) {
    easy_ = driver.TakeEasy();
    curl_easy_setopt(easy_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, "{}");
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &TestTransfer::Write);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
  }
  ~TestTransfer() override { driver_.GiveBack(easy_); }

  CURL* easy() { return easy_; }
  void Start() {
    started_at = Clock::now();
    driver_.Start(easy_, *this);
  }

  std::string body;
  std::string log;
  int done_calls = 0;
  bool done_on_loop = false;
  std::optional<CURLcode> result;
  Clock::time_point started_at;
  Clock::time_point done_at;
  bool pause_next_write = false;
  int paused_writes = 0;  // write callbacks answered with a pause
  std::function<bool(bool full_check)> stop_when;
  std::vector<bool> checks;  // the full_check of every ShouldStop

 private:
  static size_t Write(char* data, size_t size, size_t count, void* self) {
    auto* transfer = static_cast<TestTransfer*>(self);
    if (transfer->pause_next_write) {
      transfer->pause_next_write = false;
      ++transfer->paused_writes;
      return CURL_WRITEFUNC_PAUSE;  // curl keeps the bytes and offers them again
    }
    transfer->log += 'w';
    transfer->body.append(data, size * count);
    transfer->driver_.NoteRead(*transfer);
    return size * count;
  }
  void AfterReads() override { log += 'a'; }
  bool ShouldStop(bool full_check) override {
    checks.push_back(full_check);
    return stop_when && stop_when(full_check);
  }
  void Done(CURLcode code) override {
    ++done_calls;
    result = code;
    done_at = Clock::now();
    done_on_loop = EventLoop::Current() == &loop_;
  }

  CurlDriver& driver_;
  EventLoop& loop_;
  CURL* easy_ = nullptr;
};

class CurlDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(upstream_.port(), 0);
    loop_.Run([&] { driver_ = CurlDriver::For(loop_.loop()); });
    ASSERT_NE(driver_, nullptr);
  }
  void TearDown() override {
    // A transfer must not be freed while the driver runs it.
    loop_.Run([&] {
      for (const auto& transfer : transfers_) driver_->Abort(*transfer);
    });
    EXPECT_TRUE(loop_.WaitFor([&] { return AllDone(); }));
    loop_.Run([&] { transfers_.clear(); });
  }
  // Creates a transfer on the loop (call on the loop).
  TestTransfer& Add(const std::string& url = "") {
    transfers_.push_back(std::make_unique<TestTransfer>(*driver_, loop_.loop(),
                                                        url.empty() ? upstream_.base_url() + "/chat/completions" : url));
    return *transfers_.back();
  }
  bool AllDone() {
    for (const auto& transfer : transfers_) {
      if (transfer->done_calls == 0) return false;
    }
    return true;
  }

  FakeOpenAiUpstream upstream_;
  LoopThread loop_;
  CurlDriver* driver_ = nullptr;
  std::vector<std::unique_ptr<TestTransfer>> transfers_;  // loop thread
};

TEST_F(CurlDriverTest, EachTransferEndsWithOneDoneOnTheLoopNeverInsideStart) {
  upstream_.SetStream({OpenAiDeltaEvent("one"), OpenAiDeltaEvent("two"), testing::kOpenAiDoneEvent});
  constexpr int kTransfers = 40;  // more than one shard takes before the next is made
  bool done_inside_start = false;
  loop_.Run([&] {
    EXPECT_EQ(CurlDriver::For(loop_.loop()), driver_) << "one driver per loop";
    EXPECT_EQ(driver_->shards(), 1u) << "an idle driver holds one multi handle";
    for (int i = 0; i < kTransfers; ++i) Add().Start();
    for (const auto& transfer : transfers_) done_inside_start = done_inside_start || transfer->done_calls > 0;
    EXPECT_EQ(driver_->transfers(), static_cast<size_t>(kTransfers));
  });
  EXPECT_FALSE(done_inside_start);
  ASSERT_TRUE(loop_.WaitFor([&] { return AllDone(); })) << "not every transfer ended";
  loop_.Run([&] {
    for (const auto& transfer : transfers_) {
      EXPECT_EQ(transfer->done_calls, 1);
      EXPECT_TRUE(transfer->done_on_loop);
      EXPECT_EQ(transfer->result, CURLE_OK);
      EXPECT_EQ(transfer->body, OpenAiDeltaEvent("one") + OpenAiDeltaEvent("two") + testing::kOpenAiDoneEvent);
    }
    EXPECT_EQ(driver_->transfers(), 0u);
    EXPECT_EQ(driver_->shards(), 2u) << "40 transfers at once need a second shard (32 each)";
  });
  EXPECT_EQ(upstream_.request_count(), kTransfers);
}

TEST_F(CurlDriverTest, AbortEndsATransferAtOnceAndClosesItsConnection) {
  upstream_.SetStream({OpenAiDeltaEvent("a")}, FakeUpstreamScript::End::kTrickle);
  TestTransfer* transfer = nullptr;
  loop_.Run([&] {
    transfer = &Add();
    transfer->Start();
  });
  ASSERT_TRUE(loop_.WaitFor([&] { return !transfer->body.empty(); }));
  Clock::time_point aborted_at;
  loop_.Run([&] {
    aborted_at = Clock::now();
    driver_->Abort(*transfer);
    driver_->Abort(*transfer);  // twice is once
    EXPECT_EQ(transfer->done_calls, 0) << "Done ran inside Abort";
  });
  ASSERT_TRUE(loop_.WaitFor([&] { return transfer->done_calls > 0; }));
  loop_.Run([&] {
    EXPECT_EQ(transfer->result, CURLE_ABORTED_BY_CALLBACK);
    EXPECT_LT(transfer->done_at - aborted_at, milliseconds(500));
    driver_->Abort(*transfer);  // after Done: nothing
  });
  // The fake notices the closed connection on its next trickle write.
  const auto until = Clock::now() + std::chrono::seconds(5);
  while (!upstream_.client_gone_at() && Clock::now() < until) std::this_thread::sleep_for(milliseconds(5));
  ASSERT_TRUE(upstream_.client_gone_at().has_value()) << "the aborted transfer's connection stayed open";
  EXPECT_LT(*upstream_.client_gone_at() - aborted_at, milliseconds(1000));
  loop_.Run([&] { EXPECT_EQ(transfer->done_calls, 1); });
}

TEST_F(CurlDriverTest, ATransferAbortedBeforeItJoinedAMultiSendsNothing) {
  upstream_.SetStream({OpenAiDeltaEvent("a"), testing::kOpenAiDoneEvent});
  TestTransfer* transfer = nullptr;
  loop_.Run([&] {
    transfer = &Add();
    transfer->Start();
    driver_->Abort(*transfer);
  });
  ASSERT_TRUE(loop_.WaitFor([&] { return transfer->done_calls > 0; }));
  loop_.Run([&] {
    EXPECT_EQ(transfer->result, CURLE_ABORTED_BY_CALLBACK);
    EXPECT_EQ(transfer->done_calls, 1);
  });
  EXPECT_EQ(upstream_.request_count(), 0);
}

TEST_F(CurlDriverTest, OneFlushHintFollowsEachBatchOfReads) {
  std::vector<std::string> pieces;
  for (int i = 0; i < 30; ++i) pieces.push_back(OpenAiDeltaEvent("t" + std::to_string(i)));
  pieces.push_back(testing::kOpenAiDoneEvent);
  upstream_.SetStream(pieces, FakeUpstreamScript::End::kComplete, milliseconds(2));
  TestTransfer* transfer = nullptr;
  loop_.Run([&] {
    transfer = &Add();
    transfer->Start();
  });
  ASSERT_TRUE(loop_.WaitFor([&] { return transfer->done_calls > 0; }));
  loop_.Run([&] {
    const std::string& log = transfer->log;
    ASSERT_FALSE(log.empty());
    EXPECT_EQ(log.front(), 'w');
    EXPECT_EQ(log.back(), 'a') << "the last reads got no flush hint";
    EXPECT_EQ(log.find("aa"), std::string::npos) << "a flush hint without reads before it: " << log;
    EXPECT_EQ(transfer->result, CURLE_OK);
  });
}

TEST_F(CurlDriverTest, APausedTransferGetsEverythingOnceResumed) {
  std::vector<std::string> pieces;
  std::string expected;
  for (int i = 0; i < 20; ++i) {
    pieces.push_back(OpenAiDeltaEvent("p" + std::to_string(i)));
    expected += pieces.back();
  }
  upstream_.SetStream(pieces);
  TestTransfer* transfer = nullptr;
  loop_.Run([&] {
    transfer = &Add();
    transfer->pause_next_write = true;
    transfer->Start();
  });
  ASSERT_TRUE(loop_.WaitFor([&] { return transfer->paused_writes == 1; }));
  // Paused: nothing more is handed over, however long it waits.
  std::this_thread::sleep_for(milliseconds(300));
  loop_.Run([&] {
    EXPECT_TRUE(transfer->body.empty()) << "bytes arrived while paused";
    EXPECT_EQ(transfer->done_calls, 0);
    driver_->Resume(*transfer);
  });
  ASSERT_TRUE(loop_.WaitFor([&] { return transfer->done_calls > 0; }));
  loop_.Run([&] {
    EXPECT_EQ(transfer->result, CURLE_OK);
    EXPECT_EQ(transfer->body, expected);
  });
}

TEST_F(CurlDriverTest, ASocketWaitingForItsFirstDataIsInThePrioritySet) {
  FakeUpstreamScript silent;  // headers, then nothing
  silent.end = FakeUpstreamScript::End::kHang;
  FakeUpstreamScript talking;
  talking.pieces = {OpenAiDeltaEvent("hi")};
  talking.end = FakeUpstreamScript::End::kHang;
  upstream_.SetScripts({silent, talking});
  TestTransfer* waiting = nullptr;
  loop_.Run([&] {
    waiting = &Add();
    waiting->Start();
  });
  ASSERT_TRUE(loop_.WaitFor([&] { return upstream_.request_count() == 1 && driver_->priority_sockets() == 1; }))
      << "the socket of a transfer without data is not in the priority set";
  TestTransfer* reading = nullptr;
  loop_.Run([&] {
    reading = &Add();
    reading->Start();
  });
  ASSERT_TRUE(loop_.WaitFor([&] { return !reading->body.empty(); }));
  loop_.Run([&] {
    EXPECT_EQ(driver_->priority_sockets(), 1u) << "a socket left or joined the priority set wrongly";
    EXPECT_TRUE(waiting->body.empty());
    driver_->Abort(*waiting);
    driver_->Abort(*reading);
  });
  ASSERT_TRUE(loop_.WaitFor([&] { return AllDone(); }));
  loop_.Run([&] { EXPECT_EQ(driver_->priority_sockets(), 0u); });
}

TEST_F(CurlDriverTest, TheTickAsksShouldStopWithAFullCheckWhileQuiet) {
  upstream_.SetStream({}, FakeUpstreamScript::End::kHang);
  TestTransfer* transfer = nullptr;
  loop_.Run([&] {
    transfer = &Add();
    const Clock::time_point started = Clock::now();
    transfer->stop_when = [started](bool full_check) {
      return full_check && Clock::now() - started >= milliseconds(300);
    };
    transfer->Start();
  });
  ASSERT_TRUE(loop_.WaitFor([&] { return transfer->done_calls > 0; }));
  loop_.Run([&] {
    EXPECT_EQ(transfer->result, CURLE_ABORTED_BY_CALLBACK);
    EXPECT_GE(transfer->done_at - transfer->started_at, milliseconds(300));
    EXPECT_LT(transfer->done_at - transfer->started_at, milliseconds(3000));
    ASSERT_GE(transfer->checks.size(), 3u) << "ticks every 100 ms";
    for (bool full : transfer->checks) EXPECT_TRUE(full) << "a quiet transfer gets full checks";
  });
}

// The first address refuses (nothing listens on 127.0.0.2), so curl moves
// each transfer to a second socket while connecting; once it is done, no
// socket may still point at it (the old loop's LoopWatch::job could).
TEST_F(CurlDriverTest, ATransferWhoseSocketChangesLeavesNoBindingBehind) {
  upstream_.SetStream({OpenAiDeltaEvent("x"), testing::kOpenAiDoneEvent});
  const std::string host = "flowrun-test:" + std::to_string(upstream_.port());
  curl_slist* resolve = curl_slist_append(nullptr, (host + ":127.0.0.2,127.0.0.1").c_str());
  constexpr int kTransfers = 8;
  loop_.Run([&] {
    for (int i = 0; i < kTransfers; ++i) {
      TestTransfer& transfer = Add("http://" + host + "/v1/chat/completions");
      curl_easy_setopt(transfer.easy(), CURLOPT_RESOLVE, resolve);
      transfer.Start();
    }
  });
  bool consistent = true;
  ASSERT_TRUE(loop_.WaitFor([&] {
    consistent = consistent && driver_->BindingsConsistent();
    return AllDone();
  }));
  loop_.Run([&] {
    EXPECT_TRUE(consistent && driver_->BindingsConsistent()) << "a socket stayed bound to a finished transfer";
    for (const auto& transfer : transfers_) EXPECT_EQ(transfer->result, CURLE_OK);
    transfers_.clear();
  });
  curl_slist_free_all(resolve);
  EXPECT_EQ(upstream_.request_count(), kTransfers);
}

}  // namespace
}  // namespace flowrun
