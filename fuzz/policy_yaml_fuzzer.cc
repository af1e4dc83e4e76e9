// The YAML policy reader (config/policy_yaml.h) beside the JSON one.
//
// Input: byte 0 picks how bare numbers read as durations (refused, or minutes
// as in scenario files); the rest is a YAML policy. Invariants: nothing
// throws; an accepted policy passes ValidatePolicy; the control API's JSON
// reader accepts it as written by WritePolicy and gives back the same policy
// (YAML and JSON policies mean the same thing; numbers within 4 ULP, see
// json_equal.h).
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "codec/domain_json.h"
#include "config/policy_yaml.h"
#include "config/yaml_fields.h"
#include "core/policy.h"
#include "fuzz_check.h"
#include "json_equal.h"
#include "util/json_writer.h"

namespace {

namespace config = mlcanary::config;
namespace core = mlcanary::core;

std::string PolicyJson(const core::Policy& p) {
  mlcanary::util::JsonWriter w;
  mlcanary::codec::WritePolicy(w, p);
  return w.Release();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const config::BareNumber bare =
      data[0] % 2 == 0 ? config::BareNumber::kRefused : config::BareNumber::kMinutes;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto node = config::LoadYamlString(text, "fuzz.yaml");
  if (!node) return 0;
  const auto policy = config::ReadPolicy(*node, config::YamlPath("fuzz.yaml", "policy"), bare);
  if (!policy) return 0;
  const auto valid = core::ValidatePolicy(*policy);
  FUZZ_CHECK(valid.has_value(), "accepted policy fails ValidatePolicy: %s",
             valid.error().ToString().c_str());

  const std::string json = PolicyJson(*policy);
  const auto value = mlcanary::codec::ParseJson(json, "policy");
  FUZZ_CHECK(value.has_value(), "WritePolicy wrote no JSON: %s", json.c_str());
  const auto again = mlcanary::codec::ParsePolicy(*value, "policy");
  FUZZ_CHECK(again.has_value(), "the JSON reader refuses %s: %s", json.c_str(),
             again.error().ToString().c_str());
  FUZZ_CHECK(JsonTextsNearlyEqual(PolicyJson(*again), json), "the JSON reader reads %s as %s",
             json.c_str(), PolicyJson(*again).c_str());
  return 0;
}
