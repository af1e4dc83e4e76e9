#include "models/xgboost_backend.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "models/backend_factory.h"
#include "models/testing/xgboost_trainer.h"

namespace mlcanary::models {
namespace {

class XgboostBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("xgb_backend_test_" + std::to_string(::getpid())));
    std::filesystem::create_directories(*dir_);
    ASSERT_TRUE(testing::TrainSyntheticModel(Path("m.json"), {.trees = 10}));
    ASSERT_TRUE(testing::TrainSyntheticModel(Path("m.ubj"), {.trees = 10}));
    ASSERT_TRUE(testing::TrainSyntheticModel(
        Path("deep.json"), {.rows = 600, .features = 5, .trees = 40, .max_depth = 7, .seed = 9}));
    ASSERT_TRUE(
        testing::TrainSyntheticModel(Path("multi.json"), {.trees = 5, .seed = 7, .num_class = 3}));
    ASSERT_TRUE(testing::TrainSyntheticModel(Path("dart.json"),
                                             {.trees = 5, .seed = 3, .booster = "dart"}));
    // Large enough that what XGBoost keeps of a load (its JSON export, ~1 MB) stands
    // far above the noise of the heap.
    ASSERT_TRUE(testing::TrainSyntheticModel(
        Path("big.json"), {.rows = 1000, .trees = 150, .max_depth = 6, .seed = 5}));
    ASSERT_TRUE(testing::TrainSyntheticModel(
        Path("big_dart.json"),
        {.rows = 1000, .trees = 60, .max_depth = 6, .seed = 6, .booster = "dart"}));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static std::string Path(const std::string& name) { return (*dir_ / name).string(); }
  static std::filesystem::path* dir_;
};
std::filesystem::path* XgboostBackendTest::dir_ = nullptr;

TEST_F(XgboostBackendTest, LoadsJsonAndUbjAndKnowsFeatureCount) {
  for (const char* file : {"m.json", "m.ubj"}) {
    auto backend = XgboostBackend::Load(Path(file));
    ASSERT_TRUE(backend) << backend.error().ToString();
    EXPECT_EQ((*backend)->num_features(), 8u);
    EXPECT_EQ((*backend)->name(), "m");
    EXPECT_TRUE((*backend)->ready());
  }
}

TEST_F(XgboostBackendTest, KnowsItsOutputsPerRowFromTheLoad) {
  auto binary = XgboostBackend::Load(Path("m.json"));
  ASSERT_TRUE(binary) << binary.error().ToString();
  EXPECT_EQ((*binary)->num_outputs(), 1u);
  auto multi = XgboostBackend::Load(Path("multi.json"));
  ASSERT_TRUE(multi) << multi.error().ToString();
  EXPECT_EQ((*multi)->num_outputs(), 3u);
  std::vector<float> row(8, 0.5f);
  auto out = (*multi)->Predict({row, 1, 8});
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(out->per_row, 3u);
}

TEST_F(XgboostBackendTest, PredictionsFollowTheTrainedSignal) {
  auto backend = XgboostBackend::Load(Path("m.json"));
  ASSERT_TRUE(backend);
  // Row 0: x0 high (label 1 region); row 1: x0 low (label 0 region).
  std::vector<float> rows = {0.95f, 0.1f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f,
                             0.05f, 0.9f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
  auto out = (*backend)->Predict({rows, 2, 8});
  ASSERT_TRUE(out) << out.error().ToString();
  ASSERT_EQ(out->values.size(), 2u);
  EXPECT_EQ(out->per_row, 1u);
  EXPECT_GT(out->values[0], 0.7f);
  EXPECT_LT(out->values[1], 0.3f);
}

TEST_F(XgboostBackendTest, NativeTreesAnswerAsXgboostDoes) {
  for (const char* file : {"m.json", "m.ubj", "deep.json"}) {
    auto backend = XgboostBackend::Load(Path(file));
    ASSERT_TRUE(backend);
    ASSERT_TRUE((*backend)->uses_native_trees()) << (*backend)->native_trees_status();
    const std::size_t cols = *(*backend)->num_features();
    std::vector<float> rows(300 * cols);
    for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<float>(i % 97) / 80.0f;
    auto native = (*backend)->Predict({rows, 300, cols});
    auto reference = (*backend)->PredictWithXgboost({rows, 300, cols});
    ASSERT_TRUE(native && reference);
    ASSERT_EQ(native->values.size(), reference->values.size());
    for (std::size_t r = 0; r < native->values.size(); ++r) {
      EXPECT_NEAR(native->values[r], reference->values[r], 1e-5) << file << " row " << r;
    }
    std::vector<float> short_row(cols - 1, 0.5f);
    auto wrong = (*backend)->Predict({short_row, 1, cols - 1});
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code(), core::ErrorCode::kValidation);
  }
}

