// TreeEnsemble: parsing XGBoost's JSON model format (1.x) and walking the trees.
#include "models/internal/tree_ensemble.h"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <string>

namespace mlcanary::models::internal {
namespace {

namespace json = boost::json;

core::Error Unsupported(std::string what) {
  return core::Error(core::ErrorCode::kValidation, "native trees: " + std::move(what));
}

// XGBoost writes model parameters as strings ("5E-1", "8").
bool ParamNumber(const json::object& params, std::string_view key, double& out) {
  const json::value* v = params.if_contains(key);
  if (v == nullptr) return false;
  if (v->is_number()) {
    out = v->to_number<double>();
    return true;
  }
  if (!v->is_string()) return false;
  const auto& s = v->get_string();
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

const json::array* Array(const json::object& tree, std::string_view key) {
  const json::value* v = tree.if_contains(key);
  return v != nullptr && v->is_array() ? &v->get_array() : nullptr;
}

}  // namespace

// Parse's steps, with access to TreeEnsemble's arrays. Each throws (boost.json's
// at/as) on a missing or mistyped member; Parse turns that into its error.
class TreeEnsembleReader {
 public:
  using Node = TreeEnsemble::Node;

  // learner_model_param and objective: features, base margin, transform.
  static core::Status ReadLearner(const json::object& learner, TreeEnsemble& out) {
    const json::object& params = learner.at("learner_model_param").as_object();
    double num_class = 0, num_target = 1, num_feature = 0, base_score = 0.5;
    ParamNumber(params, "num_class", num_class);
    ParamNumber(params, "num_target", num_target);
    if (num_class > 1 || num_target > 1) return std::unexpected(Unsupported("multi-output model"));
    if (!ParamNumber(params, "num_feature", num_feature) || num_feature < 1) {
      return std::unexpected(Unsupported("no feature count"));
    }
    if (!ParamNumber(params, "base_score", base_score)) {
      return std::unexpected(Unsupported("no base_score"));
    }
    const std::string_view objective = learner.at("objective").at("name").as_string();
    out.num_features_ = static_cast<std::size_t>(num_feature);
    if (objective == "binary:logistic" || objective == "reg:logistic") {
      if (base_score <= 0 || base_score >= 1) return std::unexpected(Unsupported("base_score"));
      out.sigmoid_ = true;
      out.base_margin_ = static_cast<float>(-std::log(1.0 / base_score - 1.0));
    } else if (objective == "reg:squarederror") {
      out.base_margin_ = static_cast<float>(base_score);
    } else {
      return std::unexpected(Unsupported("objective " + std::string(objective)));
    }
    return core::Ok();
  }

  // One tree's node arrays appended to out.nodes_, its root to out.roots_.
  static core::Status AddTree(const json::object& tree, TreeEnsemble& out) {
    const auto* left = Array(tree, "left_children");
    const auto* right = Array(tree, "right_children");
    const auto* index = Array(tree, "split_indices");
    const auto* cond = Array(tree, "split_conditions");
    const auto* dleft = Array(tree, "default_left");
    const auto* type = Array(tree, "split_type");
    if (!left || !right || !index || !cond || !dleft) {
      return std::unexpected(Unsupported("tree without node arrays"));
    }
    const std::size_t n = left->size();
    if (n == 0 || right->size() != n || index->size() != n || cond->size() != n ||
        dleft->size() != n || (type && !type->empty() && type->size() != n)) {
      return std::unexpected(Unsupported("tree node arrays differ in length"));
    }
    const auto base = static_cast<std::int32_t>(out.nodes_.size());
    out.roots_.push_back(base);
    for (std::size_t i = 0; i < n; ++i) {
      const auto l = (*left)[i].to_number<std::int64_t>();
      const auto r = (*right)[i].to_number<std::int64_t>();
      Node node{};
      node.value = static_cast<float>((*cond)[i].to_number<double>());
      node.default_left = (*dleft)[i].to_number<std::int64_t>() != 0;
      if (l == -1) {
        node.feature = -1;
      } else {
        if (type && !type->empty() && (*type)[i].to_number<std::int64_t>() != 0) {
          return std::unexpected(Unsupported("categorical split"));
        }
        const auto f = (*index)[i].to_number<std::int64_t>();
        if (l <= 0 || r <= 0 || static_cast<std::size_t>(l) >= n ||
            static_cast<std::size_t>(r) >= n || f < 0 ||
            static_cast<std::size_t>(f) >= out.num_features_) {
          return std::unexpected(Unsupported("tree node out of range"));
        }
        node.feature = static_cast<std::int32_t>(f);
        node.left = base + static_cast<std::int32_t>(l);
        node.right = base + static_cast<std::int32_t>(r);
      }
      out.nodes_.push_back(node);
    }
    return core::Ok();
  }

