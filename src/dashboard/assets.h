// The dashboard's static web files (HTML, JS, CSS, icon), embedded into the
// binary at build time, looked up by name.
#ifndef MLCANARY_DASHBOARD_ASSETS_H_
#define MLCANARY_DASHBOARD_ASSETS_H_

#include <optional>
#include <string_view>
#include <vector>

namespace mlcanary::dashboard {

// One embedded file. The views point into static storage: valid for the
// whole run, safe to share between threads.
struct Asset {
  std::string_view name;          // "app.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;
};

// The page itself, served at GET /.
inline constexpr std::string_view kIndexName = "index.html";

// The file called `name` ("index.html", "app.js", "style.css", "favicon.svg"),
// or nullopt. Only the embedded names match: no path, no "..".
std::optional<Asset> FindAsset(std::string_view name);

// Every embedded file, in build order.
std::vector<Asset> AllAssets();

}  // namespace mlcanary::dashboard

#endif  // MLCANARY_DASHBOARD_ASSETS_H_