TEST_F(XgboostBackendTest, DartModelsAndDisabledNativeTreesStayOnXgboost) {
  auto dart = XgboostBackend::Load(Path("dart.json"));
  ASSERT_TRUE(dart);
  EXPECT_FALSE((*dart)->uses_native_trees());
  EXPECT_NE((*dart)->native_trees_status().find("gbtree"), std::string::npos);
  std::vector<float> row(8, 0.5f);
  EXPECT_TRUE((*dart)->Predict({row, 1, 8}));
  auto disabled = XgboostBackend::Load(Path("m.json"), {.native_trees = false});
  ASSERT_TRUE(disabled);
  EXPECT_FALSE((*disabled)->uses_native_trees());
}

TEST_F(XgboostBackendTest, JsonAndUbjOfTheSameTrainingPredictTheSame) {
  auto a = XgboostBackend::Load(Path("m.json"));
  auto b = XgboostBackend::Load(Path("m.ubj"));
  ASSERT_TRUE(a && b);
  std::vector<float> row(8, 0.3f);
  EXPECT_EQ((*a)->Predict({row, 1, 8})->values, (*b)->Predict({row, 1, 8})->values);
}

TEST_F(XgboostBackendTest, WrongFeatureCountIsAValidationError) {
  auto backend = XgboostBackend::Load(Path("m.json"));
  ASSERT_TRUE(backend);
  std::vector<float> row(7, 0.5f);
  auto out = (*backend)->Predict({row, 1, 7});
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code(), core::ErrorCode::kValidation);
  EXPECT_NE(out.error().message().find("expects 8 features, got 7"), std::string::npos);
}

TEST_F(XgboostBackendTest, MissingOrCorruptFileIsAValidationError) {
  auto missing = XgboostBackend::Load(Path("nope.json"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), core::ErrorCode::kValidation);
  { std::ofstream(Path("bad.json")) << "{not a model"; }
  auto corrupt = XgboostBackend::Load(Path("bad.json"));
  ASSERT_FALSE(corrupt);
  EXPECT_EQ(corrupt.error().code(), core::ErrorCode::kValidation);
}

// Every XGBoost message a caller sees: one line, printable ASCII, no stack trace.
void ExpectOneCleanLine(const std::string& message) {
  EXPECT_EQ(message.find("Stack trace"), std::string::npos) << message;
  EXPECT_EQ(message.find("0x"), std::string::npos) << message;
  EXPECT_EQ(message.find("[bt]"), std::string::npos) << message;
  for (char c : message) {
    ASSERT_TRUE(c >= 0x20 && c < 0x7f) << "byte " << static_cast<int>(c) << " in: " << message;
  }
}

#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer ends the process on an allocation of 2^61 bytes instead of
// throwing std::bad_alloc, so the ASan build cannot try that file.
constexpr bool kHugeAllocationsThrow = false;
#else
constexpr bool kHugeAllocationsThrow = true;
#endif

TEST_F(XgboostBackendTest, NonModelFilesAreNamedAsSuchWithoutXgboostStackTraces) {
  std::mt19937 rng(7);
  std::string random(4096, '\0');
  for (auto& c : random) c = static_cast<char>(rng());
  // A UBJSON string whose length (2^61 bytes) XGBoost tries to allocate: std::bad_alloc.
  const std::string huge_length = std::string("{L\x20", 3) + std::string(7, '\0') + "abc";
  const std::pair<std::string, std::string> files[] = {
      {"text.json", "this is a text file, not a model\n"},
      {"text.ubj", "this is a text file, not a model\n"},
      {"random.json", random},
      {"random.ubj", random},
      {"brace_random.ubj", "{" + random},
      {"brace_random.json", "{" + random},
      {"huge_length.ubj", huge_length},
      {"object.json", R"({"a": 1})"},
      {"empty.json", ""},
  };
  for (const auto& [name, bytes] : files) {
    if (name == "huge_length.ubj" && !kHugeAllocationsThrow) continue;
    { std::ofstream(Path(name), std::ios::binary) << bytes; }
    auto backend = XgboostBackend::Load(Path(name));
    ASSERT_FALSE(backend) << name;
    EXPECT_EQ(backend.error().code(), core::ErrorCode::kValidation) << name;
    const std::string& message = backend.error().message();
    EXPECT_NE(message.find("model file '" + Path(name) + "' is not an XGBoost model"),
              std::string::npos)
        << message;
    if (name == "huge_length.ubj") {
      EXPECT_NE(message.find("XGBoost could not read it (std::bad_alloc)"), std::string::npos)
          << message;
    }
    ExpectOneCleanLine(message);
  }
}

