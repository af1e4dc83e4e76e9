// A small streaming JSON writer: escapes strings and writes numbers in their
// shortest round-trip form (0.1, not 1E-1). Not thread-safe; one per document.
#ifndef MLCANARY_UTIL_JSON_WRITER_H_
#define MLCANARY_UTIL_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mlcanary::util {

class JsonWriter {
 public:
  // indent 0 writes compact JSON; > 0 pretty-prints with that many spaces.
  explicit JsonWriter(int indent = 0) : indent_(indent) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Number(double value);  // non-finite values are written as null
  JsonWriter& Int(std::int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  const std::string& str() const { return out_; }
  std::string Release() { return std::move(out_); }

 private:
  void BeforeValue();
  void NewLine();

  int indent_;
  std::string out_;
  // One entry per open container: number of elements written so far.
  std::vector<int> counts_;
  bool after_key_ = false;
};

// Appends `value` as a JSON string literal (with quotes) to `out`. The result
// is always valid UTF-8: a byte of `value` that starts no well-formed UTF-8
// sequence is written as \ufffd.
void AppendJsonString(std::string& out, std::string_view value);
// Appends the shortest decimal form that round-trips ("0.1", "10", "1e-07");
// non-finite values are written as null.
void AppendJsonNumber(std::string& out, double value);
// The same for a float, shortest as a float: 0.42f is "0.42", not
// "0.41999998688697815" (model predictions are floats).
void AppendJsonNumber(std::string& out, float value);

}  // namespace mlcanary::util

#endif  // MLCANARY_UTIL_JSON_WRITER_H_
