// SPDX-License-Identifier: MPL-2.0
// The token_* fields every auth method role or user carries (Vault's
// tokenutil.TokenParams): parsed from a write, shown by a read, and copied
// into the LoginAuth of a successful login.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "engine/common/error.hpp"
#include "engine/common/request.hpp"

namespace engine::auth {

struct TokenParams {
  std::vector<std::string> policies;  // token_policies (legacy "policies")
  std::int64_t ttl = 0;               // token_ttl (legacy "ttl"), seconds
  std::int64_t max_ttl = 0;           // token_max_ttl (legacy "max_ttl")
  std::int64_t explicit_max_ttl = 0;  // token_explicit_max_ttl
  std::int64_t period = 0;            // token_period (legacy "period")
  std::int64_t num_uses = 0;          // token_num_uses
  bool no_default_policy = false;     // token_no_default_policy
  std::string type = "default";       // token_type: default | service

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(policies, ttl, max_ttl, explicit_max_ttl, period, num_uses, no_default_policy, type);
  }
};

// The body keys parse_token_params() reads, for fields::only() lists.
inline constexpr std::string_view kTokenParamKeys[] = {"token_policies",
                                                       "policies",
                                                       "token_ttl",
                                                       "ttl",
                                                       "token_max_ttl",
                                                       "max_ttl",
                                                       "token_period",
                                                       "period",
                                                       "token_num_uses",
                                                       "token_type",
                                                       "token_explicit_max_ttl",
                                                       "token_no_default_policy",
                                                       "token_bound_cidrs",
                                                       "bound_cidrs"};

// True if key is one of kTokenParamKeys.
bool is_token_param_key(std::string_view key);

// InvalidArgument naming the first key of body that is neither a token
// parameter nor in `extra`.
Status only_with_token_params(const Json& body, std::initializer_list<std::string_view> extra);

// Applies the token fields present in body to `params` (absent fields keep
// their value, so the same call serves create and update). A token_* key
// wins over its legacy alias. Errors (InvalidArgument, Vault's words where
// Vault has them): negative durations or uses, token_type other than
// default/service ("batch tokens are not supported"), bound CIDRs (a
// filesystem has no client addresses to check them against), and
// "ttl should not be greater than max ttl".
Status parse_token_params(const Json& body, TokenParams& params);

// The token_* keys of a read, as Vault shows them.
void show_token_params(const TokenParams& params, Json& out);

// A login's token settings from the configured parameters.
void fill_login(const TokenParams& params, LoginAuth& login);

}  // namespace engine::auth

CEREAL_CLASS_VERSION(engine::auth::TokenParams, 1);
