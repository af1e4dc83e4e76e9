// GET /v1/deployments' query and its page token.
#include "api/internal/list_query.h"

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <utility>

#include "core/state_machine.h"
#include "core/time.h"

namespace mlcanary::api::internal {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view kVersion = "v1.";

std::string Base64Url(std::string_view bytes) {
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : bytes) {
    bits = (bits << 8) | static_cast<unsigned char>(c);
    count += 8;
    while (count >= 6) {
      count -= 6;
      out.push_back(kAlphabet[(bits >> count) & 0x3F]);
    }
  }
  if (count > 0) out.push_back(kAlphabet[(bits << (6 - count)) & 0x3F]);
  return out;
}

// nullopt for a character outside the alphabet or a length no encoding has.
std::optional<std::string> FromBase64Url(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    const std::size_t v = kAlphabet.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xFF));
    }
  }
  // The bits left over must be zero, or two texts would decode alike.
  if ((bits & ((1u << count) - 1)) != 0) return std::nullopt;
  return out;
}

// FNV-1a, 64 bits, as 16 hex digits: catches a token edited by hand. Not a
// secret: the token is a position in the listing, nothing a caller could not
// ask for with since/until.
std::string Check(std::string_view text) {
  std::uint64_t h = 14695981039346656037ull;
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return std::string(out, 16);
}

core::Error Invalid(std::string_view parameter, std::string message) {
  return core::Error(core::ErrorCode::kValidation,
                     "query." + std::string(parameter) + ": " + std::move(message));
}

core::Result<std::optional<core::Timestamp>> TimeParameter(const http::Request& request,
                                                           std::string_view name) {
  auto text = request.Query(name);
  if (!text) return std::nullopt;
  auto t = core::ParseRfc3339(*text);
  if (!t) {
    return std::unexpected(Invalid(name,
                                   "expected an RFC 3339 UTC time such as "
                                   "2026-11-28T17:39:58Z, got '" +
                                       std::string(*text) + "'"));
  }
  return *t;
}

core::Result<std::size_t> LimitParameter(std::string_view text) {
  std::size_t limit = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || limit < 1 ||
      limit > kMaxListLimit) {
    return std::unexpected(Invalid("limit", "expected an integer from 1 to " +
                                                std::to_string(kMaxListLimit) + ", got '" +
                                                std::string(text) + "'"));
  }
  return limit;
}

}  // namespace

std::string EncodePageToken(const core::DeploymentCursor& cursor) {
  std::string payload = std::string(kVersion) +
                        std::to_string(cursor.created_at.time_since_epoch().count()) + "." +
                        cursor.id;
  payload += "." + Check(payload);
  return Base64Url(payload);
}

core::Result<core::DeploymentCursor> DecodePageToken(std::string_view token) {
  auto invalid = [] {
    return std::unexpected(Invalid("page_token",
                                   "not a page token of this listing "
                                   "(pass next_page_token unchanged)"));
  };
  auto payload = FromBase64Url(token);
  if (!payload || !payload->starts_with(kVersion)) return invalid();
  const std::size_t check_at = payload->rfind('.');
  if (check_at == std::string::npos || check_at + 17 != payload->size() ||
      Check(std::string_view(*payload).substr(0, check_at)) != payload->substr(check_at + 1)) {
    return invalid();
  }
  const std::string_view body =
      std::string_view(*payload).substr(kVersion.size(), check_at - kVersion.size());
  const std::size_t dot = body.find('.');
  if (dot == std::string_view::npos || dot + 1 >= body.size()) return invalid();
  std::int64_t ms = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + dot, ms);
  if (dot == 0 || ec != std::errc() || end != body.data() + dot) return invalid();
  return core::DeploymentCursor{.created_at = core::Timestamp(core::Duration(ms)),
                                .id = std::string(body.substr(dot + 1))};
}

core::Result<core::DeploymentFilter> ParseListQuery(const http::Request& request) {
  core::DeploymentFilter filter;
  if (auto endpoint = request.Query("endpoint")) filter.endpoint = std::string(*endpoint);
  if (auto state = request.Query("state")) {
    auto parsed = core::ParseState(*state);
    if (!parsed) {
      return std::unexpected(Invalid("state", "'" + std::string(*state) +
                                                  "' is not one of PENDING, IN_PROGRESS, "
                                                  "COMPLETED, ROLLING_BACK, ROLLED_BACK, FAILED, "
                                                  "CANCELLED"));
    }
    filter.state = *parsed;
  }
  auto since = TimeParameter(request, "since");
  if (!since) return std::unexpected(since.error());
  auto until = TimeParameter(request, "until");
  if (!until) return std::unexpected(until.error());
  filter.since = *since;
  filter.until = *until;
  if (filter.since && filter.until && *filter.since >= *filter.until) {
    return std::unexpected(Invalid("since", "must be before query.until"));
  }
  if (auto text = request.Query("limit")) {
    auto limit = LimitParameter(*text);
    if (!limit) return std::unexpected(limit.error());
    filter.limit = *limit;
  }
  if (auto token = request.Query("page_token")) {
    auto cursor = DecodePageToken(*token);
    if (!cursor) return std::unexpected(cursor.error());
    filter.after = std::move(*cursor);
  }
  return filter;
}

}  // namespace mlcanary::api::internal
