// FindAsset over the table that embed_assets.cmake generates at build time.
#include "dashboard/assets.h"

#include <cstddef>

namespace mlcanary::dashboard {
namespace {

struct EmbeddedFile {
  std::string_view name;
  const unsigned char* data;
  std::size_t size;  // without the terminating 0 the generator appends
};

#include "embedded_assets.inc"

std::string_view ContentTypeFor(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

Asset ToAsset(const EmbeddedFile& file) {
  return {.name = file.name,
          .content_type = ContentTypeFor(file.name),
          .body = std::string_view(reinterpret_cast<const char*>(file.data), file.size)};
}

}  // namespace

std::optional<Asset> FindAsset(std::string_view name) {
  for (const EmbeddedFile& file : kEmbeddedFiles) {
    if (file.name == name) return ToAsset(file);
  }
  return std::nullopt;
}

std::vector<Asset> AllAssets() {
  std::vector<Asset> out;
  for (const EmbeddedFile& file : kEmbeddedFiles) out.push_back(ToAsset(file));
  return out;
}

}  // namespace mlcanary::dashboard
