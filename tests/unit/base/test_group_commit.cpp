// SPDX-License-Identifier: MPL-2.0
// The group commit's queue and its commit delay (engine/storage/group_commit.hpp),
// driven with threads and a commit that records its groups. Every wait in
// these tests has a limit of a minute, so a committer that waits when it
// should not makes the test fail on its elapsed time, and one that does not
// wait when it should makes it fail on the groups it formed.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/storage/group_commit.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Waiter {
  std::string name;
  bool done = false;
};

// A queue whose commits record the names in each group.
struct Queue {
  engine::GroupQueue<Waiter> q;
  std::mutex mu;
  std::vector<std::vector<std::string>> groups;

  Queue() { q.set_delay_limit(60s); }

  void apply(const std::string& name) {
    Waiter me{name};
    q.run(me, [&](const std::vector<Waiter*>& group) {
      std::vector<std::string> names;
      for (const Waiter* w : group) names.push_back(w->name);
      std::lock_guard lock(mu);
      groups.push_back(std::move(names));
    });
  }
  std::vector<std::vector<std::string>> recorded() {
    std::lock_guard lock(mu);
    return groups;
  }
};

// A thread handling an announced request that waits for `go`, then runs
// `then` (by default nothing: the request ends without writing).
std::thread announced_until(
    Queue& s, std::atomic<bool>& go, std::function<void()> then = [] {}) {
  return std::thread([&s, &go, then = std::move(then)] {
    engine::CommitDelay::Announce announced(&s.q);
    while (!go) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    then();
  });
}

template <class Pred>
void eventually(Pred pred) {
  for (int i = 0; i < 5000 && !pred(); ++i) std::this_thread::sleep_for(1ms);
  REQUIRE(pred());
}

}  // namespace

TEST_CASE("GroupQueue: a writer alone commits at once, announced or not", "[storage][group]") {
  Queue s;
  const auto started = Clock::now();
  s.apply("plain");
  {
    engine::CommitDelay::Announce announced(&s.q);
    CHECK(s.q.underway() == 1);
    s.apply("announced");
    CHECK(s.q.underway() == 0);  // queued: no longer waited for
    s.apply("second batch of the same request");
  }
  CHECK(Clock::now() - started < 30s);
  CHECK(s.q.delays().first == 0);
  CHECK(s.recorded().size() == 3);
}

TEST_CASE("GroupQueue: a committer waits for an announced write, which joins its group", "[storage][group]") {
  Queue s;
  std::atomic<bool> go{false};
  std::thread late = announced_until(s, go, [&] { s.apply("late"); });
  eventually([&] { return s.q.underway() == 1; });
  std::thread early([&] {
    engine::CommitDelay::Announce announced(&s.q);
    s.apply("early");
  });
  // The early writer queued and waits for the late one.
  eventually([&] { return s.q.queued() == 1 && s.q.underway() == 1; });
  std::this_thread::sleep_for(50ms);
  CHECK(s.recorded().empty());
  go = true;
  late.join();
  early.join();
  REQUIRE(s.recorded().size() == 1);
  CHECK(s.recorded()[0] == std::vector<std::string>{"early", "late"});
  CHECK(s.q.delays() == std::pair<std::uint64_t, std::uint64_t>{1, 0});
}

TEST_CASE("GroupQueue: an announced request that ends without writing is not waited for", "[storage][group]") {
  Queue s;
  std::atomic<bool> go{false};
  std::thread refused = announced_until(s, go);
  eventually([&] { return s.q.underway() == 1; });
  const auto started = Clock::now();
  std::thread writer([&] {
    engine::CommitDelay::Announce announced(&s.q);
    s.apply("writer");
  });
  eventually([&] { return s.q.queued() == 1; });
  go = true;
  refused.join();
  writer.join();
  CHECK(Clock::now() - started < 30s);
  CHECK(s.recorded() == std::vector<std::vector<std::string>>{{"writer"}});
}

