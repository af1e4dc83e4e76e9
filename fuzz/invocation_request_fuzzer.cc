// The inference body parser (gateway/invocation_request.h).
//
// Input: a request body. Invariants:
//  - an accepted body has rows >= 1, cols >= 1, rows * cols features, all
//    finite;
//  - the same body with an unknown key added in front (which the fast path
//    refuses, so the general path reads it) gives the same result or the same
//    error: the fast path gives what the general path gives;
//  - an accepted request written out again (every float exactly) parses to the
//    same user, rows and features.
// Features compare as values: -0 and 0 are the same feature.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "gateway/invocation_request.h"
#include "util/json_writer.h"

namespace {

using mlcanary::gateway::InvocationRequest;
using mlcanary::gateway::ParseInvocationRequest;

// Equal values (-0 == 0: the fast path reads "-0" as -0.0f, Boost.JSON as the
// integer 0, and JsonWriter writes -0.0 as 0; a model sees no difference).
bool Same(const InvocationRequest& a, const InvocationRequest& b) {
  return a.user_id == b.user_id && a.rows == b.rows && a.cols == b.cols && a.features == b.features;
}

// {"user_id": ..., "instances": [{"features": [...]}, ...]}, each float as the
// double that is exactly it (JsonWriter writes the shortest text of a double).
std::string WriteOut(const InvocationRequest& r) {
  mlcanary::util::JsonWriter w;
  w.BeginObject();
  if (!r.user_id.empty()) w.Key("user_id").String(r.user_id);
  w.Key("instances").BeginArray();
  for (std::size_t row = 0; row < r.rows; ++row) {
    w.BeginObject().Key("features").BeginArray();
    for (std::size_t col = 0; col < r.cols; ++col) {
      w.Number(static_cast<double>(r.features[row * r.cols + col]));
    }
    w.EndArray().EndObject();
  }
  w.EndArray().EndObject();
  return w.Release();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto parsed = ParseInvocationRequest(body);

  // The general path alone: an unknown key first.
  const std::size_t brace = body.find_first_not_of(" \t\r\n");
  if (brace != std::string_view::npos && body[brace] == '{') {
    const std::string general = std::string(body.substr(0, brace)) + "{\"fuzz_unknown\":0," +
                                std::string(body.substr(brace + 1));
    const auto slow = ParseInvocationRequest(general);
    // Boost.JSON 1.81's number parser reads "0e390" as infinity, and refuses
    // an exponent past its integer range ("0e31844674407370955161590":
    // "exponent overflow"), so the general path refuses a zero that the fast
    // path reads right: those two differences are Boost's, not the fast path's.
    const bool boost_limit =
        parsed && !slow &&
        (slow.error().message().find("is not a finite number") != std::string::npos ||
         slow.error().message().find("exponent overflow") != std::string::npos);
    if (parsed && !boost_limit) {
      FUZZ_CHECK(slow.has_value(), "fast path accepted what the general path refuses: %s",
                 slow.error().ToString().c_str());
      FUZZ_CHECK(Same(*parsed, *slow), "fast path and general path differ");
    } else if (slow) {
      // `{}` refused, `{"fuzz_unknown":0,}` too: a general-path acceptance of
      // the extended body means the original was refused for a reason the
      // key cannot fix.
      FUZZ_CHECK(false, "general path accepts what was refused: %s",
                 parsed.error().ToString().c_str());
    }
  }

  if (!parsed) return 0;
  const InvocationRequest& r = *parsed;
  FUZZ_CHECK(r.rows >= 1 && r.cols >= 1, "rows %zu cols %zu", r.rows, r.cols);
  FUZZ_CHECK(r.features.size() == r.rows * r.cols, "%zu features for %zu x %zu", r.features.size(),
             r.rows, r.cols);
  for (float f : r.features) FUZZ_CHECK(std::isfinite(f), "a feature is not finite");

  const std::string again = WriteOut(r);
  const auto round = ParseInvocationRequest(again);
  FUZZ_CHECK(round.has_value(), "written out again: %s", round.error().ToString().c_str());
  FUZZ_CHECK(Same(r, *round), "differs after writing out again: %s", again.c_str());
  return 0;
}
