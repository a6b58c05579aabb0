// The pieces bench_report builds its table from: the load_client runs by
// label, per-repeat values and their summary (median [min..max]), the rows
// with their PASS/FAIL results, and the printed table. Single-threaded.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bench_report {

using nlohmann::json;

// Every run line of runs.jsonl, by label (one per repeat).
void AddRun(const json& run);
std::vector<json> Runs(const std::string& label);
// All labels seen, in order.
std::vector<std::string> Labels();
// Why `label` has no result: "not run", or the first repeat's "failed" text.
std::optional<std::string> Failure(const std::string& label);
// The number at a JSON pointer, for every repeat that has it.
std::vector<double> Values(const std::string& label, const std::string& pointer);

struct Stat {
  bool ok = false;
  double median = 0, min = 0, max = 0;
  std::size_t n = 0;
};
Stat Summarise(std::vector<double> v);
Stat Scaled(const Stat& s, double factor);  // every field times factor
std::string Num(double v, int decimals);
std::string Cell(const Stat& s, int decimals);  // "median [min..max]", "-" if none
std::string Short(std::string s, std::size_t n = 70);

struct Row {
  std::string scenario, metric, direct, flowrun, compare, target, result;
};
// Adds a row; "PASS"/"FAIL" results are counted. `extra` joins the row's JSON.
void Add(Row row, json extra = json::object());
const char* PassIf(bool ok);

json RowsJson();
int Passed();
int Missed();
void Print(const json& meta);

}  // namespace bench_report
