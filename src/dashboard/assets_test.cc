// The embedded dashboard files: present, typed, byte-exact.
#include "dashboard/assets.h"

#include <gtest/gtest.h>

#include <string>

namespace mlcanary::dashboard {
namespace {

TEST(DashboardAssetsTest, IndexIsHtmlThatLoadsTheScriptAndTheStyleSheet) {
  auto index = FindAsset(kIndexName);
  ASSERT_TRUE(index.has_value());
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(index->body.starts_with("<!doctype html>"));
  EXPECT_NE(index->body.find("assets/app.js"), std::string_view::npos);
  EXPECT_NE(index->body.find("assets/style.css"), std::string_view::npos);
}

TEST(DashboardAssetsTest, EveryFileHasItsContentType) {
  EXPECT_EQ(FindAsset("app.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(FindAsset("style.css")->content_type, "text/css; charset=utf-8");
  EXPECT_EQ(FindAsset("favicon.svg")->content_type, "image/svg+xml");
}

TEST(DashboardAssetsTest, BodiesAreTheFilesBytesWithoutATerminator) {
  for (const Asset& asset : AllAssets()) {
    EXPECT_FALSE(asset.body.empty()) << asset.name;
    EXPECT_NE(asset.body.back(), '\0') << asset.name;
  }
  EXPECT_EQ(AllAssets().size(), 4u);
}

TEST(DashboardAssetsTest, UnknownNamesAndPathsAreNotFound) {
  for (std::string_view name :
       {"", "nope.js", "../index.html", "web/app.js", "/app.js", "index.html/", "INDEX.HTML"}) {
    EXPECT_FALSE(FindAsset(name).has_value()) << name;
  }
}

}  // namespace
}  // namespace mlcanary::dashboard
