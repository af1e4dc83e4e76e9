// The PostgreSQL store's URL, header-only and free of libpq, so that the
// service configuration can recognize `store: postgresql://...` where it reads
// it, and anyone can print a URL without its password.
#ifndef MLCANARY_STORE_POSTGRES_URL_H_
#define MLCANARY_STORE_POSTGRES_URL_H_

#include <string>
#include <string_view>

namespace mlcanary::store {

// The URL forms the PostgreSQL store takes (libpq's connection URIs).
inline constexpr std::string_view kPostgresUrlForm =
    "postgresql://[user[:password]@][host][:port][/dbname][?param=value&...]";

// True when `url` is a libpq connection URI (postgresql:// or postgres://).
// Only the scheme is checked here: libpq checks the rest when the store opens.
constexpr bool IsPostgresUrl(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

// `url` with its password masked as "***", both the one in the user info
// (postgresql://user:secret@host -> postgresql://user:***@host) and a
// `password=` query parameter, for messages and logs.
inline std::string RedactPostgresUrl(std::string_view url) {
  std::string out(url);
  const std::size_t scheme = out.find("://");
  if (scheme == std::string::npos) return out;
  const std::size_t authority = scheme + 3;
  std::size_t authority_end = out.find_first_of("/?", authority);
  if (authority_end == std::string::npos) authority_end = out.size();
  const std::size_t at = out.rfind('@', authority_end);
  if (at != std::string::npos && at >= authority) {
    const std::size_t colon = out.find(':', authority);
    if (colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  const std::size_t query = out.find('?', authority);
  if (query == std::string::npos) return out;
  for (std::size_t p = query + 1; p < out.size();) {
    std::size_t end = out.find('&', p);
    if (end == std::string::npos) end = out.size();
    constexpr std::string_view kKey = "password=";
    if (std::string_view(out).substr(p, end - p).starts_with(kKey)) {
      out.replace(p + kKey.size(), end - p - kKey.size(), "***");
      end = p + kKey.size() + 3;
    }
    p = end + 1;
  }
  return out;
}

}  // namespace mlcanary::store

#endif  // MLCANARY_STORE_POSTGRES_URL_H_
