# Turns a text file into a C++ source defining flowrun::PlaygroundPage().
file(READ ${INPUT} CONTENT)
file(WRITE ${OUTPUT}
"// Generated from src/server/playground.html; do not edit.\n"
"#include <string_view>\n"
"namespace flowrun {\n"
"std::string_view PlaygroundPage() {\n"
"  static constexpr std::string_view kPage = R\"FLOWRUN_EMBED(${CONTENT})FLOWRUN_EMBED\";\n"
"  return kPage;\n"
"}\n"
"}  // namespace flowrun\n")
