// bench_report META.json RUNS.jsonl OUT.json
// Turns the load_client results of bench/run.sh into the target table
// (printed) and bench/results/latest.json (meta, table rows, raw runs).
// With several repeats a cell shows the median and [min..max].
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

using nlohmann::json;

namespace {

std::multimap<std::string, json> g_runs;  // label -> runs (repeats)

std::vector<json> Runs(const std::string& label) {
  std::vector<json> out;
  auto [b, e] = g_runs.equal_range(label);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

std::optional<std::string> Failure(const std::string& label) {
  auto runs = Runs(label);
  if (runs.empty()) return std::string("not run");
  for (auto& r : runs)
    if (r.contains("failed")) return r["failed"].get<std::string>();
  return std::nullopt;
}

// Value at a JSON pointer for every repeat.
std::vector<double> Values(const std::string& label, const std::string& pointer) {
  std::vector<double> out;
  for (auto& r : Runs(label)) {
    if (r.contains("failed")) continue;
    json::json_pointer p(pointer);
    if (r.contains(p) && r[p].is_number()) out.push_back(r[p].get<double>());
  }
  return out;
}

struct Stat {
  bool ok = false;
  double median = 0, min = 0, max = 0;
  size_t n = 0;
};

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

struct Row {
  std::string scenario, metric, direct, flowrun, compare, target, result;
};

std::vector<Row> g_rows;
json g_rows_json = json::array();
int g_pass = 0, g_fail = 0;

void Add(Row row, json extra = json::object()) {
  if (row.result == "PASS") g_pass++;
  if (row.result == "FAIL") g_fail++;
  json j = {{"scenario", row.scenario}, {"metric", row.metric}, {"direct", row.direct}, {"flowrun", row.flowrun},
            {"compare", row.compare},   {"target", row.target}, {"result", row.result}};
  j.update(extra);
  g_rows_json.push_back(j);
  g_rows.push_back(std::move(row));
}

std::string Short(std::string s, size_t n = 70) {
  if (s.size() > n) s = s.substr(0, n - 3) + "...";
  return s;
}

void ScenarioA() {
  const std::string d = "a:direct", f = "a:flowrun", sc = "a C=1 burst20";
  if (auto why = Failure(f)) {
    Add({sc, "added TTFC p50 (ms)", Cell(Summarise(Values(d, "/ttfc/p50_ms")), 4), "FAILED", Short(*why), "<= 0.15",
         "FAIL"});
    return;
  }
  // Added time per repeat, then summarised.
  auto dv = Values(d, "/ttfc/p50_ms"), fv = Values(f, "/ttfc/p50_ms");
  std::vector<double> added;
  for (size_t i = 0; i < std::min(dv.size(), fv.size()); ++i) added.push_back(fv[i] - dv[i]);
  Stat a = Summarise(added);
  Add({sc, "TTFC p50 (ms)", Cell(Summarise(dv), 4), Cell(Summarise(fv), 4), "+" + Cell(a, 4) + " added", "<= 0.15 added",
       a.ok ? (a.median <= 0.15 ? "PASS" : "FAIL") : "FAIL"},
      {{"added_ms", a.median}});
  for (const char* q : {"p90", "p99"}) {
    std::string ptr = std::string("/ttfc/") + q + "_ms";
    Stat ds = Summarise(Values(d, ptr)), fs = Summarise(Values(f, ptr));
    Add({sc, std::string("TTFC ") + q + " (ms)", Cell(ds, 4), Cell(fs, 4),
         ds.ok && fs.ok ? "+" + Num(fs.median - ds.median, 4) : "-", "", "info"});
  }
  Stat ds = Summarise(Values(d, "/streams_per_s")), fs = Summarise(Values(f, "/streams_per_s"));
  Add({sc, "streams/s (sequential)", Cell(ds, 0), Cell(fs, 0),
       ds.ok && fs.ok ? Num(fs.median / ds.median, 3) + "x" : "-", "", "info"});
  Stat cpu = Summarise(Values(f, "/processes/flowrun/cpu_s")), n = Summarise(Values(f, "/completed_ok"));
  if (cpu.ok && n.ok && n.median > 0)
    Add({sc, "flowrun CPU per stream (us)", "", Num(cpu.median / n.median * 1e6, 0), "", "", "info"});
}

void Throughput(const std::string& key, const std::string& sc, double target_ratio, bool full) {
  const std::string d = key + ":direct", f = key + ":flowrun";
  Stat dr = Summarise(Values(d, "/streams_per_s"));
  if (auto why = Failure(f)) {
    Add({sc, "streams/s", Cell(dr, 1), "FAILED", Short(*why), ">= " + Num(target_ratio, 2) + "x direct", "FAIL"});
    return;
  }
  auto dv = Values(d, "/streams_per_s"), fv = Values(f, "/streams_per_s");
  std::vector<double> ratio;
  for (size_t i = 0; i < std::min(dv.size(), fv.size()); ++i) ratio.push_back(dv[i] > 0 ? fv[i] / dv[i] : 0);
  Stat r = Summarise(ratio);
  Add({sc, "streams/s", Cell(Summarise(dv), 1), Cell(Summarise(fv), 1), Cell(r, 3) + "x",
       ">= " + Num(target_ratio, 2) + "x", r.ok && r.median >= target_ratio ? "PASS" : "FAIL"},
      {{"ratio", r.median}});
  if (full) {
    auto dp = Values(d, "/stream_duration/p99_ms"), fp = Values(f, "/stream_duration/p99_ms");
    std::vector<double> pr;
    for (size_t i = 0; i < std::min(dp.size(), fp.size()); ++i) pr.push_back(dp[i] > 0 ? fp[i] / dp[i] : 0);
    Stat p = Summarise(pr);
    // Streams that never finished are missing from the percentiles: then the p99 says nothing.
    Stat unfinished = Summarise(Values(f, "/aborted_at_end"));
    std::string compare = Cell(p, 3) + "x";
    if (unfinished.ok && unfinished.max > 0) compare += " (+" + Num(unfinished.max, 0) + " never finished)";
    Add({sc, "stream time p99 (ms)", Cell(Summarise(dp), 1), Cell(Summarise(fp), 1), compare, "<= 1.15x",
         p.ok && p.median <= 1.15 && !(unfinished.ok && unfinished.max > 0) ? "PASS" : "FAIL"},
        {{"ratio", p.median}});
  }
  // Completeness: lost + extra tokens and streams out of order / without done.
  auto bad = [&](const std::string& label) {
    std::vector<double> v;
    for (auto& run : Runs(label)) {
      if (run.contains("failed")) continue;
      v.push_back(run.value("lost_tokens", 0.0) + run.value("extra_tokens", 0.0));
    }
    return Summarise(v);
  };
  auto ooo = [&](const std::string& label) {
    std::vector<double> v;
    for (auto& run : Runs(label)) {
      if (!run.contains("failed")) v.push_back(run.value("streams_out_of_order", 0.0) + run.value("streams_bad_tokens", 0.0));
    }
    return Summarise(v);
  };
  Stat dl = bad(d), fl = bad(f), fo = ooo(f), dout = ooo(d);
  Add({sc, "lost tokens / streams out of order", Cell(dl, 0) + " / " + Cell(dout, 0), Cell(fl, 0) + " / " + Cell(fo, 0), "",
       "0 / 0", fl.ok && fl.max == 0 && fo.max == 0 ? "PASS" : "FAIL"});
  Stat de = Summarise(Values(d, "/errors")), fe = Summarise(Values(f, "/errors"));
  std::map<std::string, double> kind_sum;
  size_t repeats = 0;
  for (auto& run : Runs(f)) {
    if (!run.contains("error_kinds")) continue;
    repeats++;
    for (auto& [k, v] : run["error_kinds"].items()) kind_sum[k] += v.get<double>();
  }
  std::string kinds;
  for (auto& [k, v] : kind_sum) kinds += (kinds.empty() ? "" : ", ") + k + ": " + Num(v / std::max<size_t>(1, repeats), 0);
  if (!kinds.empty() && repeats > 1) kinds += " (mean/run)";
  Add({sc, "errors (non-200, error event, no done)", Cell(de, 0), Cell(fe, 0), Short(kinds, 60), "", "info"});
  for (const char* q : {"p50", "p99"}) {
    std::string ptr = std::string("/ttfc/") + q + "_ms";
    Add({sc, std::string("TTFC ") + q + " (ms)", Cell(Summarise(Values(d, ptr)), 2), Cell(Summarise(Values(f, ptr)), 2),
         "", "", "info"});
  }
  if (full) {
    for (const char* q : {"p50", "p99"}) {
      std::string ptr = std::string("/inter_chunk_gap/") + q + "_ms";
      Add({sc, std::string("inter-chunk gap ") + q + " (ms)", Cell(Summarise(Values(d, ptr)), 2),
           Cell(Summarise(Values(f, ptr)), 2), "", "", "info"});
    }
  }
  Stat rss = Summarise(Values(f, "/processes/flowrun/rss_peak_kib"));
  Stat thr = Summarise(Values(f, "/processes/flowrun/threads_peak"));
  Stat cpu = Summarise(Values(f, "/processes/flowrun/cpu_s"));
  Stat n = Summarise(Values(f, "/completed_ok"));
  Stat mcpu_d = Summarise(Values(d, "/processes/mock/cpu_s")), mcpu_f = Summarise(Values(f, "/processes/mock/cpu_s"));
  Stat ccpu_d = Summarise(Values(d, "/client_cpu_s")), ccpu_f = Summarise(Values(f, "/client_cpu_s"));
  Add({sc, "flowrun peak RSS (MiB) / threads", "",
       rss.ok ? Num(rss.median / 1024, 1) + " / " + Num(thr.median, 0) : "-", "", "", "info"});
  Add({sc, "CPU s: flowrun / mock / client", "- / " + Cell(mcpu_d, 1) + " / " + Cell(ccpu_d, 1),
       Cell(cpu, 1) + " / " + Cell(mcpu_f, 1) + " / " + Cell(ccpu_f, 1),
       cpu.ok && n.ok && n.median > 0 ? Num(cpu.median / n.median * 1e6, 0) + " us/stream" : "", "", "info"});
}

void ScenarioD() {
  const std::string sc = "d RSS";
  if (Runs("idle:default").empty() && Runs("b1000:flowrun").empty()) return;
  Stat idle = Summarise(Values("idle:default", "/rss_kib"));
  if (Runs("idle:default").empty()) {
    // the default server did not run (BENCH_SCENARIOS without a, c and e)
  } else if (auto why = Failure("idle:default")) {
    Add({sc, "idle RSS, default flags (MiB)", "", "FAILED", Short(*why), "<= 15", "FAIL"});
  } else {
    Add({sc, "idle RSS, default flags (MiB)", "", Cell(Stat{idle.ok, idle.median / 1024, idle.min / 1024, idle.max / 1024, idle.n}, 1),
         "", "<= 15", idle.ok && idle.median / 1024 <= 15 ? "PASS" : "FAIL"},
        {{"mib", idle.median / 1024}});
  }
  for (auto it = g_runs.begin(); it != g_runs.end(); it = g_runs.upper_bound(it->first)) {
    const std::string& label = it->first;
    if (label.rfind("idle:b", 0) != 0 || Failure(label)) continue;
    Stat rss = Summarise(Values(label, "/rss_kib")), thr = Summarise(Values(label, "/threads"));
    Add({sc, "idle RSS, " + it->second.value("serve_args", std::string()) + " (MiB)", "",
         Cell(Stat{rss.ok, rss.median / 1024, rss.min / 1024, rss.max / 1024, rss.n}, 1) + ", " + Num(thr.median, 0) +
             " threads",
         "", "", "info"});
  }
  if (Runs("b1000:flowrun").empty()) {
    // b C=1000 did not run
  } else if (auto why = Failure("b1000:flowrun")) {
    Add({sc, "RSS with 1000 open streams (MiB)", "", "FAILED", Short(*why), "<= 100", "FAIL"});
  } else {
    Stat p = Summarise(Values("b1000:flowrun", "/processes/flowrun/rss_peak_kib"));
    Add({sc, "RSS with 1000 open streams (peak during b C=1000, MiB)", "",
         Cell(Stat{p.ok, p.median / 1024, p.min / 1024, p.max / 1024, p.n}, 1), "", "<= 100",
         p.ok && p.median / 1024 <= 100 ? "PASS" : "FAIL"},
        {{"mib", p.median / 1024}});
  }
}

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
  std::cout << "\n" << g_pass << " targets met, " << g_fail << " missed; bench took " << meta.value("run_seconds", 0)
            << " s (repeat " << meta["settings"].value("repeat", 1) << ")\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: bench_report META.json RUNS.jsonl OUT.json\n";
    return 2;
  }
  json meta;
  {
    std::ifstream in(argv[1]);
    meta = json::parse(in, nullptr, false);
    if (meta.is_discarded()) meta = json::object();
  }
  json runs = json::array();
  std::ifstream in(argv[2]);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      std::cerr << "bench_report: skipping a bad line: " << line.substr(0, 80) << "\n";
      continue;
    }
    g_runs.emplace(j.value("label", std::string()), j);
    runs.push_back(j);
  }
  // A scenario left out with BENCH_SCENARIOS has no runs at all: no row, rather than a FAIL.
  auto ran = [](const std::string& key) { return !Runs(key + ":direct").empty() || !Runs(key + ":flowrun").empty(); };
  if (ran("a")) ScenarioA();
  for (const char* c : {"100", "1000", "5000"}) {
    std::string key = std::string("b") + c;
    if (!ran(key)) continue;
    Throughput(key, "b C=" + std::string(c) + " 50x20ms", std::string(c) == "5000" ? 0.90 : 0.95, true);
  }
  if (ran("c")) Throughput("c", "c C=50 burst200", 0.40, false);
  ScenarioD();
  Print(meta);
  json out = {{"meta", meta}, {"table", g_rows_json}, {"targets_met", g_pass}, {"targets_missed", g_fail},
              {"runs", runs}};
  std::ofstream o(argv[3]);
  o << out.dump(1) << "\n";
  return 0;
}
