// Edit distance and "did you mean" suggestions for misspelt names.
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flowrun {

// Levenshtein distance (insert, delete, replace each cost 1).
int EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `name`, if it is close enough to be a plausible typo.
std::optional<std::string> ClosestMatch(std::string_view name,
                                        const std::vector<std::string>& candidates);

// "; did you mean 'x'?" or "" when nothing is close.
std::string DidYouMean(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace flowrun
