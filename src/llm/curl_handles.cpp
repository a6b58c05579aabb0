// CurlHandles and CurlLease: process-wide curl initialisation and the
// per-thread handle cache.
#include "llm/curl_handles.h"

#include <mutex>

namespace flowrun {
namespace {

std::once_flag g_curl_initialised;

// libcurl 7.88 gives every easy handle a receive buffer of CURLOPT_BUFFERSIZE
// (16 KiB by default), and an open stream holds a handle: up to 125 MiB at
// 8000 streams once bursts have touched the buffers. An SSE event is a few
// hundred bytes and the line parser joins a line across reads, so 4 KiB only
// costs more reads in a burst.
constexpr long kReceiveBufferBytes = 4 * 1024;

}  // namespace

void CurlHandles::InitialiseCurl() {
  // curl_global_init is not thread-safe in every libcurl; run it once, first.
  std::call_once(g_curl_initialised, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CurlHandles::CurlHandles() {
  InitialiseCurl();
  easy_ = curl_easy_init();
}

CURLM* CurlHandles::multi() {
  if (multi_ == nullptr) multi_ = curl_multi_init();
  return multi_;
}

CurlHandles::~CurlHandles() {
  if (easy_ != nullptr) curl_easy_cleanup(easy_);
  if (multi_ != nullptr) curl_multi_cleanup(multi_);
}

CurlLease::CurlLease() {
  thread_local CurlHandles per_thread;
  if (per_thread.leased_ || !per_thread.ok()) {
    owned_ = std::make_unique<CurlHandles>();
    handles_ = owned_.get();
  } else {
    handles_ = &per_thread;
  }
  handles_->leased_ = true;
  if (handles_->easy_ != nullptr) {
    curl_easy_reset(handles_->easy_);
    curl_easy_setopt(handles_->easy_, CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
  }
}

CurlLease::~CurlLease() { handles_->leased_ = false; }

}  // namespace flowrun
