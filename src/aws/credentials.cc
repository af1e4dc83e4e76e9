// The credential chain: environment variables, then the shared credentials
// file (INI) with AWS_PROFILE; and the region from the environment.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "aws/aws_client.h"

namespace mlcanary::aws {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool Present(const std::optional<std::string>& value) { return value && !value->empty(); }

}  // namespace

GetEnv ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::string LoadRegion(const GetEnv& getenv, std::string_view configured) {
  if (!configured.empty()) return std::string(configured);
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    if (auto region = getenv(name); Present(region)) return *std::move(region);
  }
  return "us-east-1";
}

core::Result<Credentials> ParseCredentialsFile(std::string_view text, std::string_view profile,
                                               std::string_view source) {
  bool in_profile = false;
  bool found_profile = false;
  std::optional<std::string> key_id;
  std::optional<std::string> secret;
  std::optional<std::string> token;
  int line_number = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = Trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']') {
        return core::ValidationError(std::string(source) + ":" + std::to_string(line_number) +
                                     ": malformed section header '" + std::string(line) + "'");
      }
      std::string_view name = Trim(line.substr(1, line.size() - 2));
      // The config file's "[profile name]" form, tolerated here too.
      if (name.starts_with("profile ") && Trim(name.substr(8)) == profile) name = profile;
      in_profile = name == profile;
      found_profile = found_profile || in_profile;
      continue;
    }
    if (!in_profile) continue;
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return core::ValidationError(std::string(source) + ":" + std::to_string(line_number) +
                                   ": expected 'key = value' in profile [" + std::string(profile) +
                                   "], got '" + std::string(line) + "'");
    }
    const std::string_view key = Trim(line.substr(0, eq));
    const std::string value(Trim(line.substr(eq + 1)));
    if (key == "aws_access_key_id") {
      key_id = value;
    } else if (key == "aws_secret_access_key") {
      secret = value;
    } else if (key == "aws_session_token" || key == "aws_security_token") {
      if (key == "aws_session_token" || !token) token = value;
    }
  }
  const std::string where = std::string(source) + " profile [" + std::string(profile) + "]";
  if (!found_profile) {
    return core::ValidationError(std::string(source) + ": no profile [" + std::string(profile) +
                                 "]");
  }
  if (!Present(key_id)) return core::ValidationError(where + ": missing aws_access_key_id");
  if (!Present(secret)) return core::ValidationError(where + ": missing aws_secret_access_key");
  return Credentials{*key_id, *secret, token.value_or("")};
}

core::Result<Credentials> LoadCredentials(const GetEnv& getenv) {
  const auto key_id = getenv("AWS_ACCESS_KEY_ID");
  const auto secret = getenv("AWS_SECRET_ACCESS_KEY");
  if (Present(key_id) && Present(secret)) {
    auto token = getenv("AWS_SESSION_TOKEN");
    if (!Present(token)) token = getenv("AWS_SECURITY_TOKEN");
    return Credentials{*key_id, *secret, token.value_or("")};
  }
  if (Present(key_id) != Present(secret)) {
    return core::ValidationError(Present(key_id)
                                     ? "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"
                                     : "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
  }
  std::string path;
  if (const auto file = getenv("AWS_SHARED_CREDENTIALS_FILE"); Present(file)) {
    path = *file;
  } else if (const auto home = getenv("HOME"); Present(home)) {
    path = *home + "/.aws/credentials";
  } else {
    return core::ValidationError(
        "no AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
        "AWS_SHARED_CREDENTIALS_FILE and HOME are all unset");
  }
  if (path.starts_with("~/")) {
    if (const auto home = getenv("HOME"); Present(home)) path = *home + path.substr(1);
  }
  std::string profile = "default";
  if (const auto p = getenv("AWS_PROFILE"); Present(p)) {
    profile = *p;
  } else if (const auto dp = getenv("AWS_DEFAULT_PROFILE"); Present(dp)) {
    profile = *dp;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return core::ValidationError(
        "no AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are unset and " + path +
        " cannot be read (" + std::strerror(errno) + ")");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseCredentialsFile(text.str(), profile, path);
}

}  // namespace mlcanary::aws
