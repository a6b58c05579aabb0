// FlowCatalog: the flows `serve` loaded from its files and directories, and
// their reloading. A reload re-reads every file whose content changed; a
// file that no longer compiles keeps its previous flow (the diagnostics are
// reported), so an invalid edit never replaces a working flow; so does a
// file that can no longer be read. Reload reports every problem (a limit
// reached, a symbolic link loop, a FIFO) as text and never throws. Calls
// resolve among the flows served together: a new version whose `call`
// names no served flow (or cycles with nothing to end it) is refused like
// one that does not compile. Not
// thread-safe: the caller serialises Reload/Commit.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "flow/flow.h"
#include "steps/step_registry.h"

namespace flowrun {

// Every pair of flows that would share an endpoint, in the words `serve`
// refuses them with: "flows 'a' (a.yaml) and 'b' (b.yaml) both use endpoint
// /chat", and every pair that would answer to one model id at /v1 ("... both
// use model id 'x'; give one of them another with openai.model"). Empty when there are none.
std::vector<std::string> EndpointClashes(const std::vector<std::shared_ptr<const Flow>>& flows);

class FlowCatalog {
 public:
  FlowCatalog(std::vector<std::string> paths, const StepRegistry& registry, StepEnvironment environment)
      : paths_(std::move(paths)), registry_(registry), environment_(std::move(environment)) {}

  struct Candidate {
    std::vector<std::shared_ptr<const Flow>> flows;  // what would be served
    std::vector<std::string> problems;               // formatted diagnostics / errors
    std::vector<std::string> warnings;               // formatted warnings of the files (re)loaded
    std::vector<std::string> reloaded;               // files whose new version compiled
    bool changed = false;                            // anything differs from what is committed
  };

  // Loads what changed since the last commit (everything the first time).
  Candidate Reload();
  // Makes the last candidate the current state (after the server accepted it).
  void Commit();

  // A cheap fingerprint of the files (names, sizes, modification times):
  // when it changes, Reload() has something to do.
  std::string Fingerprint() const;

 private:
  struct Entry {
    std::string content;
    std::string read_error;            // why the file could not be read ("" if it was)
    std::shared_ptr<const Flow> flow;  // nullptr: never compiled
  };

  std::vector<std::string> paths_;
  const StepRegistry& registry_;
  StepEnvironment environment_;
  std::map<std::string, Entry> committed_;  // by file
  std::map<std::string, Entry> pending_;    // the last candidate's entries

  // Refuses the new versions whose calls do not resolve among the others.
  void CheckCandidateCalls(Candidate& candidate);
};

}  // namespace flowrun
