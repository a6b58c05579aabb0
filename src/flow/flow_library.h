// FlowLibrary: the flows a `call` step may run, by name — the flows served
// together, or those beside a file given to `run`. Immutable once built and
// shared (shared_ptr<const FlowLibrary>) by every run that may call into
// it; a run holds it to its end, so a reload never frees a flow in use.
// Thread-safe (read-only).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "flow/flow.h"

namespace flowrun {

class FlowLibrary {
 public:
  // The first flow of each name wins (a later one of the same name is ignored).
  explicit FlowLibrary(const std::vector<std::shared_ptr<const Flow>>& flows) {
    for (const auto& flow : flows) {
      if (flow != nullptr) by_name_.emplace(flow->name, flow);
    }
  }

  // nullptr when no flow has that name.
  std::shared_ptr<const Flow> Find(const std::string& name) const {
    auto found = by_name_.find(name);
    return found == by_name_.end() ? nullptr : found->second;
  }

  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& [name, flow] : by_name_) names.push_back(name);
    return names;
  }

 private:
  std::map<std::string, std::shared_ptr<const Flow>> by_name_;
};

}  // namespace flowrun
