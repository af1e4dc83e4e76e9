// Tests of ProcfsStatsReader (on a fake /proc tree in a temp dir, and once on
// the real one) and of ProcessSampler (with a fake reader).
#include "metrics/process_stats.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "metrics/testing/fake_process_stats_reader.h"

namespace mlcanary::metrics {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

class ProcfsStatsReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("mlcanary_proc_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "42");
  }
  void TearDown() override { fs::remove_all(root_); }

  void Write(const fs::path& rel, const std::string& text) { std::ofstream(root_ / rel) << text; }

  // A stat line whose comm holds spaces and parentheses; utime 250, stime 150
  // ticks, rss 1000 pages.
  static std::string Stat() {
    return "42 (my (odd) proc) S 1 42 42 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 8 0 "
           "1234 123456789 1000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  }

  fs::path root_;
};

TEST_F(ProcfsStatsReaderTest, ReadsCpuTimeResidentMemoryAndMachineMemory) {
  Write("42/stat", Stat());
  Write("meminfo", "MemTotal:       2048 kB\nMemFree:         1024 kB\n");
  ProcfsStatsReader reader(root_.string(), "42", /*ticks_per_second=*/100, /*page_size=*/4096);
  auto stats = reader.Read();
  ASSERT_TRUE(stats.has_value()) << stats.error().ToString();
  EXPECT_DOUBLE_EQ(stats->cpu_seconds, 4.0);
  EXPECT_EQ(stats->resident_bytes, 1000 * 4096);
  EXPECT_EQ(stats->memory_total_bytes, 2048 * 1024);
}

TEST_F(ProcfsStatsReaderTest, MissingFilesAreUnavailable) {
  ProcfsStatsReader reader(root_.string(), "42", 100, 4096);
  auto stats = reader.Read();
  ASSERT_FALSE(stats.has_value());
  EXPECT_EQ(stats.error().code(), core::ErrorCode::kUnavailable);
}

TEST_F(ProcfsStatsReaderTest, MalformedStatIsAnError) {
  Write("42/stat", "42 (x) S 1 2 3\n");
  Write("meminfo", "MemTotal: 2048 kB\n");
  ProcfsStatsReader reader(root_.string(), "42", 100, 4096);
  EXPECT_FALSE(reader.Read().has_value());
  Write("42/stat", "no parenthesis at all");
  EXPECT_FALSE(reader.Read().has_value());
}

TEST_F(ProcfsStatsReaderTest, MalformedMemTotalIsAnError) {
  Write("42/stat", Stat());
  Write("meminfo", "MemTotal: lots kB\n");
  ProcfsStatsReader reader(root_.string(), "42", 100, 4096);
  EXPECT_FALSE(reader.Read().has_value());
}

TEST(ProcfsStatsReaderRealTest, ReadsThisProcess) {
  ProcfsStatsReader reader;
  auto stats = reader.Read();
  ASSERT_TRUE(stats.has_value()) << stats.error().ToString();
  EXPECT_GE(stats->cpu_seconds, 0);
  EXPECT_GT(stats->resident_bytes, 0);
  EXPECT_GT(stats->memory_total_bytes, stats->resident_bytes);
}

TEST(ProcessSamplerTest, CpuPercentComesFromTheDifferenceOfTwoSamples) {
  testing::FakeProcessStatsReader reader;
  reader.stats = {.cpu_seconds = 1, .resident_bytes = 250, .memory_total_bytes = 1000};
  ProcessSampler sampler(reader);
  const core::Timestamp t0{std::chrono::milliseconds(1'000'000)};

  auto first = sampler.Sample(t0);
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(first->cpu_percent.has_value());
  EXPECT_EQ(first->memory_percent, 25.0);

  reader.stats.cpu_seconds = 4;  // 3 CPU-seconds in 2 s: 1.5 cores
  auto second = sampler.Sample(t0 + seconds(2));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->cpu_percent, 150.0);
}

TEST(ProcessSamplerTest, ClockNotMovingOrCpuGoingBackGivesNoCpuFigure) {
  testing::FakeProcessStatsReader reader;
  reader.stats = {.cpu_seconds = 5, .resident_bytes = 1, .memory_total_bytes = 0};
  ProcessSampler sampler(reader);
  const core::Timestamp t0{std::chrono::milliseconds(1'000'000)};
  ASSERT_TRUE(sampler.Sample(t0).has_value());
  auto same_time = sampler.Sample(t0);
  ASSERT_TRUE(same_time.has_value());
  EXPECT_FALSE(same_time->cpu_percent.has_value());
  EXPECT_FALSE(same_time->memory_percent.has_value());  // machine memory unknown
  reader.stats.cpu_seconds = 1;
  auto backwards = sampler.Sample(t0 + seconds(1));
  ASSERT_TRUE(backwards.has_value());
  EXPECT_FALSE(backwards->cpu_percent.has_value());
}

TEST(ProcessSamplerTest, ReadFailureIsReturned) {
  testing::FakeProcessStatsReader reader;
  reader.fail = true;
  ProcessSampler sampler(reader);
  EXPECT_FALSE(sampler.Sample(core::Timestamp{}).has_value());
}

}  // namespace
}  // namespace mlcanary::metrics
