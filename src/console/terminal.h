// Terminal: lines to a stream (stdout); when styled (a terminal) it also keeps
// one status line at the bottom, redrawn in place under the lines written.
#ifndef MLCANARY_CONSOLE_TERMINAL_H_
#define MLCANARY_CONSOLE_TERMINAL_H_

#include <cstdio>
#include <string>

#include "console/style.h"

namespace mlcanary::console {

// For one thread.
class Terminal {
 public:
  Terminal(std::FILE* out, Style style) : out_(out), style_(style) {}
  // stdout, styled when it is a terminal (Style::ForStdout).
  Terminal() : Terminal(stdout, Style::ForStdout()) {}

  const Style& style() const { return style_; }

  // Writes `text` and a newline above the status line, and flushes.
  void Line(const std::string& text);
  // Replaces the status line (styled only; otherwise nothing is written).
  void Status(const std::string& text);
  // Clears the status line.
  void EndStatus();

 private:
  void ClearStatus();
  void DrawStatus();

  std::FILE* out_;
  Style style_;
  std::string status_;
};

}  // namespace mlcanary::console

#endif  // MLCANARY_CONSOLE_TERMINAL_H_
