// The JSON readers of the domain's values (codec/domain_json.h): the policy
// and model of a create request, and the deployment, event and endpoint
// records the stores read back.
//
// Input: JSON text, given to every reader. Invariants:
//  - a policy ParsePolicy accepts passes ValidatePolicy;
//  - what a reader accepts, written out (Write*) and read again, is accepted,
//    and writes out to the same values (numbers within 4 ULP: json_equal.h).
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "codec/domain_json.h"
#include "core/policy.h"
#include "fuzz_check.h"
#include "json_equal.h"
#include "util/json_writer.h"

namespace {

namespace codec = mlcanary::codec;
namespace core = mlcanary::core;

template <typename T, typename Parse, typename Write>
void RoundTrip(const boost::json::value& v, Parse parse, Write write, const char* what) {
  const core::Result<T> first = parse(v);
  if (!first) {
    FUZZ_CHECK(!first.error().message().empty(), "%s: an error without a message", what);
    return;
  }
  mlcanary::util::JsonWriter w1;
  write(w1, *first);
  const std::string text1 = w1.Release();
  const auto v2 = codec::ParseJson(text1, what);
  FUZZ_CHECK(v2.has_value(), "%s written out is not JSON: %s", what, text1.c_str());
  const core::Result<T> second = parse(*v2);
  FUZZ_CHECK(second.has_value(), "%s written out is refused: %s\n  %s", what,
             second.error().ToString().c_str(), text1.c_str());
  mlcanary::util::JsonWriter w2;
  write(w2, *second);
  const std::string text2 = w2.Release();
  FUZZ_CHECK(JsonTextsNearlyEqual(text1, text2), "%s differs after a round trip:\n  %s\n  %s", what,
             text1.c_str(), text2.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto v =
      codec::ParseJson(std::string_view(reinterpret_cast<const char*>(data), size), "body");
  if (!v) return 0;

  if (auto policy = codec::ParsePolicy(*v, "policy")) {
    const auto valid = core::ValidatePolicy(*policy);
    FUZZ_CHECK(valid.has_value(), "accepted policy fails ValidatePolicy: %s",
               valid.error().ToString().c_str());
  }
  RoundTrip<core::Policy>(
      *v, [](const boost::json::value& x) { return codec::ParsePolicy(x, "policy"); },
      codec::WritePolicy, "policy");
  RoundTrip<core::ModelSpec>(
      *v, [](const boost::json::value& x) { return codec::ParseModelSpec(x, "model"); },
      codec::WriteModelSpec, "model");
  // A deployment without "model" is read with an empty model, which is then
  // written as {"kind":"xgboost","path":""} and refused: no writer leaves the
  // model out, so only deployments with one must round-trip.
  if (v->is_object() && !v->get_object().contains("model")) {
    (void)codec::ParseDeployment(*v, "deployment");
  } else {
    RoundTrip<core::Deployment>(
        *v, [](const boost::json::value& x) { return codec::ParseDeployment(x, "deployment"); },
        codec::WriteDeployment, "deployment");
  }
  RoundTrip<core::DeploymentEvent>(
      *v, [](const boost::json::value& x) { return codec::ParseEvent(x, "event"); },
      codec::WriteEvent, "event");
  RoundTrip<core::Endpoint>(
      *v, [](const boost::json::value& x) { return codec::ParseEndpoint(x, "endpoint"); },
      codec::WriteEndpoint, "endpoint");
  RoundTrip<core::HealthReport>(
      *v, [](const boost::json::value& x) { return codec::ParseHealthReport(x, "check"); },
      codec::WriteHealthReport, "check");
  return 0;
}
