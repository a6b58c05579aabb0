// FlowGraph: built from a flow document's ConfigNode tree (control steps
// need no compiler support), printed as Mermaid and DOT exactly, ids made
// safe and unique, labels escaped, and the JSON the playground draws.
#include "flow/flow_graph.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "config/yaml_loader.h"

namespace flowrun {
namespace {

FlowGraph Graph(const std::string& source) {
  Diagnostics diagnostics("flow.yaml", source);
  auto root = ParseYaml(source, diagnostics);
  EXPECT_TRUE(root) << diagnostics.ToString();
  return root ? BuildFlowGraph(*root) : FlowGraph();
}

// Every construct in a few lines: a switch with an empty case and a
// default that fails, a loop, a parallel block with a skippable step and a
// call, and an on_error block.
const char* const kNested = R"(version: 1
name: research
input:
  message: string
steps:
  - id: classify
    type: llm-stream
    stream: false
    output: category
  - id: route
    type: switch
    on: category | trim
    cases:
      billing:
        - id: bill
          type: append-message
          content: billing
      tech: []
    default:
      - type: fail
        message: "no route for {{ category }}"
  - id: revise
    type: loop
    max_iterations: 3
    until: review.ok
    steps:
      - id: draft
        type: llm-stream
  - id: research
    type: parallel
    branches:
      summary:
        - id: draft
          type: llm-stream
          if: input.message
      keywords:
        - type: call
          flow: keywords
  - id: answer
    type: llm-stream
    on_error:
      - type: append-message
        content: sorry
)";

TEST(FlowGraph, NestedFlowAsMermaid) {
  EXPECT_EQ(GraphToMermaid(Graph(kNested)),
            R"(flowchart TD
  flow_start(("start"))
  classify["classify<br/>llm-stream<br/>stream: false<br/>output: category"]
  route{"route<br/>switch<br/>on: category #124; trim"}
  subgraph route_cases_billing ["cases.billing"]
    route_cases_billing_bill["bill<br/>append-message"]
  end
  subgraph route_default ["default"]
    route_default_step1>"step1<br/>fail<br/>message: no route for {{ category }}"]
  end
  revise{{"revise<br/>loop<br/>max_iterations: 3<br/>until: review.ok"}}
  subgraph revise_steps ["steps"]
    revise_steps_draft["draft<br/>llm-stream"]
  end
  research[/"research<br/>parallel"\]
  subgraph research_branches_summary ["branches.summary"]
    research_branches_summary_draft["draft<br/>llm-stream<br/>if: input.message"]
  end
  subgraph research_branches_keywords ["branches.keywords"]
    research_branches_keywords_step1[["step1<br/>call<br/>flow: keywords"]]
  end
  answer["answer<br/>llm-stream"]
  subgraph answer_on_error ["on_error"]
    answer_on_error_step1["step1<br/>append-message"]
  end
  flow_end(("end"))
  flow_keywords(["flow keywords"])
  flow_start --> classify
  classify --> route
  route -->|"billing"| route_cases_billing_bill
  route -->|"default"| route_default_step1
  route_cases_billing_bill --> revise
  route -->|"tech"| revise
  revise --> revise_steps_draft
  revise_steps_draft -.->|"repeat"| revise
  revise -->|"done"| research
  research -->|"summary"| research_branches_summary_draft
  research -->|"keywords"| research_branches_keywords_step1
  research_branches_summary_draft --> answer
  research_branches_keywords_step1 --> answer
  answer -.->|"on error"| answer_on_error_step1
  answer --> flow_end
  answer_on_error_step1 --> flow_end
  research_branches_keywords_step1 -.-> flow_keywords
)");
}

TEST(FlowGraph, IfAndMapAsDot) {
  const FlowGraph graph = Graph(R"(version: 1
name: docs
steps:
  - id: check
    type: if
    when: input.docs
    then:
      - id: each
        type: map
        over: input.docs
        as: doc
        concurrency: 4
        collect: summary
        output: summaries
        steps:
          - id: summarize
            type: llm-stream
            output: summary
  - type: append-reply
    timeout_ms: 200
    retry: {max_attempts: 2}
)");
  EXPECT_EQ(GraphToDot(graph), R"(digraph "docs" {
  graph [fontname="Helvetica"];
  node [shape=box, fontname="Helvetica"];
  edge [fontname="Helvetica"];
  flow_start [label="start", shape=circle];
  check [label="check\nif\nwhen: input.docs", shape=diamond];
  subgraph cluster_check_then {
    label="then";
    check_then_each [label="each\nmap\nover: input.docs\nas: doc\nconcurrency: 4\ncollect: summary\noutput: summaries", shape=hexagon];
    subgraph cluster_check_then_each_steps {
      label="steps";
      check_then_each_steps_summarize [label="summarize\nllm-stream\noutput: summary"];
    }
  }
  step2 [label="step2\nappend-reply\ntimeout_ms: 200\nretry: max_attempts 2"];
  flow_end [label="end", shape=doublecircle];
  flow_start -> check;
  check -> check_then_each [label="then"];
  check_then_each -> check_then_each_steps_summarize [label="each doc"];
  check_then_each_steps_summarize -> check_then_each [label="collect summary", style=dashed];
  check_then_each -> step2 [label="done"];
  check -> step2 [label="else"];
  step2 -> flow_end;
}
)");
}

