// Reloading flow files while keeping the last good version of each.
#include "flow/flow_catalog.h"

#include <sys/stat.h>

#include <cerrno>
#include <set>

#include "config/file_reader.h"
#include "flow/call_checks.h"
#include "flow/flow_library.h"
#include "flow/flow_loader.h"

namespace flowrun {

std::vector<std::string> EndpointClashes(const std::vector<std::shared_ptr<const Flow>>& flows) {
  std::vector<std::string> clashes;
  std::map<std::string, const Flow*> owners;
  for (const auto& flow : flows) {
    auto [owner, added] = owners.emplace(flow->endpoint, flow.get());
    if (added) continue;
    const Flow& first = *owner->second;
    clashes.push_back("flows '" + first.name + "' (" + first.file + ") and '" + flow->name + "' (" + flow->file +
                      ") both use endpoint " + flow->endpoint);
  }
  std::map<std::string, const Flow*> models;  // ids at /v1/chat/completions
  for (const auto& flow : flows) {
    if (!flow->openai.exposed) continue;
    auto [owner, added] = models.emplace(OpenAiModelId(*flow), flow.get());
    if (added) continue;
    const Flow& first = *owner->second;
    clashes.push_back("flows '" + first.name + "' (" + first.file + ") and '" + flow->name + "' (" + flow->file +
                      ") both use model id '" + owner->first + "'; give one of them another with openai.model");
  }
  return clashes;
}

FlowCatalog::Candidate FlowCatalog::Reload() {
  Candidate candidate;
  std::vector<std::string> errors;
  const auto files = ExpandFlowPaths(paths_, &errors);
  candidate.problems = errors;
  pending_.clear();
  // A listing that failed (a missing directory, no file descriptors left)
  // must not unload anything: keep every flow it could not see.
  if (!errors.empty()) pending_ = committed_;
  for (const auto& file : files) {
    Diagnostics read_errors(file);
    auto content = ReadTextFile(file, read_errors);
    auto previous = committed_.find(file);
    const bool known = previous != committed_.end();
    if (!content) {
      // The previous version (if any) keeps serving; the same problem is
      // reported once, not on every poll.
      const std::string problem = read_errors.ToString();
      pending_[file] = {"", problem, known ? previous->second.flow : nullptr};
      if (known && previous->second.read_error == problem) continue;
      candidate.problems.push_back(problem);
      candidate.changed = true;
      continue;
    }
    if (known && previous->second.read_error.empty() && previous->second.content == *content) {
      pending_[file] = previous->second;
      continue;
    }
    candidate.changed = true;
    LoadResult loaded = LoadFlowFromString(*content, file, registry_, environment_);
    if (loaded.flow) {
      pending_[file] = {*content, "", loaded.flow};
      candidate.reloaded.push_back(file);
      if (loaded.diagnostics.warning_count() > 0) candidate.warnings.push_back(loaded.diagnostics.ToString());
    } else {
      candidate.problems.push_back(loaded.diagnostics.ToString());
      // The previous version keeps serving; remember the bad text so it is
      // reported once, not on every poll.
      pending_[file] = {*content, "", known ? previous->second.flow : nullptr};
    }
  }
  if (pending_.size() != committed_.size()) candidate.changed = true;
  if (!errors.empty() && candidate.reloaded.empty()) candidate.changed = false;
  CheckCandidateCalls(candidate);
  for (const auto& [file, entry] : pending_) {
    if (entry.flow) candidate.flows.push_back(entry.flow);
  }
  return candidate;
}

void FlowCatalog::CheckCandidateCalls(Candidate& candidate) {
  // A refused version can break another's call: repeat until nothing changes
  // (at most once per file).
  std::set<std::string> reported;
  for (size_t pass = 0; pass <= pending_.size(); ++pass) {
    std::vector<std::shared_ptr<const Flow>> flows;
    for (const auto& [file, entry] : pending_) {
      if (entry.flow) flows.push_back(entry.flow);
    }
    const FlowLibrary library(flows);
    bool refused = false;
    for (auto& [file, entry] : pending_) {
      if (!entry.flow || entry.flow->calls.empty()) continue;
      auto previous = committed_.find(file);
      const bool is_new = previous == committed_.end() || previous->second.flow != entry.flow;
      bool call_errors = false;
      for (const auto& problem : CheckCalls(*entry.flow, library)) {
        // An unchanged flow's warnings were reported when it loaded.
        if ((!is_new && !problem.error) || !reported.insert(problem.text).second) continue;
        (problem.error ? candidate.problems : candidate.warnings).push_back(problem.text);
        call_errors = call_errors || problem.error;
      }
      if (!call_errors || !is_new) continue;
      entry.flow = previous != committed_.end() ? previous->second.flow : nullptr;
      std::erase(candidate.reloaded, file);
      refused = true;
    }
    if (!refused) return;
  }
}

void FlowCatalog::Commit() { committed_ = pending_; }

std::string FlowCatalog::Fingerprint() const {
  std::vector<std::string> errors;
  std::string fingerprint;
  for (const auto& file : ExpandFlowPaths(paths_, &errors)) {
    struct stat info {};
    if (stat(file.c_str(), &info) != 0) {
      // Listed but not readable (a link that loops or leads nowhere): a
      // reload reports it.
      fingerprint += file + ": error " + std::to_string(errno) + "\n";
      continue;
    }
    fingerprint += file + ":" + std::to_string(info.st_size) + ":" + std::to_string(info.st_mtim.tv_sec) + "." +
                   std::to_string(info.st_mtim.tv_nsec) + ":" + std::to_string(info.st_ino) + "\n";
  }
  return fingerprint;
}

}  // namespace flowrun
