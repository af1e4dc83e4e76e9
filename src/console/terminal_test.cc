// Tests of Style and Terminal: colours only when styled, the status line
// redrawn under each line and cleared at the end.
#include "console/terminal.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace mlcanary::console {
namespace {

// What a Terminal wrote, through a memory stream.
class Captured {
 public:
  Captured() : file_(open_memstream(&data_, &size_)) {}
  ~Captured() {
    std::fclose(file_);
    std::free(data_);
  }
  std::FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(data_, size_);
  }

 private:
  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::FILE* file_;
};

TEST(StyleTest, PaintsOnlyWhenEnabled) {
  EXPECT_EQ(Style(false).Red("x"), "x");
  EXPECT_EQ(Style(true).Red("x"), "\033[31mx\033[0m");
  EXPECT_EQ(Style(true).Bold(Style(true).Green("ok")), "\033[1m\033[32mok\033[0m\033[0m");
}

TEST(StyleTest, BarsPercentagesAndSeconds) {
  EXPECT_EQ(Bar(0),
            "\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7"
            "\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7");
  EXPECT_EQ(Bar(0.3),
            "\u2588\u2588\u2588\u2588\u2588\u2588"
            "\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7"
            "\u00b7\u00b7\u00b7");
  EXPECT_EQ(Percent(0.3), "30%");
  EXPECT_EQ(Percent(1), "100%");
  EXPECT_EQ(Seconds(2.25), "2.2s");
  EXPECT_EQ(Format("%s-%d", "a", 7), "a-7");
  EXPECT_EQ(Format("%s", std::string(2000, 'x').c_str()).size(), 2000u);
}

TEST(TerminalTest, PlainStreamGetsLinesAndNoStatus) {
  Captured out;
  Terminal term(out.file(), Style(false));
  term.Line("one");
  term.Status("traffic");
  term.Line("two");
  term.EndStatus();
  EXPECT_EQ(out.text(), "one\ntwo\n");
}

TEST(TerminalTest, StyledStreamRedrawsTheStatusUnderEachLine) {
  Captured out;
  Terminal term(out.file(), Style(true));
  term.Status("s1");
  term.Line("one");
  term.EndStatus();
  term.Line("two");
  EXPECT_EQ(out.text(), "\r\033[Ks1\r\033[Kone\n\r\033[Ks1\r\033[Ktwo\n");
}

}  // namespace
}  // namespace mlcanary::console
