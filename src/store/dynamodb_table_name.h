// The syntax of a DynamoDB table name, header-only and free of the AWS client,
// so that the service configuration can check `store: dynamodb:TABLE` where it
// reads it (naming the key and the line) and the store can check it on Open.
#ifndef MLCANARY_STORE_DYNAMODB_TABLE_NAME_H_
#define MLCANARY_STORE_DYNAMODB_TABLE_NAME_H_

#include <algorithm>
#include <string_view>

namespace mlcanary::store {

// What IsDynamoDbTableName checks, for messages.
inline constexpr std::string_view kDynamoDbTableNameRule =
    "a table name has 3 to 255 characters of A-Z a-z 0-9 _ - .";

// 3 to 255 characters of [A-Za-z0-9_.-] (DynamoDB's rule for table names).
constexpr bool IsDynamoDbTableName(std::string_view name) {
  if (name.size() < 3 || name.size() > 255) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

}  // namespace mlcanary::store

#endif  // MLCANARY_STORE_DYNAMODB_TABLE_NAME_H_
