// SPDX-License-Identifier: MPL-2.0
#include "engine/auth/token_params.hpp"

#include <algorithm>

#include "engine/common/fields.hpp"
#include "engine/common/json_values.hpp"
#include "engine/policy/policy.hpp"

namespace engine::auth {
namespace {

bool present(const Json& body, std::string_view key) {
  auto it = body.find(key);
  return it != body.end() && !it->is_null();
}

// One value from `key` or its legacy alias; both at once is an error.
Result<std::optional<std::int64_t>> duration_of(const Json& body, std::string_view key, std::string_view legacy) {
  if (!legacy.empty() && present(body, key) && present(body, legacy)) {
    return Error::invalid("cannot specify both \"" + std::string(key) + "\" and \"" + std::string(legacy) + "\"");
  }
  COFFER_TRY(auto v, fields::get_duration(body, present(body, key) || legacy.empty() ? key : legacy));
  if (v && *v < 0) return Error::invalid("\"" + std::string(key) + "\" must not be negative");
  return v;
}

}  // namespace

bool is_token_param_key(std::string_view key) {
  return std::find(std::begin(kTokenParamKeys), std::end(kTokenParamKeys), key) != std::end(kTokenParamKeys);
}

Status only_with_token_params(const Json& body, std::initializer_list<std::string_view> extra) {
  if (!body.is_object()) return Error::invalid("request body must be a JSON object");
  for (const auto& [key, value] : body.items()) {
    std::string_view k(key.data(), key.size());
    if (is_token_param_key(k) || std::find(extra.begin(), extra.end(), k) != extra.end()) continue;
    return Error::invalid("unknown field \"" + std::string(k) + "\"");
  }
  return {};
}

Status parse_token_params(const Json& body, TokenParams& params) {
  TokenParams next = params;
  if (present(body, "token_policies") && present(body, "policies")) {
    return Error::invalid("cannot specify both \"token_policies\" and \"policies\"");
  }
  COFFER_TRY(auto policies,
             fields::get_string_list(body, present(body, "token_policies") ? "token_policies" : "policies"));
  if (policies) {
    std::vector<std::string> clean;
    for (const auto& p : *policies) {
      std::string n = policy::normalize_policy_name(p);
      if (!n.empty() && std::find(clean.begin(), clean.end(), n) == clean.end()) clean.push_back(std::move(n));
    }
    std::sort(clean.begin(), clean.end());
    next.policies = std::move(clean);
  }
  COFFER_TRY(auto ttl, duration_of(body, "token_ttl", "ttl"));
  if (ttl) next.ttl = *ttl;
  COFFER_TRY(auto max_ttl, duration_of(body, "token_max_ttl", "max_ttl"));
  if (max_ttl) next.max_ttl = *max_ttl;
  COFFER_TRY(auto explicit_max, duration_of(body, "token_explicit_max_ttl", ""));
  if (explicit_max) next.explicit_max_ttl = *explicit_max;
  COFFER_TRY(auto period, duration_of(body, "token_period", "period"));
  if (period) next.period = *period;
  COFFER_TRY(auto uses, fields::get_int(body, "token_num_uses"));
  if (uses) {
    if (*uses < 0) return Error::invalid("\"token_num_uses\" must not be negative");
    next.num_uses = *uses;
  }
  COFFER_TRY(auto no_default, fields::get_bool(body, "token_no_default_policy"));
  if (no_default) next.no_default_policy = *no_default;
  COFFER_TRY(auto type, fields::get_string(body, "token_type"));
  if (type) {
    if (*type == "batch" || *type == "default-batch") return Error::invalid("batch tokens are not supported");
    if (*type != "default" && *type != "service" && *type != "default-service") {
      return Error::invalid("invalid 'token_type' value \"" + *type + "\"");
    }
    next.type = *type == "default-service" ? "default" : *type;
  }
  for (std::string_view key : {"token_bound_cidrs", "bound_cidrs"}) {
    COFFER_TRY(auto cidrs, fields::get_string_list(body, key));
    if (cidrs && !cidrs->empty()) {
      return Error::invalid("\"" + std::string(key) +
                            "\" is not supported: a filesystem has no client addresses to check it against");
    }
  }
  if (next.max_ttl > 0 && next.ttl > next.max_ttl) return Error::invalid("ttl should not be greater than max ttl");
  params = std::move(next);
  return {};
}

void show_token_params(const TokenParams& p, Json& out) {
  out["token_bound_cidrs"] = Json::array();
  out["token_explicit_max_ttl"] = p.explicit_max_ttl;
  out["token_max_ttl"] = p.max_ttl;
  out["token_no_default_policy"] = p.no_default_policy;
  out["token_num_uses"] = p.num_uses;
  out["token_period"] = p.period;
  out["token_policies"] = string_list(p.policies);
  out["token_ttl"] = p.ttl;
  out["token_type"] = p.type;
}

void fill_login(const TokenParams& p, LoginAuth& login) {
  login.policies = p.policies;
  login.no_default_policy = p.no_default_policy;
  login.ttl = p.ttl;
  login.max_ttl = p.max_ttl;
  login.explicit_max_ttl = p.explicit_max_ttl;
  login.period = p.period;
  login.num_uses = p.num_uses;
  login.renewable = true;
}

}  // namespace engine::auth
