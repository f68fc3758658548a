// The hybrid logical clock of the shared records (fleet/hlc.hpp): send and
// receive rules, the total order with the machine breaking ties, clock skew
// between machines and a wall clock that goes backwards.
#include <doctest/doctest.h>

#include <vector>

#include "soleus/fleet/hlc.hpp"

using namespace soleus::fleet;

TEST_CASE("hlc: send follows the wall clock when it moves forward") {
  HlcClock c;
  CHECK(c.send(1000) == Hlc::from(1000, 0));
  CHECK(c.send(1000) == Hlc::from(1000, 1));
  CHECK(c.send(1000) == Hlc::from(1000, 2));
  CHECK(c.send(1001) == Hlc::from(1001, 0));
}

TEST_CASE("hlc: a wall clock that goes backwards still gives increasing values") {
  HlcClock c;
  const Hlc a = c.send(5000);
  const Hlc b = c.send(4000);  // NTP stepped the clock back a second
  const Hlc d = c.send(4500);
  CHECK(a < b);
  CHECK(b < d);
  CHECK(b == Hlc::from(5000, 1));
  CHECK(d == Hlc::from(5000, 2));
  CHECK(c.send(5001) == Hlc::from(5001, 0));  // the wall clock caught up
}

TEST_CASE("hlc: receive is never behind a version seen (a machine whose clock runs behind)") {
  HlcClock ahead;   // this machine's clock runs 10 min ahead
  HlcClock behind;  // this one's is right
  const Hlc edit_a = ahead.send(1'000'000 + 600'000);
  behind.receive(edit_a, 1'000'000);
  const Hlc edit_b = behind.send(1'000'001);  // an edit made after seeing A's
  CHECK(edit_a < edit_b);                     // ... is newer, whatever the clocks say
  CHECK(edit_b.ms() == edit_a.ms());
  // The receive rule also counts up from the remote value with equal ms.
  HlcClock c(Hlc::from(10, 5));
  CHECK(c.receive(Hlc::from(10, 9), 3) == Hlc::from(10, 10));
  CHECK(c.receive(Hlc::from(2, 0), 3) == Hlc::from(10, 11));
  CHECK(c.receive(Hlc::from(2, 0), 20) == Hlc::from(20, 0));
}

TEST_CASE("hlc: versions order by timestamp, then machine: every machine picks the same winner") {
  const Version a{Hlc::from(100, 0), "alpha"};
  const Version b{Hlc::from(100, 0), "bravo"};
  const Version c{Hlc::from(99, 7), "zulu"};
  CHECK(a < b);
  CHECK(c < a);
  std::vector<Version> order1{a, b, c}, order2{c, b, a};
  CHECK(*std::max_element(order1.begin(), order1.end()) == b);
  CHECK(*std::max_element(order2.begin(), order2.end()) == b);
}

TEST_CASE("hlc: text form is fixed-width hex, orders like the number, and parses back") {
  const Hlc h = Hlc::from(1'765'100'000'000, 3);
  const std::string s = h.to_string();
  CHECK(s.size() == 16);
  CHECK(Hlc::parse(s) == h);
  CHECK(Hlc::from(9, 0).to_string() < Hlc::from(10, 0).to_string());
  CHECK_FALSE(Hlc::parse("12"));
  CHECK_FALSE(Hlc::parse("000000000000000G"));
  CHECK_FALSE(Hlc::parse("000000000000000A"));  // upper case is not the canonical form
}
