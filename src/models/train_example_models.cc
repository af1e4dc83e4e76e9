// Writes the example models: mlcanary_train_example_models OUT_DIR
// -> OUT_DIR/recs-v1.json and OUT_DIR/recs-v2.ubj (8 features, 100 trees each).
#include <cstdio>
#include <string>

#include "models/testing/xgboost_trainer.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  using mlcanary::models::testing::TrainSyntheticModel;
  struct Spec {
    std::string file;
    mlcanary::models::testing::TrainOptions options;
  };
  const Spec specs[] = {
      {"recs-v1.json", {.rows = 500, .features = 8, .trees = 100, .max_depth = 3, .seed = 1}},
      {"recs-v2.ubj", {.rows = 500, .features = 8, .trees = 100, .max_depth = 4, .seed = 2}},
  };
  for (const auto& spec : specs) {
    const std::string path = dir + "/" + spec.file;
    if (auto status = TrainSyntheticModel(path, spec.options); !status) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), status.error().ToString().c_str());
      return 1;
    }
    std::printf("wrote %s\n", path.c_str());
  }
  return 0;
}