TEST_F(XgboostBackendTest, XgboostErrorsKeepTheirFirstLineOnly) {
  // {"a": 1} is JSON XGBoost reads, then refuses with a check (and a stack trace).
  { std::ofstream(Path("not_a_learner.json")) << R"({"learner": 5})"; }
  auto backend = XgboostBackend::Load(Path("not_a_learner.json"));
  ASSERT_FALSE(backend);
  const std::string& message = backend.error().message();
  EXPECT_NE(message.find("Invalid cast"), std::string::npos) << message;
  EXPECT_EQ(message.find("json.h"), std::string::npos) << message;  // no "[time] file:line:"
  ExpectOneCleanLine(message);
}

#if defined(__GLIBC__)
// Bytes malloc has handed out and not had back, in every arena (mmapped blocks too).
std::size_t HeapInUse() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}
#endif

// XGBoost keeps what its C API returns (the JSON export, prediction outputs) per
// thread and per booster, and gives it back only when the booster is freed on
// that thread or the thread ends. The gateway loads a model on an API thread and
// frees it on whichever thread drops the last routing table: nothing of the load
// may stay behind on the loading thread.
TEST_F(XgboostBackendTest, ABoosterLoadedOnOneThreadAndFreedOnAnotherLeavesNothingBehind) {
#if !defined(__GLIBC__)
  GTEST_SKIP() << "measures the heap with glibc's mallinfo2";
#else
  for (const char* file : {"big.json", "big_dart.json"}) {
    const std::string path = Path(file);
    const auto model_bytes = static_cast<std::int64_t>(std::filesystem::file_size(path));
    {  // Warm-up: threads, XGBoost's global state.
      auto warm = XgboostBackend::Load(path);
      ASSERT_TRUE(warm);
      std::vector<float> row(8, 0.5f);
      ASSERT_TRUE((*warm)->PredictWithXgboost({row, 1, 8}));
    }
    XgboostBackend::FinishReleases();
    const std::int64_t before = static_cast<std::int64_t>(HeapInUse());

    // The loading thread lives on (as the API's threads do) until the heap is measured.
    std::mutex mu;
    std::condition_variable cv;
    std::unique_ptr<XgboostBackend> loaded;
    bool handed_over = false, measured = false;
    std::thread loader([&] {
      auto backend = XgboostBackend::Load(path);
      std::unique_lock lock(mu);
      if (backend) loaded = std::move(*backend);
      handed_over = true;
      cv.notify_all();
      cv.wait(lock, [&] { return measured; });
    });
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return handed_over; });
    }
    ASSERT_NE(loaded, nullptr) << file;
    // Freed on a third thread, as when a gateway I/O thread drops the last table.
    std::thread([backend = std::move(loaded)]() mutable { backend.reset(); }).join();
    XgboostBackend::FinishReleases();
    const std::int64_t growth = static_cast<std::int64_t>(HeapInUse()) - before;
    {
      std::lock_guard lock(mu);
      measured = true;
    }
    cv.notify_all();
    loader.join();
    EXPECT_LT(growth, model_bytes / 4)
        << file << ": " << growth << " bytes still in use after "
        << "the backend was freed (model file: " << model_bytes << " bytes)";
  }
#endif
}

TEST_F(XgboostBackendTest, SharedBoosterGivesTheSameAnswersFromManyThreads) {
  auto backend = XgboostBackend::Load(Path("m.json"));
  ASSERT_TRUE(backend);
  std::vector<float> high = {0.95f, 0.1f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
  std::vector<float> low = {0.05f, 0.9f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
  const float want_high = (*backend)->Predict({high, 1, 8})->values[0];
  const float want_low = (*backend)->Predict({low, 1, 8})->values[0];
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const bool h = (i + t) % 2 == 0;
        auto out = (*backend)->Predict({h ? high : low, 1, 8});
        if (!out || out->values[0] != (h ? want_high : want_low)) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(XgboostBackendTest, FactoryBuildsXgboostBackendsAndRefusesEmptyPaths) {
  auto factory = MakeModelBackendFactory();
  core::ModelSpec spec;
  spec.kind = core::ModelKind::kXgboost;
  spec.path = Path("m.ubj");
  auto backend = factory(spec);
  ASSERT_TRUE(backend) << backend.error().ToString();
  EXPECT_EQ((*backend)->num_features(), 8u);
  spec.path.clear();
  EXPECT_FALSE(factory(spec));
}

}  // namespace
}  // namespace mlcanary::models
