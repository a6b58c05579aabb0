// Glue from file or text to a compiled Flow.
#include "flow/flow_loader.h"

#include <algorithm>
#include <filesystem>

#include "config/yaml_loader.h"
#include "flow/flow_compiler.h"

namespace flowrun {

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

std::vector<std::string> ExpandFlowPaths(const std::vector<std::string>& paths,
                                         std::vector<std::string>* errors) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const auto& path : paths) {
    std::error_code error;
    if (fs::is_directory(path, error)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(path, error); !error && it != fs::recursive_directory_iterator();
           it.increment(error)) {
        const auto extension = it->path().extension();
        if (it->is_regular_file() && (extension == ".yaml" || extension == ".yml")) {
          found.push_back(it->path().string());
        }
      }
      std::sort(found.begin(), found.end());
      if (error) {
        errors->push_back(path + ": error: cannot list the directory: " + error.message());
      } else if (found.empty()) {
        errors->push_back(path + ": error: no .yaml or .yml flow files in this directory");
      }
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(path, error)) {
      files.push_back(path);
    } else {
      errors->push_back(path + ": error: no such file or directory");
    }
  }
  return files;
}

}  // namespace flowrun
