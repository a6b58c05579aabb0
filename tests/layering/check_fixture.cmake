# The layering check's own test (ctest: Layering.CheckFailsOnViolations):
# cmake/check_layering.cmake run on fixture/, a tiny tree that breaks every
# rule once next to includes that are fine, must fail and print exactly the
# errors in expected_errors.txt (no more, no fewer, in that order), then its
# summary line.
#   cmake -DCHECK=<cmake/check_layering.cmake> -P tests/layering/check_fixture.cmake
cmake_minimum_required(VERSION 3.20)
set(here "${CMAKE_CURRENT_LIST_DIR}")
execute_process(
  COMMAND "${CMAKE_COMMAND}" -DSOURCE_DIR=${here}/fixture -DMODULES=${here}/fixture/modules.cmake -P "${CHECK}"
  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(output "${out}${err}")
if(result EQUAL 0)
  message("${output}")
  message(FATAL_ERROR "the layering check passed on a tree with violations (output above)")
endif()

# Semicolons would split CMake lists: out of the way while matching lines.
string(REPLACE ";" "<semicolon>" text "${output}")
string(REGEX MATCHALL "[^\n]*: error: [^\n]*" errors "${text}")
list(JOIN errors "\n" errors)
string(REPLACE "<semicolon>" ";" errors "${errors}")
file(READ "${here}/expected_errors.txt" expected)
string(STRIP "${expected}" expected)
if(NOT errors STREQUAL expected)
  message("--- expected (expected_errors.txt)\n${expected}\n--- got\n${errors}\n--- the check's whole output\n${output}")
  message(FATAL_ERROR "the layering check's errors on the fixture differ from expected_errors.txt (above)")
endif()
set(summary "layering check: 10 violation(s) in 12 files; the rules are in modules.cmake")
string(FIND "${output}" "${summary}" at)
if(at LESS 0)
  message("${output}")
  message(FATAL_ERROR "no summary line '${summary}' in the check's output (above)")
endif()
message(STATUS "the check failed as expected, with exactly the expected errors")