TEST_CASE("GroupQueue: a request blocked on a lock a queued write holds is not waited for", "[storage][group]") {
  Queue s;
  std::mutex key;  // a key's lock, held by a write until its group commits
  std::atomic<bool> holding{false}, second_announced{false};
  const auto started = Clock::now();
  std::thread first([&] {
    engine::CommitDelay::Announce announced(&s.q);
    auto lock = engine::CommitDelay::locked(key);
    holding = true;
    // The second has announced (and may or may not be blocked yet), so
    // this commit has someone it could wait for.
    while (!second_announced) std::this_thread::sleep_for(1ms);
    s.apply("first");
  });
  eventually([&] { return holding.load(); });
  std::thread second([&] {
    engine::CommitDelay::Announce announced(&s.q);
    second_announced = true;
    auto lock = engine::CommitDelay::locked(key);  // waits for the first's commit, unannounced
    s.apply("second");
  });
  first.join();
  second.join();
  CHECK(Clock::now() - started < 30s);
  CHECK(s.recorded() == std::vector<std::vector<std::string>>{{"first"}, {"second"}});
}

TEST_CASE("GroupQueue: the writers of a group are expected back, and four share every commit", "[storage][group]") {
  // Four writers in a loop. Each does its work between two writes before
  // it announces the next (as a client between two requests), so a writer
  // back first finds the others unannounced: without the group's writers
  // expected back, it would commit alone.
  Queue s;
  constexpr int kWriters = 4, kEach = 50;
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kEach; ++i) {
        std::optional<engine::CommitDelay::Announce> announced;
        if (i == 0) {  // the first group: everyone announced before anyone writes
          announced.emplace(&s.q);
          ++ready;
          while (ready < kWriters) std::this_thread::sleep_for(100us);
        } else {
          std::this_thread::sleep_for(200us);
          announced.emplace(&s.q);
        }
        s.apply(std::to_string(w));
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto groups = s.recorded();
  std::size_t total = 0;
  for (const auto& g : groups) {
    total += g.size();
    CHECK(g.size() == kWriters);
  }
  CHECK(total == kWriters * kEach);
  CHECK(groups.size() == kEach);
  CHECK(s.q.delays().second == 0);
}

TEST_CASE("GroupQueue: a writer that stops is waited for once, up to the limit", "[storage][group]") {
  Queue s;
  s.q.set_delay_limit(20ms);
  // Two writers share a commit, then one of them stops.
  std::thread a([&] {
    engine::CommitDelay::Announce announced(&s.q);
    while (s.q.underway() < 2) std::this_thread::sleep_for(1ms);
    s.apply("a");
  });
  std::thread b([&] {
    engine::CommitDelay::Announce announced(&s.q);
    while (s.q.queued() < 1) std::this_thread::sleep_for(1ms);
    s.apply("b");
  });
  a.join();
  b.join();
  REQUIRE(s.recorded().size() == 1);
  CHECK(s.recorded()[0].size() == 2);
  // The next write waits for the second writer of that group, in vain, and
  // after that no more.
  for (int i = 0; i < 3; ++i) {
    engine::CommitDelay::Announce announced(&s.q);
    s.apply("a" + std::to_string(i));
  }
  CHECK(s.q.delays() == std::pair<std::uint64_t, std::uint64_t>{2, 1});
  CHECK(s.recorded().size() == 4);
}

TEST_CASE("GroupQueue: writers that never announce are not expected back", "[storage][group]") {
  // Logins and the store's own writes do not announce. A group of one
  // announced write and two such writes leaves nobody expected back, so the
  // next commit does not wait.
  Queue s;
  std::atomic<bool> release{false};
  std::thread holder = announced_until(s, release);  // keeps the first commit waiting, writes nothing
  eventually([&] { return s.q.underway() == 1; });
  std::thread announced_writer([&] {
    engine::CommitDelay::Announce announced(&s.q);
    s.apply("announced");
  });
  eventually([&] { return s.q.queued() == 1; });
  std::thread u1([&] { s.apply("u1"); });
  std::thread u2([&] { s.apply("u2"); });
  eventually([&] { return s.q.queued() == 3; });
  release = true;
  for (auto* t : {&holder, &announced_writer, &u1, &u2}) t->join();
  REQUIRE(s.recorded().size() == 1);
  CHECK(s.recorded()[0].size() == 3);
  const auto started = Clock::now();
  {
    engine::CommitDelay::Announce announced(&s.q);
    s.apply("next");
  }
  CHECK(Clock::now() - started < 30s);
  CHECK(s.q.delays() == std::pair<std::uint64_t, std::uint64_t>{1, 0});
}
