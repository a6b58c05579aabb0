// Shared helpers for the bench tools: clock, fd limit, log-linear histogram,
// tiny string utilities. Header-only; no dependencies beyond libc/libstdc++.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

inline int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
inline long RaiseFdLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<long>(limit.rlim_cur);
}

inline void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }

// Log-linear histogram of non-negative int64 values (nanoseconds): 128
// sub-buckets per power of two, i.e. < 0.8 % relative error. Fixed memory.
class Histogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr int kSub = 1 << kSubBits;
  Histogram() : counts_(64 * kSub, 0) {}

  void Add(int64_t v) {
    if (v < 0) v = 0;
    counts_[Index(v)]++;
    if (count_ == 0 || v < min_) min_ = v;
    if (v > max_) max_ = v;
    count_++;
    sum_ += static_cast<double>(v);
  }
  uint64_t count() const { return count_; }
  int64_t min() const { return count_ ? min_ : 0; }
  int64_t max() const { return max_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0; }
  // Value at quantile q in [0,1] (bucket midpoint, clamped to min/max).
  int64_t Quantile(double q) const {
    if (count_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count_ - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        int64_t lo = Low(i), hi = Low(i + 1) - 1;
        int64_t mid = lo + (hi - lo) / 2;
        if (mid < min_) mid = min_;
        if (mid > max_) mid = max_;
        return mid;
      }
    }
    return max_;
  }

 private:
  static size_t Index(int64_t v) {
    if (v < kSub) return static_cast<size_t>(v);
    int e = 63 - __builtin_clzll(static_cast<uint64_t>(v));  // >= kSubBits
    int shift = e - kSubBits;
    int64_t sub = (v >> shift) & (kSub - 1);
    return static_cast<size_t>((shift + 1) * kSub + sub);
  }
  static int64_t Low(size_t index) {
    int64_t block = static_cast<int64_t>(index) / kSub;
    int64_t sub = static_cast<int64_t>(index) % kSub;
    if (block == 0) return sub;
    int shift = static_cast<int>(block) - 1;
    return (static_cast<int64_t>(kSub) + sub) << shift;
  }
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  int64_t min_ = 0, max_ = 0;
  double sum_ = 0;
};

inline bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  return strncasecmp(s.data(), prefix.data(), prefix.size()) == 0;
}

inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Decodes the JSON string starting at s[pos] == '"'. Returns false on a
// malformed string. \u escapes are decoded to UTF-8 (surrogates paired).
inline bool DecodeJsonString(std::string_view s, size_t pos, std::string* out, size_t* end = nullptr) {
  out->clear();
  if (pos >= s.size() || s[pos] != '"') return false;
  auto hex4 = [&](size_t at, unsigned* value) {
    if (at + 4 > s.size()) return false;
    unsigned v = 0;
    for (size_t k = 0; k < 4; ++k) {
      char c = s[at + k];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else return false;
    }
    *value = v;
    return true;
  };
  for (size_t i = pos + 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') {
      if (end) *end = i + 1;
      return true;
    }
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (++i >= s.size()) return false;
    switch (s[i]) {
      case '"': out->push_back('"'); break;
      case '\\': out->push_back('\\'); break;
      case '/': out->push_back('/'); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case 'u': {
        unsigned cp = 0;
        if (!hex4(i + 1, &cp)) return false;
        i += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < s.size() && s[i + 1] == '\\' && s[i + 2] == 'u') {
          unsigned lo = 0;
          if (hex4(i + 3, &lo) && lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          }
        }
        if (cp < 0x80) {
          out->push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
          out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
          out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
          out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
          out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
          out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
          out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
          out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
          out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
          out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
        break;
      }
      default: return false;
    }
  }
  return false;
}

// Finds `"key":` (optionally with spaces after the colon) in a flat scan
// of a JSON text and returns the position of the value's first character.
inline size_t FindJsonValue(std::string_view json, std::string_view key, size_t from = 0) {
  std::string needle = "\"" + std::string(key) + "\"";
  for (size_t at = json.find(needle, from); at != std::string_view::npos; at = json.find(needle, at + 1)) {
    size_t i = at + needle.size();
    while (i < json.size() && (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r')) ++i;
    if (i < json.size() && json[i] == ':') {
      ++i;
      while (i < json.size() && (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r')) ++i;
      return i;
    }
  }
  return std::string_view::npos;
}

}  // namespace bench
