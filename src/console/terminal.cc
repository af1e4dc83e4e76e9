// Lines and the redrawn status line.
#include "console/terminal.h"

namespace mlcanary::console {

void Terminal::Line(const std::string& text) {
  ClearStatus();
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fputc('\n', out_);
  if (!status_.empty()) DrawStatus();
  std::fflush(out_);
}

void Terminal::Status(const std::string& text) {
  if (!style_.enabled()) return;
  status_ = text;
  DrawStatus();
  std::fflush(out_);
}

void Terminal::EndStatus() {
  ClearStatus();
  status_.clear();
  std::fflush(out_);
}

void Terminal::ClearStatus() {
  if (style_.enabled() && !status_.empty()) std::fputs("\r\033[K", out_);
}

void Terminal::DrawStatus() { std::fprintf(out_, "\r\033[K%s", status_.c_str()); }

}  // namespace mlcanary::console
