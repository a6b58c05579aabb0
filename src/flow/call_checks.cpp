// CheckCalls (call_checks.h): each call site resolved by name, then a depth-
// first search over the callees' own calls for a way back.
#include "flow/call_checks.h"

#include <set>

#include "core/edit_distance.h"
#include "flow/runner.h"

namespace flowrun {
namespace {

// A way from `from` back to `target` through the library's calls: the flow
// names after `from`, and whether some call on it is conditional.
bool FindWayBack(const FlowLibrary& library, const std::string& from, const std::string& target,
                 std::set<std::string>& visited, std::vector<std::string>& way, bool& conditional) {
  if (!visited.insert(from).second) return false;
  std::shared_ptr<const Flow> flow = library.Find(from);
  if (flow == nullptr) return false;
  for (const auto& call : flow->calls) {
    way.push_back(call.flow);
    const bool was = conditional;
    conditional = conditional || call.conditional;
    if (call.flow == target || FindWayBack(library, call.flow, target, visited, way, conditional)) return true;
    conditional = was;
    way.pop_back();
  }
  return false;
}

}  // namespace

std::vector<CallProblem> CheckCalls(const Flow& flow, const FlowLibrary& library) {
  std::vector<CallProblem> problems;
  for (const auto& call : flow.calls) {
    Diagnostic diagnostic{flow.file, call.where, "", false};
    if (library.Find(call.flow) == nullptr) {
      diagnostic.message = "call '" + call.step + "': no flow named '" + call.flow + "' is loaded beside this one" +
                           DidYouMean(call.flow, library.Names());
      problems.push_back({true, FormatDiagnosticAtLine(diagnostic, call.line)});
      continue;
    }
    std::set<std::string> visited;
    std::vector<std::string> way = {call.flow};
    bool conditional = call.conditional;
    if (call.flow != flow.name && !FindWayBack(library, call.flow, flow.name, visited, way, conditional)) continue;
    std::string cycle = flow.name;
    for (const auto& name : way) cycle += " -> " + name;
    const std::string limit = std::to_string(kMaxCallDepth);
    if (conditional) {
      diagnostic.warning = true;
      diagnostic.message = "call '" + call.step + "' may recurse: " + cycle +
                           "; only its conditions end it (a run stops at " + limit + " nested calls)";
    } else {
      diagnostic.message = "call '" + call.step + "' makes a cycle that nothing ends: " + cycle +
                           " (a run would stop at " + limit + " nested calls)";
    }
    problems.push_back({!conditional, FormatDiagnosticAtLine(diagnostic, call.line)});
  }
  return problems;
}

}  // namespace flowrun
