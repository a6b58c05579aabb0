// Glue from file or text to a compiled Flow.
#include "flow/flow_loader.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "config/file_reader.h"
#include "config/yaml_loader.h"
#include "flow/flow_compiler.h"

namespace flowrun {
namespace {

namespace fs = std::filesystem;

bool HasFlowExtension(const fs::path& path) {
  const auto extension = path.extension();
  return extension == ".yaml" || extension == ".yml";
}

// Every *.yaml / *.yml below `dir` that is not a directory: regular files,
// and whatever the loader must report rather than skip (links that lead
// nowhere or loop, FIFOs, devices). Only the error_code overloads: a
// symbolic link loop must not throw.
std::vector<std::string> ListDirectory(const std::string& dir, std::vector<std::string>* errors) {
  std::vector<std::string> found;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(dir, error); !error && it != fs::recursive_directory_iterator();
       it.increment(error)) {
    if (!HasFlowExtension(it->path())) continue;
    std::error_code status_error;
    const fs::file_status status = it->status(status_error);  // follows links
    if (!status_error && fs::is_directory(status)) continue;
    found.push_back(it->path().string());
  }
  std::sort(found.begin(), found.end());
  if (error) {
    errors->push_back(dir + ": error: cannot list the directory: " + error.message());
  } else if (found.empty()) {
    errors->push_back(dir + ": error: no .yaml or .yml flow files in this directory");
  }
  return found;
}

}  // namespace

LoadResult LoadFlowFromString(std::string_view source, const std::string& file_name,
                              const StepRegistry& registry, const StepEnvironment& environment) {
  LoadResult result{nullptr, Diagnostics(file_name, std::string(source))};
  auto root = ParseYaml(source, result.diagnostics);
  if (!root) return result;
  result.flow = CompileFlow(*root, registry, environment, result.diagnostics);
  return result;
}

LoadResult LoadFlowFromFile(const std::string& path, const StepRegistry& registry,
                            const StepEnvironment& environment) {
  Diagnostics read_errors(path);
  auto text = ReadTextFile(path, read_errors);
  if (!text) return {nullptr, std::move(read_errors)};
  return LoadFlowFromString(*text, path, registry, environment);
}

std::vector<std::shared_ptr<const Flow>> LoadSiblingFlows(const std::string& path, const StepRegistry& registry,
                                                          const StepEnvironment& environment) {
  std::vector<std::shared_ptr<const Flow>> flows;
  std::error_code error;
  const fs::path self = fs::path(path);
  const fs::path dir = self.has_parent_path() ? self.parent_path() : fs::path(".");
  std::vector<std::string> files;
  for (auto it = fs::directory_iterator(dir, error); !error && it != fs::directory_iterator(); it.increment(error)) {
    std::error_code status_error;
    if (!HasFlowExtension(it->path()) || !it->is_regular_file(status_error)) continue;
    if (fs::equivalent(it->path(), self, status_error)) continue;
    files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    LoadResult loaded = LoadFlowFromFile(file, registry, environment);
    if (loaded.flow) flows.push_back(std::move(loaded.flow));
  }
  return flows;
}

std::vector<std::string> ExpandFlowPaths(const std::vector<std::string>& paths,
                                         std::vector<std::string>* errors) {
  std::vector<std::string> files;
  for (const auto& path : paths) {
    struct stat info {};
    if (stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
      const auto found = ListDirectory(path, errors);
      files.insert(files.end(), found.begin(), found.end());
    } else if (lstat(path.c_str(), &info) == 0) {
      // Anything that exists, even a link that loops or leads nowhere: the
      // loader says what is wrong with it.
      files.push_back(path);
    } else {
      errors->push_back(path + ": error: no such file or directory");
    }
  }
  return files;
}

}  // namespace flowrun
