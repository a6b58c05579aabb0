// CurlHandles and CurlLease: process-wide curl initialisation and the
// per-thread handle cache.
#include "llm/curl_handles.h"

#include <mutex>

namespace flowrun {
namespace {

std::once_flag g_curl_initialised;

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
    curl_easy_reset(handles_->easy_);  // StreamAttempt::Prepare sets every option it needs
  }
}

CurlLease::~CurlLease() { handles_->leased_ = false; }

}  // namespace flowrun
