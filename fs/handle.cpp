// SPDX-License-Identifier: MPL-2.0
#include "fs/handle.hpp"

#include <cerrno>

#include "fs/errno_map.hpp"
#include "fs/write_policy.hpp"

namespace fsd {

Handle::Handle(std::string path, engine::WriteMode mode, Who who)
    : path_(std::move(path)), mode_(mode), who_(std::move(who)) {}

namespace {

bool is_blank(std::string_view data) { return data.find_first_not_of(" \t\r\n") == std::string_view::npos; }

}  // namespace

int Handle::append(std::string_view data) {
  has_written_ = true;
  if (refused_errno_ != 0) return refused_errno_;
  if (request_finished_) {
    // Whitespace after a whole request on the same fd is part of it: a bare
    // newline is a request only when nothing else was written before it.
    if (is_blank(data)) return 0;
    // A new request: the previous reply is no longer what this fd answers.
    reply_.clear();
    reply_cursor_ = 0;
    last_error_.reset();
    request_finished_ = false;
  }
  if (pending_.size() + data.size() > kMaxRequestBytes) {
    return refuse(
        engine::Error::too_large("request over " + std::to_string(kMaxRequestBytes) + " bytes; nothing was applied"));
  }
  pending_.append(data.data(), data.size());
  return 0;
}

int Handle::refuse(engine::Error error) {
  pending_.clear();
  pending_.shrink_to_fit();  // the zeroing allocator wipes the bytes
  refused_errno_ = to_errno(error.code);
  reply_ = error_reply_text(error);
  reply_cursor_ = 0;
  last_error_ = std::move(error);
  return refused_errno_;
}

int Handle::finish_request(engine::Result<engine::SecureString> outcome) {
  pending_.clear();
  pending_.shrink_to_fit();
  request_finished_ = true;
  reply_cursor_ = 0;
  if (outcome.ok()) {
    reply_ = std::move(outcome).value();
    last_error_.reset();
    return 0;
  }
  engine::Error error = std::move(outcome).error();
  reply_ = error_reply_text(error);
  const int err = to_errno(error.code);
  last_error_ = std::move(error);
  return err;
}

std::string_view Handle::read_reply(std::size_t size) {
  const std::string_view all = engine::as_view(reply_);
  if (reply_cursor_ >= all.size()) return {};
  const std::string_view part = all.substr(reply_cursor_, size);
  reply_cursor_ += part.size();
  return part;
}

std::string_view Handle::snapshot_slice(off_t off, std::size_t size) const {
  const std::string_view all = engine::as_view(*snapshot_);
  if (off < 0 || static_cast<std::size_t>(off) >= all.size()) return {};
  return all.substr(static_cast<std::size_t>(off), size);
}

engine::SecureString error_reply_text(const engine::Error& error) {
  engine::SecureString text = engine::to_secure(engine::to_string(error.code));
  if (!error.message.empty()) {
    text += ": ";
    text += engine::to_secure(error.message);
  }
  text += '\n';
  return text;
}

std::vector<std::string> reply_warnings(std::string_view reply) {
  std::vector<std::string> out;
  // Cheap test first: most replies have none (and some are not JSON).
  if (reply.find("\"warnings\"") == std::string_view::npos) return out;
  // Parsed as engine::Json, whose strings wipe themselves: a reply may hold
  // a token. Only the warnings leave this function.
  const engine::Json parsed = engine::Json::parse(reply.begin(), reply.end(), nullptr, false);
  if (!parsed.is_object()) return out;
  auto it = parsed.find(std::string_view("warnings"));
  if (it == parsed.end() || !it->is_array()) return out;
  for (const auto& w : *it) {
    if (w.is_string()) out.push_back(engine::to_plain(w.get_ref<const engine::SecureString&>()));
  }
  return out;
}

}  // namespace fsd
