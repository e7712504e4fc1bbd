// SPDX-License-Identifier: MPL-2.0
#include <catch2/catch.hpp>

#include "fs/log.hpp"

TEST_CASE("log: level names", "[log]") {
  CHECK(fsd::parse_log_level("error") == fsd::LogLevel::Error);
  CHECK(fsd::parse_log_level("warn") == fsd::LogLevel::Warn);
  CHECK(fsd::parse_log_level("warning") == fsd::LogLevel::Warn);
  CHECK(fsd::parse_log_level("info") == fsd::LogLevel::Info);
  CHECK(fsd::parse_log_level("debug") == fsd::LogLevel::Debug);
  CHECK_FALSE(fsd::parse_log_level("loud").has_value());
}

TEST_CASE("log: the level filters", "[log]") {
  const auto saved = fsd::log_level();
  fsd::set_log_level(fsd::LogLevel::Warn);
  CHECK(fsd::log_enabled(fsd::LogLevel::Error));
  CHECK(fsd::log_enabled(fsd::LogLevel::Warn));
  CHECK_FALSE(fsd::log_enabled(fsd::LogLevel::Info));
  CHECK_FALSE(fsd::log_enabled(fsd::LogLevel::Debug));
  fsd::set_log_level(saved);
}
