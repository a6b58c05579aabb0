// CurlHandles: an easy handle (and, for transfers driven alone, a multi handle), and CurlLease, which
// lends the calling thread's pair so connections to an upstream stay alive
// between Stream calls (curl keeps its connection pool in the multi handle).
// Thread-safety: each thread has its own pair; a lease is used by one thread.
// Internal to src/llm (it exposes curl types; the layering check keeps
// such headers out of other modules).
#pragma once

#include <curl/curl.h>

#include <memory>

namespace flowrun {

class CurlHandles {
 public:
  CurlHandles();
  ~CurlHandles();
  CurlHandles(const CurlHandles&) = delete;
  CurlHandles& operator=(const CurlHandles&) = delete;

  // curl_global_init, once per process, before any other curl call.
  static void InitialiseCurl();

  bool ok() const { return easy_ != nullptr; }
  // Created on first use: transfers on the run loops (curl_driver.h) need
  // only the easy handle. Null if curl cannot create one.
  CURLM* multi();
  CURL* easy() { return easy_; }

 private:
  friend class CurlLease;
  CURLM* multi_ = nullptr;
  CURL* easy_ = nullptr;
  bool leased_ = false;
};

// Borrows this thread's handles with all options reset. A nested lease on
// the same thread (a delta callback that streams again) gets fresh handles.
class CurlLease {
 public:
  CurlLease();
  ~CurlLease();
  CurlLease(const CurlLease&) = delete;
  CurlLease& operator=(const CurlLease&) = delete;

  bool ok() const { return handles_->ok(); }
  CurlHandles& handles() { return *handles_; }

 private:
  std::unique_ptr<CurlHandles> owned_;
  CurlHandles* handles_ = nullptr;
};

}  // namespace flowrun
