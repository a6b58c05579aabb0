// Counting SAX pass for JsonLimits; see json_limits.h.
#include "server/json_limits.h"

#include <string>

#include <nlohmann/json.hpp>

namespace flowrun {
namespace {

// Counts values and open containers; returning false stops the parser.
enum class JsonShape { kOk, kInvalid, kTooDeep, kTooManyElements };

class ShapeCounter {
 public:
  explicit ShapeCounter(const JsonLimits& limits) : limits_(limits) {}

  JsonShape shape() const { return shape_; }

  bool null() { return Value(); }
  bool boolean(bool) { return Value(); }
  bool number_integer(nlohmann::json::number_integer_t) { return Value(); }
  bool number_unsigned(nlohmann::json::number_unsigned_t) { return Value(); }
  bool number_float(nlohmann::json::number_float_t, const std::string&) { return Value(); }
  bool string(std::string&) { return Value(); }
  bool binary(nlohmann::json::binary_t&) { return Value(); }
  bool key(std::string&) { return true; }
  bool start_object(std::size_t) { return Open(); }
  bool end_object() { return Close(); }
  bool start_array(std::size_t) { return Open(); }
  bool end_array() { return Close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    shape_ = JsonShape::kInvalid;
    return false;
  }

 private:
  bool Value() {
    if (++elements_ <= limits_.max_elements) return true;
    shape_ = JsonShape::kTooManyElements;
    return false;
  }
  bool Open() {
    if (!Value()) return false;
    if (++depth_ <= limits_.max_depth) return true;
    shape_ = JsonShape::kTooDeep;
    return false;
  }
  bool Close() {
    --depth_;
    return true;
  }

  const JsonLimits& limits_;
  std::size_t elements_ = 0;
  std::size_t depth_ = 0;
  JsonShape shape_ = JsonShape::kOk;
};

}  // namespace

Status CheckJsonShape(std::string_view text, const JsonLimits& limits) {
  ShapeCounter counter(limits);
  const bool parsed = nlohmann::json::sax_parse(text.begin(), text.end(), &counter);
  switch (parsed ? JsonShape::kOk : counter.shape()) {
    case JsonShape::kOk:
      return Status::Ok();
    case JsonShape::kTooDeep:
      return Status::ResourceExhausted("the request body's JSON is nested deeper than " + std::to_string(limits.max_depth) +
                                       " levels (--max-json-depth)");
    case JsonShape::kTooManyElements:
      return Status::ResourceExhausted("the request body's JSON has more than " + std::to_string(limits.max_elements) +
                                       " values (--max-json-elements)");
    case JsonShape::kInvalid:
      break;
  }
  return Status::InvalidArgument("the request body is not valid JSON");
}

}  // namespace flowrun