  // Children index forward in XGBoost's layout, so every walk ends (AddTree
  // checked that children are > 0; a cycle needs a child <= its parent).
  static core::Status CheckChildrenForward(const TreeEnsemble& out) {
    for (std::size_t t = 0; t < out.roots_.size(); ++t) {
      const std::size_t begin = static_cast<std::size_t>(out.roots_[t]);
      const std::size_t end = t + 1 == out.roots_.size()
                                  ? out.nodes_.size()
                                  : static_cast<std::size_t>(out.roots_[t + 1]);
      for (std::size_t i = begin; i < end; ++i) {
        const Node& node = out.nodes_[i];
        if (node.feature >= 0 && (node.left <= std::int32_t(i) || node.right <= std::int32_t(i))) {
          return std::unexpected(Unsupported("tree children do not point forward"));
        }
      }
    }
    return core::Ok();
  }
};

core::Result<TreeEnsemble> TreeEnsemble::Parse(std::string_view model_json) {
  try {
    json::value doc = json::parse(model_json);
    const json::object& learner = doc.at("learner").as_object();
    TreeEnsemble out;
    if (auto s = TreeEnsembleReader::ReadLearner(learner, out); !s) {
      return std::unexpected(s.error());
    }
    const json::object& booster = learner.at("gradient_booster").as_object();
    if (booster.at("name").as_string() != "gbtree") {
      return std::unexpected(Unsupported("booster is not gbtree"));
    }
    const json::object& model = booster.at("model").as_object();
    double parallel = 1;
    ParamNumber(model.at("gbtree_model_param").as_object(), "num_parallel_tree", parallel);
    for (const auto& info : model.at("tree_info").as_array()) {
      if (info.to_number<std::int64_t>() != 0) return std::unexpected(Unsupported("tree groups"));
    }
    for (const auto& tree : model.at("trees").as_array()) {
      if (auto s = TreeEnsembleReader::AddTree(tree.as_object(), out); !s) {
        return std::unexpected(s.error());
      }
    }
    if (out.roots_.empty() || parallel < 1) return std::unexpected(Unsupported("no trees"));
    if (auto s = TreeEnsembleReader::CheckChildrenForward(out); !s) {
      return std::unexpected(s.error());
    }
    return out;
  } catch (const std::exception& e) {
    return std::unexpected(Unsupported(std::string("unreadable model JSON: ") + e.what()));
  }
}

float TreeEnsemble::PredictRow(const float* row) const {
  // Summed in XGBoost's order (base margin, then tree by tree) in float.
  float margin = base_margin_;
  const Node* nodes = nodes_.data();
  for (const std::int32_t root : roots_) {
    const Node* node = nodes + root;
    while (node->feature >= 0) {
      const float x = row[node->feature];
      const bool go_left = std::isnan(x) ? node->default_left != 0 : x < node->value;
      node = nodes + (go_left ? node->left : node->right);
    }
    margin += node->value;
  }
  return sigmoid_ ? 1.0f / (1.0f + std::exp(-margin)) : margin;
}

void TreeEnsemble::Predict(std::span<const float> values, std::size_t rows,
                           std::span<float> out) const {
  for (std::size_t r = 0; r < rows; ++r) out[r] = PredictRow(values.data() + r * num_features_);
}

}  // namespace mlcanary::models::internal