TEST(FlowGraph, NodesCarryTheStepPathsOfTheEventConvention) {
  const FlowGraph graph = Graph(kNested);
  std::vector<std::string> paths;
  for (const GraphNode& node : graph.nodes) paths.push_back(node.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"", "classify", "route", "route/cases.billing/bill",
                                             "route/default/step1", "revise", "revise/steps/draft", "research",
                                             "research/branches.summary/draft", "research/branches.keywords/step1",
                                             "answer", "answer/on_error/step1", "", "keywords"}));
  EXPECT_EQ(graph.nodes[2].blocks, (std::vector<std::string>{"cases.billing", "cases.tech", "default"}));
  EXPECT_EQ(graph.nodes[8].parent, "research");
  EXPECT_EQ(graph.nodes[8].block, "branches.summary");
  EXPECT_EQ(graph.nodes[8].line, 33);
}

TEST(FlowGraph, JsonForThePlayground) {
  const nlohmann::json json = GraphToJson(Graph(R"(version: 1
name: quick
steps:
  - id: gate
    type: if
    when: input.go
    then: []
  - type: fail
    message: stop
)"));
  EXPECT_EQ(json, nlohmann::json::parse(R"({
    "name": "quick",
    "nodes": [
      {"kind": "start"},
      {"kind": "step", "path": "gate", "id": "gate", "type": "if", "parent": "", "block": "",
       "blocks": ["then"], "detail": "when: input.go", "if": "", "line": 4},
      {"kind": "step", "path": "step2", "id": "step2", "type": "fail", "parent": "", "block": "",
       "blocks": [], "detail": "message: stop", "if": "", "line": 8},
      {"kind": "end"}
    ],
    "edges": [
      {"from": 0, "to": 1, "label": "", "kind": "next"},
      {"from": 1, "to": 2, "label": "then", "kind": "branch"},
      {"from": 1, "to": 2, "label": "else", "kind": "branch"}
    ]
  })"));
}

TEST(FlowGraph, IdsAreSafeAndUniqueAndLabelsEscaped) {
  const FlowGraph graph = Graph(R"(version: 1
name: odd
steps:
  - id: end
    type: append-message
  - id: a-b
    type: append-message
  - id: a_b
    type: append-message
  - id: 1st
    type: append-message
  - id: flow_start
    type: append-message
  - id: "say \"<hi>\" & #1 | \\ ok"
    type: append-message
)");
  EXPECT_EQ(GraphToMermaid(graph), R"(flowchart TD
  flow_start(("start"))
  end_["end<br/>append-message"]
  a_b["a-b<br/>append-message"]
  a_b_2["a_b<br/>append-message"]
  n_1st["1st<br/>append-message"]
  flow_start_2["flow_start<br/>append-message"]
  say___hi______1_____ok["say #quot;#lt;hi#gt;#quot; #amp; #35;1 #124; \ ok<br/>append-message"]
  flow_end(("end"))
  flow_start --> end_
  end_ --> a_b
  a_b --> a_b_2
  a_b_2 --> n_1st
  n_1st --> flow_start_2
  flow_start_2 --> say___hi______1_____ok
  say___hi______1_____ok --> flow_end
)");
  const std::string dot = GraphToDot(graph);
  EXPECT_NE(dot.find("  say___hi______1_____ok [label=\"say \\\"<hi>\\\" & #1 | \\\\ ok\\nappend-message\"];\n"),
            std::string::npos)
      << dot;
}

TEST(FlowGraph, AConditionalStepCanBeSkipped) {
  EXPECT_EQ(GraphToMermaid(Graph(R"(version: 1
name: guarded
steps:
  - id: guard
    type: fail
    if: not input.ok
    message: refused
  - id: maybe
    type: append-reply
    if: reply
)")),
            R"(flowchart TD
  flow_start(("start"))
  guard>"guard<br/>fail<br/>message: refused<br/>if: not input.ok"]
  maybe["maybe<br/>append-reply<br/>if: reply"]
  flow_end(("end"))
  flow_start --> guard
  guard -->|"skip"| maybe
  maybe --> flow_end
)");
}

TEST(FlowGraph, TheExampleFlowsHaveTheirBlocks) {
  const std::map<std::string, std::vector<std::string>> expected = {
      {"router.yaml", {"user", "classify", "route", "route/cases.billing/billing_answer",
                       "route/cases.tech/tech_answer", "route/default/general_answer", "step4"}},
      {"generate-until-valid.yaml", {"step1", "draft", "improve", "improve/steps/check", "improve/steps/step2",
                                     "improve/steps/revise", "answer"}},
      {"parallel-research.yaml", {"research", "research/branches.summary/summarize",
                                  "research/branches.keywords/extract", "merge"}},
      {"map-documents.yaml", {"summaries", "summaries/steps/summarize", "combine"}},
  };
  for (const auto& [file, paths] : expected) {
    std::ifstream in(std::string(FLOWRUN_SOURCE_DIR) + "/flows/" + file);
    std::stringstream text;
    text << in.rdbuf();
    std::vector<std::string> steps;
    for (const GraphNode& node : Graph(text.str()).nodes) {
      if (node.kind == GraphNode::Kind::kStep) steps.push_back(node.path);
    }
    EXPECT_EQ(steps, paths) << file;
  }
}

TEST(FlowGraph, ALinearFlowIsAChain) {
  const FlowGraph graph = Graph(R"(version: 1
name: chat
steps:
  - type: append-message
  - id: reply
    type: llm-stream
  - type: append-reply
)");
  EXPECT_EQ(GraphToMermaid(graph), R"(flowchart TD
  flow_start(("start"))
  step1["step1<br/>append-message"]
  reply["reply<br/>llm-stream"]
  step3["step3<br/>append-reply"]
  flow_end(("end"))
  flow_start --> step1
  step1 --> reply
  reply --> step3
  step3 --> flow_end
)");
}

}  // namespace
}  // namespace flowrun
