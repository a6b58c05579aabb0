// Reading a flow file's text without letting the file hurt the reader:
// anything but a regular file (a FIFO, a device, a socket, a directory, a
// symbolic link loop or a dangling link) is refused before it is opened, the
// open never blocks, and no more than the flow-file size limit is ever read.
// Safe to call from several threads at once.
#pragma once

#include <optional>
#include <string>

#include "core/diagnostics.h"

namespace flowrun {

// The file's text; nullopt (with a diagnostic without position, e.g.
// "cannot read file: not a regular file (a FIFO)") when it cannot or
// may not be read.
std::optional<std::string> ReadTextFile(const std::string& path, Diagnostics& diagnostics);

}  // namespace flowrun
