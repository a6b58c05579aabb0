// Flow: a loaded, ready-to-run flow. Immutable once built and shared by all
// concurrent runs (held by shared_ptr<const Flow>), so a reload can swap in
// a new version while running streams finish on the old one. Read-only,
// so any number of threads may use one Flow at once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "flow/flow_graph.h"
#include "flow/input_schema.h"
#include "steps/step.h"

namespace flowrun {

struct FlowStep {
  std::string id;
  std::string type;
  std::unique_ptr<Step> step;
};

struct Flow {
  std::string file;  // where it was loaded from ("" when from a string)
  std::string name;
  std::string endpoint;  // POST path, e.g. "/chat"
  std::string description;
  InputSchema input;
  std::vector<FlowStep> steps;
  std::shared_ptr<const FlowGraph> graph;  // its picture (flowrun graph, the playground); never null once loaded
};

}  // namespace flowrun
