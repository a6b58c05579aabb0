// bench_report META.json RUNS.jsonl OUT.json
// Turns the load_client results of bench/run.sh into the target table
// (printed) and bench/results/latest.json (meta, table rows, raw runs).
// With several repeats a cell shows the median and [min..max]. The targets
// are those of issue #10 (bench/README.md, "Scenarios and targets").
// Single-threaded.
#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "report_table.h"

using namespace bench_report;

namespace {

// f(run) for every repeat of `label` that did not fail.
std::vector<double> PerRun(const std::string& label, const std::function<double(const json&)>& f) {
  std::vector<double> out;
  for (auto& run : Runs(label))
    if (!run.contains("failed")) out.push_back(f(run));
  return out;
}

double At(const json& run, const std::string& pointer) {
  json::json_pointer p(pointer);
  return run.contains(p) && run[p].is_number() ? run[p].get<double>() : 0.0;
}

// Ratio a[i] / b[i] of the repeats, in order.
Stat Ratio(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> r;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) r.push_back(b[i] > 0 ? a[i] / b[i] : 0);
  return Summarise(r);
}

void ScenarioA() {
  const std::string d = "a:direct", f = "a:flowrun", sc = "a C=1 burst20";
  const double target = 0.10;
  const std::string target_text = "<= " + Num(target, 2) + " added";
  if (auto why = Failure(f)) {
    Add({sc, "added TTFC p50 (ms)", Cell(Summarise(Values(d, "/ttfc/p50_ms")), 4), "FAILED", Short(*why), target_text,
         "FAIL"});
    return;
  }
  // Added time per repeat, then summarised.
  auto dv = Values(d, "/ttfc/p50_ms"), fv = Values(f, "/ttfc/p50_ms");
  std::vector<double> added;
  for (size_t i = 0; i < std::min(dv.size(), fv.size()); ++i) added.push_back(fv[i] - dv[i]);
  Stat a = Summarise(added);
  Add({sc, "TTFC p50 (ms)", Cell(Summarise(dv), 4), Cell(Summarise(fv), 4), "+" + Cell(a, 4) + " added", target_text,
       PassIf(a.ok && a.median <= target)},
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
  Stat cpu = Summarise(PerRun(f, [](const json& r) {
    return At(r, "/completed_ok") > 0 ? At(r, "/processes/flowrun/cpu_s") / At(r, "/completed_ok") * 1e6 : 0;
  }));
  Add({sc, "flowrun CPU per stream (us)", "", Cell(cpu, 0), "", "", "info"});
}

// What a streaming scenario must show; 0 (or false) leaves the row as info.
struct Targets {
  double ratio = 0;          // flowrun streams/s >= ratio x direct
  double p99 = 0;            // flowrun stream time p99 <= p99 x direct
  double cpu_us = 0;         // flowrun CPU per completed stream
  double rss_mib = 0;        // flowrun peak RSS
  double threads = 0;        // flowrun peak threads
  bool no_errors = false;    // every stream completes: 0 errors
  bool gaps = false;         // inter-chunk gap rows
  bool has_direct = true;    // false: flowrun only (the direct columns say so)
  double paced_ms = 0;       // flowrun only: the pause before each token, for the ideal stream time
};

void Streams(const std::string& key, const std::string& sc, const Targets& t) {
  const std::string d = key + ":direct", f = key + ":flowrun";
  const std::string none = t.has_direct ? "" : "n/a (no direct side)";
  auto dcell = [&](const Stat& s, int decimals) { return t.has_direct ? Cell(s, decimals) : std::string("-"); };
  Stat dr = Summarise(Values(d, "/streams_per_s"));
  const std::string ratio_target = t.has_direct && t.ratio > 0 ? ">= " + Num(t.ratio, 2) + "x" : "";
  if (auto why = Failure(f)) {
    Add({sc, "streams/s", t.has_direct ? Cell(dr, 1) : none, "FAILED", Short(*why), ratio_target, "FAIL"});
    return;
  }
  auto dv = Values(d, "/streams_per_s"), fv = Values(f, "/streams_per_s");
  Stat fe = Summarise(Values(f, "/errors")), unfinished = Summarise(Values(f, "/aborted_at_end"));
  const bool all_served = fe.ok && fe.max == 0 && !(unfinished.ok && unfinished.max > 0);
  if (t.has_direct) {
    Stat r = Ratio(fv, dv);
    Add({sc, "streams/s", Cell(Summarise(dv), 1), Cell(Summarise(fv), 1), Cell(r, 3) + "x", ratio_target,
         t.ratio > 0 ? PassIf(r.ok && r.median >= t.ratio) : "info"},
        {{"ratio", r.median}});
  } else {
    Add({sc, "streams/s", none, Cell(Summarise(fv), 1), "", "", "info"});
  }
  if (t.has_direct && t.p99 > 0) {
    Stat p = Ratio(Values(f, "/stream_duration/p99_ms"), Values(d, "/stream_duration/p99_ms"));
    // Streams refused or never finished are missing from the percentiles: then the p99 says nothing.
    std::string compare = Cell(p, 3) + "x";
    if (unfinished.ok && unfinished.max > 0) compare += " (+" + Num(unfinished.max, 0) + " never finished)";
    else if (fe.ok && fe.max > 0) compare += " (of served streams only; " + Num(fe.max, 0) + " errors)";
    Add({sc, "stream time p99 (ms)", Cell(Summarise(Values(d, "/stream_duration/p99_ms")), 1),
         Cell(Summarise(Values(f, "/stream_duration/p99_ms")), 1), compare, "<= " + Num(t.p99, 2) + "x",
         PassIf(p.ok && p.median <= t.p99 && all_served)},
        {{"ratio", p.median}});
  } else if (!t.has_direct) {
    Stat tokens = Summarise(Values(f, "/expect_tokens"));
    Add({sc, "stream time p50 / p99 (ms)", none,
         Cell(Summarise(Values(f, "/stream_duration/p50_ms")), 1) + " / " +
             Cell(Summarise(Values(f, "/stream_duration/p99_ms")), 1),
         t.paced_ms > 0 && tokens.ok ? "paced: " + Num(tokens.median, 0) + " tokens x " + Num(t.paced_ms, 0) + " ms = " +
                                           Num(tokens.median * t.paced_ms, 0) + " ms"
                                     : "",
         "", "info"});
  }
  // Completeness: lost + extra tokens, and streams out of order or with wrong text.
  auto bad = [](const json& run) { return At(run, "/lost_tokens") + At(run, "/extra_tokens"); };
  auto ooo = [](const json& run) { return At(run, "/streams_out_of_order") + At(run, "/streams_bad_tokens"); };
  Stat dl = Summarise(PerRun(d, bad)), fl = Summarise(PerRun(f, bad));
  Stat dout = Summarise(PerRun(d, ooo)), fo = Summarise(PerRun(f, ooo));
  Add({sc, "lost tokens / streams out of order or wrong text", t.has_direct ? Cell(dl, 0) + " / " + Cell(dout, 0) : "-",
       Cell(fl, 0) + " / " + Cell(fo, 0), "", "0 / 0", PassIf(fl.ok && fl.max == 0 && fo.max == 0)});
  // Errors by kind (e.g. "http 503" for streams refused at the limit), mean per repeat.
  Stat de = Summarise(Values(d, "/errors"));
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
  Add({sc, "errors (non-200, error event, no done, unfinished)", dcell(de, 0), Cell(fe, 0), Short(kinds, 80),
       t.no_errors ? "0" : "", t.no_errors ? PassIf(all_served) : "info"});
  Stat conc = Summarise(PerRun(f, [](const json& r) { return At(r, "/concurrency"); }));
  if (conc.ok && conc.median >= 1000) {
    auto open = [](const std::string& label) {
      return Cell(Summarise(Values(label, "/open_streams_peak")), 0) + " / " +
             Cell(Summarise(Values(label, "/open_streams_mean")), 0);
    };
    Add({sc, "open streams: peak / mean in window", t.has_direct ? open(d) : "-", open(f), "of C=" + Num(conc.median, 0),
         "", "info"});
  }
  for (const char* q : {"p50", "p99"}) {
    std::string ptr = std::string("/ttfc/") + q + "_ms";
    Add({sc, std::string("TTFC ") + q + " (ms)", dcell(Summarise(Values(d, ptr)), 2), Cell(Summarise(Values(f, ptr)), 2),
         "", "", "info"});
  }
  if (t.gaps) {
    for (const char* q : {"p50", "p99"}) {
      std::string ptr = std::string("/inter_chunk_gap/") + q + "_ms";
      Add({sc, std::string("inter-chunk gap ") + q + " (ms)", dcell(Summarise(Values(d, ptr)), 2),
           Cell(Summarise(Values(f, ptr)), 2), "", "", "info"});
    }
  }
  Stat rss = Scaled(Summarise(Values(f, "/processes/flowrun/rss_peak_kib")), 1.0 / 1024);
  Stat thr = Summarise(Values(f, "/processes/flowrun/threads_peak"));
  // A peak measured while fewer streams were open than asked for says less.
  Stat open_peak = Summarise(Values(f, "/open_streams_peak"));
  const std::string held = conc.ok && open_peak.ok && open_peak.median < conc.median
                               ? "with only " + Num(open_peak.median, 0) + " streams open"
                               : "";
  if (t.rss_mib > 0)
    Add({sc, "flowrun peak RSS (MiB)", "", Cell(rss, 1), held, "<= " + Num(t.rss_mib, 0),
         PassIf(rss.ok && rss.median <= t.rss_mib)});
  if (t.threads > 0)
    Add({sc, "flowrun peak threads", "", Cell(thr, 0), held, "<= " + Num(t.threads, 0),
         PassIf(thr.ok && thr.median <= t.threads)});
  if (t.rss_mib <= 0 || t.threads <= 0)
    Add({sc, "flowrun peak RSS (MiB) / threads", "", Cell(rss, 1) + " / " + Cell(thr, 0), "", "", "info"});
  Stat per_stream = Summarise(PerRun(f, [](const json& r) {
    return At(r, "/completed_ok") > 0 ? At(r, "/processes/flowrun/cpu_s") / At(r, "/completed_ok") * 1e6 : 0;
  }));
  if (t.cpu_us > 0)
    Add({sc, "flowrun CPU per stream (us)", "", Cell(per_stream, 0), "", "<= " + Num(t.cpu_us, 0),
         PassIf(per_stream.ok && per_stream.median > 0 && per_stream.median <= t.cpu_us)},
        {{"us", per_stream.median}});
  Stat cpu = Summarise(Values(f, "/processes/flowrun/cpu_s"));
  Stat mcpu_d = Summarise(Values(d, "/processes/mock/cpu_s")), mcpu_f = Summarise(Values(f, "/processes/mock/cpu_s"));
  Stat ccpu_d = Summarise(Values(d, "/client_cpu_s")), ccpu_f = Summarise(Values(f, "/client_cpu_s"));
  Add({sc, "CPU s: flowrun / mock / client", t.has_direct ? "- / " + Cell(mcpu_d, 1) + " / " + Cell(ccpu_d, 1) : "-",
       Cell(cpu, 1) + " / " + Cell(mcpu_f, 1) + " / " + Cell(ccpu_f, 1),
       per_stream.ok ? Num(per_stream.median, 0) + " us/stream" : "", "", "info"});
  // Time runnable but waiting for a CPU: on a shared machine, how starved each
  // process was (flowrun's counts only threads alive at the start and end).
  auto wait = [](const std::string& label, const std::string& pointer) { return Cell(Summarise(Values(label, pointer)), 1); };
  Add({sc, "CPU wait s (run queue): flowrun / mock / client",
       t.has_direct ? "- / " + wait(d, "/processes/mock/runq_wait_s") + " / " + wait(d, "/client_runq_wait_s") : "-",
       wait(f, "/processes/flowrun/runq_wait_s") + " / " + wait(f, "/processes/mock/runq_wait_s") + " / " +
           wait(f, "/client_runq_wait_s"),
       "", "", "info"});
}

void ScenarioD() {
  const std::string sc = "d RSS";
  if (Runs("idle:default").empty() && Runs("b1000:flowrun").empty()) return;
  Stat idle = Scaled(Summarise(Values("idle:default", "/rss_kib")), 1.0 / 1024);
  if (Runs("idle:default").empty()) {
    // the default server did not run (BENCH_SCENARIOS without a, c and e)
  } else if (auto why = Failure("idle:default")) {
    Add({sc, "idle RSS, default flags (MiB)", "", "FAILED", Short(*why), "<= 15", "FAIL"});
  } else {
    Add({sc, "idle RSS, default flags (MiB)", "", Cell(idle, 1), "", "<= 15", PassIf(idle.ok && idle.median <= 15)},
        {{"mib", idle.median}});
  }
  for (const std::string& label : Labels()) {
    if (label.rfind("idle:b", 0) != 0 || Failure(label)) continue;
    Stat rss = Scaled(Summarise(Values(label, "/rss_kib")), 1.0 / 1024), thr = Summarise(Values(label, "/threads"));
    Add({sc, "idle RSS, " + Runs(label).front().value("serve_args", std::string()) + " (MiB)", "",
         Cell(rss, 1) + ", " + Num(thr.median, 0) + " threads", "", "", "info"});
  }
  if (Runs("b1000:flowrun").empty()) {
    // b C=1000 did not run
  } else if (auto why = Failure("b1000:flowrun")) {
    Add({sc, "RSS with 1000 open streams (MiB)", "", "FAILED", Short(*why), "<= 100", "FAIL"});
  } else {
    Stat p = Scaled(Summarise(Values("b1000:flowrun", "/processes/flowrun/rss_peak_kib")), 1.0 / 1024);
    Add({sc, "RSS with 1000 open streams (peak during b C=1000, MiB)", "", Cell(p, 1), "", "<= 100",
         PassIf(p.ok && p.median <= 100)},
        {{"mib", p.median}});
  }
}

// Scenario h: flowrun_runner_bench's lines (one per repeat of run.sh), each
// with a value per inner repeat: the cells pool every inner repeat.
std::vector<double> Pooled(const std::string& label, const std::string& series) {
  std::vector<double> out;
  for (auto& run : Runs(label)) {
    if (run.contains("failed") || !run.contains(series) || !run[series].contains("all")) continue;
    for (auto& v : run[series]["all"])
      if (v.is_number()) out.push_back(v.get<double>());
  }
  return out;
}

void ScenarioH() {
  const std::string label = "h:runner", sc = "h runner control20 vs burst20";
  const double target = 20;
  const std::string target_text = "<= " + Num(target, 0) + " us added";
  if (auto why = Failure(label)) {
    Add({sc, "CPU per run (us)", "", "FAILED", Short(*why), target_text, "FAIL"});
    return;
  }
  Stat added = Summarise(Pooled(label, "added_cpu_us"));
  Add({sc, "CPU per run (us): burst20 | control20", Cell(Summarise(Pooled(label, "base_cpu_us")), 2),
       Cell(Summarise(Pooled(label, "flow_cpu_us")), 2), "+" + Cell(added, 2) + " added", target_text,
       PassIf(added.ok && added.median <= target)},
      {{"added_us", added.median}});
  Stat wall = Summarise(Pooled(label, "added_wall_us"));
  Add({sc, "wall per run (us): burst20 | control20", Cell(Summarise(Pooled(label, "base_wall_us")), 2),
       Cell(Summarise(Pooled(label, "flow_wall_us")), 2), "+" + Cell(wall, 2) + " added", "", "info"});
  Add({sc, "added CPU per control step (us, 20 steps)", "", added.ok ? Num(added.median / 20, 2) : "-", "", "",
       "info"});
}

// Scenario v (issue #12): the same paced streams direct, through the native
// endpoint and through /v1/chat/completions, in interleaved rounds on one
// flowrun. The facade must keep the native endpoint's ratio to direct within
// 5% (the medians over the rounds): it may cost at most 5% more; being
// faster than the native endpoint is no fault of the facade (the row shows
// the signed difference either way).
void ScenarioV() {
  const std::string d = "v:direct", n = "v:flowrun", v = "v:flowrun-v1", sc = "v C=1000 50x20ms /v1 vs native";
  const double tolerance = 0.05;
  const std::string target_text = ">= 0.95x native's";
  for (const std::string& side : {n, v}) {
    if (auto why = Failure(side)) {
      Add({sc, side == n ? "streams/s native" : "streams/s /v1", "", "FAILED", Short(*why), target_text, "FAIL"});
      return;
    }
  }
  auto dv = Values(d, "/streams_per_s"), nv = Values(n, "/streams_per_s"), vv = Values(v, "/streams_per_s");
  Stat rn = Ratio(nv, dv), rv = Ratio(vv, dv);
  Add({sc, "streams/s native", Cell(Summarise(dv), 1), Cell(Summarise(nv), 1), Cell(rn, 3) + "x", "", "info"},
      {{"ratio", rn.median}});
  const double off = rn.ok && rv.ok && rn.median > 0 ? rv.median / rn.median - 1 : 1;
  Add({sc, "streams/s /v1", Cell(Summarise(dv), 1), Cell(Summarise(vv), 1),
       Cell(rv, 3) + "x (" + (off >= 0 ? "+" : "") + Num(off * 100, 1) + "% vs native)", target_text,
       PassIf(rn.ok && rv.ok && off >= -tolerance)},
      {{"ratio", rv.median}, {"vs_native", off}});
  const std::string p99 = "/stream_duration/p99_ms";
  Stat pn = Ratio(Values(n, p99), Values(d, p99)), pv = Ratio(Values(v, p99), Values(d, p99));
  Add({sc, "stream time p99 (ms): native | /v1", Cell(Summarise(Values(d, p99)), 1),
       Cell(Summarise(Values(n, p99)), 1) + " | " + Cell(Summarise(Values(v, p99)), 1),
       Cell(pn, 3) + "x | " + Cell(pv, 3) + "x", "", "info"});
  auto cpu = [](const std::string& label) {
    return Summarise(PerRun(label, [](const json& r) {
      return At(r, "/completed_ok") > 0 ? At(r, "/processes/flowrun/cpu_s") / At(r, "/completed_ok") * 1e6 : 0;
    }));
  };
  Add({sc, "flowrun CPU per stream (us): native | /v1", "", Cell(cpu(n), 0) + " | " + Cell(cpu(v), 0), "", "",
       "info"});
  auto bad = [](const json& run) {
    return At(run, "/lost_tokens") + At(run, "/extra_tokens") + At(run, "/streams_out_of_order") +
           At(run, "/streams_bad_tokens") + At(run, "/errors");
  };
  Stat bn = Summarise(PerRun(n, bad)), bv = Summarise(PerRun(v, bad));
  Add({sc, "lost tokens + bad streams + errors: native | /v1", "", Cell(bn, 0) + " | " + Cell(bv, 0), "", "0 | 0",
       PassIf(bn.ok && bv.ok && bn.max == 0 && bv.max == 0)});
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
    AddRun(j);
    runs.push_back(j);
  }
  // A scenario left out with BENCH_SCENARIOS has no runs at all: no row, rather than a FAIL.
  auto ran = [](const std::string& key) { return !Runs(key + ":direct").empty() || !Runs(key + ":flowrun").empty(); };
  if (ran("a")) ScenarioA();
  for (const char* c : {"100", "1000", "5000"}) {
    std::string key = std::string("b") + c;
    if (!ran(key)) continue;
    Targets t;
    t.ratio = std::string(c) == "5000" ? 0.90 : 0.95;
    t.p99 = 1.15;
    t.gaps = true;
    Streams(key, "b C=" + std::string(c) + " 50x20ms", t);
  }
  if (ran("c")) {
    Targets t;
    t.ratio = 0.85;
    t.cpu_us = 120;
    Streams("c", "c C=50 burst200", t);
  }
  if (ran("f")) {
    Targets t;
    t.ratio = 0.95;
    t.p99 = 1.10;
    t.rss_mib = 200;
    t.threads = 16;
    t.no_errors = true;
    t.gaps = true;
    Streams("f", "f C=8000 20x250ms default flags", t);
  }
  if (ran("g")) {
    Targets t;
    t.has_direct = false;
    t.paced_ms = 10;
    t.threads = 16;
    t.no_errors = true;
    Streams("g", "g C=5000 mock provider 10ms/token", t);
  }
  if (!Runs("h:runner").empty()) ScenarioH();
  if (ran("v")) ScenarioV();
  ScenarioD();
  Print(meta);
  json out = {{"meta", meta}, {"table", RowsJson()}, {"targets_met", Passed()}, {"targets_missed", Missed()},
              {"runs", runs}};
  std::ofstream o(argv[3]);
  o << out.dump(1) << "\n";
  return 0;
}
