// Tests of the YAML loading helpers: a key given twice is refused with its
// key path and line (yaml-cpp alone keeps the first and drops the other).
#include "config/yaml_fields.h"

#include <gtest/gtest.h>

#include <string>

namespace mlcanary::config {
namespace {

std::string LoadError(const std::string& yaml) {
  auto node = LoadYamlString(yaml, "f.yaml");
  if (node) return "";
  EXPECT_EQ(node.error().code(), core::ErrorCode::kValidation);
  return node.error().message();
}

TEST(LoadYamlStringTest, TopLevelDuplicateKeyIsRefusedWithBothLines) {
  EXPECT_EQ(LoadError("store: sqlite:a.db\nlisten: {}\nstore: sqlite:b.db\n"),
            "f.yaml: store (line 3): duplicate key (first at line 1)");
}

TEST(LoadYamlStringTest, NestedDuplicateKeyNamesItsPath) {
  EXPECT_EQ(LoadError("endpoints:\n"
                      "  - name: recs\n"
                      "    policy:\n"
                      "      bake: 1m\n"
                      "      interval: 5s\n"
                      "      bake: 2m\n"),
            "f.yaml: endpoints[0].policy.bake (line 6): duplicate key (first at line 4)");
}

TEST(LoadYamlStringTest, DuplicateInAFlowMappingIsRefused) {
  EXPECT_EQ(LoadError("a:\n  - x\n  - {k: 1, k: 2}\n"),
            "f.yaml: a[1].k (line 3): duplicate key (first at line 3)");
}

TEST(LoadYamlStringTest, SameKeyInSiblingMappingsIsFine) {
  EXPECT_EQ(LoadError("a: {k: 1}\nb: {k: 2}\nc:\n  - {k: 1}\n  - {k: 2}\n"), "");
}

TEST(LoadYamlStringTest, AliasedMappingIsNotADuplicate) {
  EXPECT_EQ(LoadError("base: &b {k: 1}\nx: *b\ny: *b\n"), "");
}

TEST(LoadYamlStringTest, SyntaxErrorStillNamesTheLine) {
  const std::string e = LoadError("a: 1\nb: [1, 2\n");
  EXPECT_NE(e.find("f.yaml (line"), std::string::npos) << e;
  EXPECT_NE(e.find("invalid YAML"), std::string::npos) << e;
}

}  // namespace
}  // namespace mlcanary::config
