// See report_table.h.
#include "report_table.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <utility>

namespace bench_report {
namespace {

std::multimap<std::string, json> g_runs;  // label -> runs (repeats)
std::vector<std::string> g_labels;
std::vector<Row> g_rows;
json g_rows_json = json::array();
int g_pass = 0, g_fail = 0;

}  // namespace

void AddRun(const json& run) {
  std::string label = run.value("label", std::string());
  if (g_runs.find(label) == g_runs.end()) g_labels.push_back(label);
  g_runs.emplace(std::move(label), run);
}

std::vector<json> Runs(const std::string& label) {
  std::vector<json> out;
  auto [b, e] = g_runs.equal_range(label);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

std::vector<std::string> Labels() { return g_labels; }

std::optional<std::string> Failure(const std::string& label) {
  auto runs = Runs(label);
  if (runs.empty()) return std::string("not run");
  for (auto& r : runs)
    if (r.contains("failed")) return r["failed"].is_string() ? r["failed"].get<std::string>() : "failed";
  return std::nullopt;
}

std::vector<double> Values(const std::string& label, const std::string& pointer) {
  std::vector<double> out;
  for (auto& r : Runs(label)) {
    if (r.contains("failed")) continue;
    json::json_pointer p(pointer);
    if (r.contains(p) && r[p].is_number()) out.push_back(r[p].get<double>());
  }
  return out;
}

Stat Summarise(std::vector<double> v) {
  Stat s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.ok = true;
  s.n = v.size();
  s.min = v.front();
  s.max = v.back();
  s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  return s;
}

Stat Scaled(const Stat& s, double factor) { return Stat{s.ok, s.median * factor, s.min * factor, s.max * factor, s.n}; }

std::string Num(double v, int decimals) {
  char b[64];
  snprintf(b, sizeof(b), "%.*f", decimals, v);
  return b;
}

std::string Cell(const Stat& s, int decimals) {
  if (!s.ok) return "-";
  std::string out = Num(s.median, decimals);
  if (s.n > 1) out += " [" + Num(s.min, decimals) + ".." + Num(s.max, decimals) + "]";
  return out;
}

std::string Short(std::string s, std::size_t n) {
  if (s.size() > n) s = s.substr(0, n - 3) + "...";
  return s;
}

void Add(Row row, json extra) {
  if (row.result == "PASS") g_pass++;
  if (row.result == "FAIL") g_fail++;
  json j = {{"scenario", row.scenario}, {"metric", row.metric}, {"direct", row.direct}, {"flowrun", row.flowrun},
            {"compare", row.compare},   {"target", row.target}, {"result", row.result}};
  j.update(extra);
  g_rows_json.push_back(j);
  g_rows.push_back(std::move(row));
}

const char* PassIf(bool ok) { return ok ? "PASS" : "FAIL"; }

json RowsJson() { return g_rows_json; }
int Passed() { return g_pass; }
int Missed() { return g_fail; }

void Print(const json& meta) {
  std::vector<size_t> w(7, 0);
  std::vector<std::string> head = {"scenario", "metric", "direct", "flowrun", "flowrun vs direct", "target", "result"};
  auto cols = [](const Row& r) {
    return std::vector<std::string>{r.scenario, r.metric, r.direct, r.flowrun, r.compare, r.target, r.result};
  };
  for (size_t i = 0; i < 7; ++i) w[i] = head[i].size();
  for (auto& r : g_rows) {
    auto c = cols(r);
    for (size_t i = 0; i < 7; ++i) w[i] = std::max(w[i], c[i].size());
  }
  auto line = [&](const std::vector<std::string>& c) {
    std::string s = "|";
    for (size_t i = 0; i < 7; ++i) s += " " + c[i] + std::string(w[i] - c[i].size(), ' ') + " |";
    std::cout << s << "\n";
  };
  std::cout << "\nflowrun bench  " << meta.value("date", "") << "  " << meta.value("nproc", 0) << " cores ("
            << meta.value("cpu_model", "") << "), " << Num(meta.value("mem_total_kib", 0.0) / 1048576, 1)
            << " GiB, kernel " << meta.value("kernel", "") << ", git " << meta.value("git_rev", "")
            << (meta.value("src_files_modified", 0) ? " (+uncommitted src changes)" : "") << ", load avg at end "
            << meta.value("loadavg_at_end", "") << "\n\n";
  line(head);
  std::vector<std::string> sep;
  for (size_t i = 0; i < 7; ++i) sep.push_back(std::string(w[i], '-'));
  line(sep);
  for (auto& r : g_rows) line(cols(r));
  int repeat = meta.contains("settings") ? meta["settings"].value("repeat", 1) : 1;
  std::cout << "\n" << g_pass << " targets met, " << g_fail << " missed; bench took " << meta.value("run_seconds", 0)
            << " s (repeat " << repeat << ")\n";
}

}  // namespace bench_report
