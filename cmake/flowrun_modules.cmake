# The module table: the one place that says which modules flowrun has, which
# lower modules each may use, and which third-party library each owns.
# CMakeLists.txt builds one static library per module from it
# (flowrun_<module>, linking its DEPS publicly and its LIBS privately), and
# cmake/check_layering.cmake (the ctest test Layering.Sources) checks every
# #include under src/ against it.
#
#   flowrun_module(NAME DEPS <modules> [OWNS <include prefixes>] [LIBS <targets>])
#
# DEPS are the modules whose headers NAME may include; each must be listed
# earlier in this file, so the table is a DAG from the bottom up. OWNS are
# the third-party headers only NAME may include (a prefix such as `curl/`, or
# a whole name such as `httplib.h`): system headers are visible to every
# target, so the check, not the compiler, keeps them in their module. LIBS
# are the CMake targets NAME links privately (ignored by the check).
# nlohmann_json and Threads are used by every module and linked to all.
#
# Sources: every *.cpp and *.h under src/<NAME>/, found again on each build
# (a new file joins its module by being there). A directory under src/ that
# is not a module here stops the configure step.

function(flowrun_module name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "" "DEPS;OWNS;LIBS")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "flowrun_module(${name}): unexpected ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  set(modules ${FLOWRUN_MODULES})
  list(APPEND modules ${name})
  set(FLOWRUN_MODULES ${modules} PARENT_SCOPE)
  set(FLOWRUN_MODULE_DEPS_${name} ${ARG_DEPS} PARENT_SCOPE)
  set(FLOWRUN_MODULE_OWNS_${name} ${ARG_OWNS} PARENT_SCOPE)
  set(FLOWRUN_MODULE_LIBS_${name} ${ARG_LIBS} PARENT_SCOPE)
endfunction()

set(FLOWRUN_MODULES "")
# diagnostics, status, cancellation, event loop, tasks, logging
flowrun_module(core      DEPS                                   OWNS spdlog/ fmt/  LIBS spdlog::spdlog)
# the expression language: parse, check, evaluate (conditions, typed values)
flowrun_module(expr      DEPS core)
# Jinja-subset templates over a run's state, on expr
flowrun_module(templates DEPS core expr)
# JSON Schema for structured output: compile a schema, validate instances
flowrun_module(schema    DEPS core                              OWNS pcre2.h       LIBS PkgConfig::PCRE2)
# YAML -> ConfigNode, flow-file limits, safe file reading
flowrun_module(config    DEPS core                              OWNS yaml-cpp/     LIBS yaml-cpp)
# model providers: the LlmClient interface, openai over curl, mock
flowrun_module(llm       DEPS core                              OWNS curl/         LIBS CURL::libcurl)
# the step interface, the registry, the built-in steps
flowrun_module(steps     DEPS core templates llm schema)
# compiler, input schema, runner, events, catalog
flowrun_module(flow      DEPS core config expr templates schema steps)
# front end, request handling, SSE, the HTTP adapter, the playground
flowrun_module(server    DEPS core steps flow                   OWNS httplib.h     LIBS PkgConfig::HTTPLIB)
# the command table and one file per command
flowrun_module(cli       DEPS core llm steps flow server        OWNS CLI/          LIBS CLI11::CLI11)
