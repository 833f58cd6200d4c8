//===- Profile.cpp - TEST ONLY: memory-access efficiency of a launch ------===//
#include "Profile.h"

#include <algorithm>

namespace ptxsim {

uint64_t sharedWavefronts(std::vector<uint64_t> &words) {
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  uint32_t perBank[32] = {};
  uint64_t most = 0;
  for (uint64_t word : words)
    most = std::max<uint64_t>(most, ++perBank[word % 32]);
  return most;
}

void Profile::take(uint32_t thread, uint32_t pc,
                   std::initializer_list<Access> accesses) {
  Stream &s = streams_[(uint64_t(thread / 32) << 32) | pc];
  uint64_t index = s.next[thread % 32]++;
  while (s.first + s.requests.size() <= index)
    s.requests.emplace_back();
  Request &r = s.requests[index - s.first];
  r.accesses.insert(r.accesses.end(), accesses);
  ++r.lanes;
  // Count the requests every lane of the warp has taken part in.
  uint32_t lanes = lanesOf(thread / 32);
  while (!s.requests.empty() && s.requests.front().lanes == lanes) {
    count(pc, s.requests.front());
    s.requests.pop_front();
    ++s.first;
  }
}

void Profile::access(uint32_t thread, uint32_t pc, Space space,
                     uint64_t address, uint32_t bytes) {
  take(thread, pc, {{address, bytes, space, uint8_t(thread % 32)}});
}

void Profile::copy(uint32_t thread, uint32_t pc, uint64_t sharedOffset,
                   uint64_t globalAddress, uint32_t bytes) {
  uint8_t lane = uint8_t(thread % 32);
  take(thread, pc,
       {{sharedOffset, bytes, Shared, lane},
        {globalAddress, bytes, Global, lane}});
}

void Profile::skip(uint32_t thread, uint32_t pc) { take(thread, pc, {}); }

void Profile::count(uint32_t pc, const Request &r) {
  for (Space space : {Shared, Global}) {
    std::vector<const Access *> mine;
    for (const Access &a : r.accesses)
      if (a.space == space)
        mine.push_back(&a);
    if (mine.empty())
      continue;
    // Lanes arrive in either order (ptxsim alternates); phases go by lane.
    std::sort(mine.begin(), mine.end(), [](const Access *a, const Access *b) {
      return a->lane < b->lane;
    });
    Counts &c = counts_[space][pc];
    ++c.requests;
    if (space == Shared) {
      // A phase is 128 bytes' worth of lanes: lanes 0-7, 8-15, ... for
      // 16-byte accesses.
      uint32_t bytes = std::max<uint32_t>(4, mine.front()->bytes);
      uint32_t perPhase = std::max<uint32_t>(1, 128 / bytes);
      for (size_t i = 0; i < mine.size();) {
        uint32_t phase = mine[i]->lane / perPhase;
        std::vector<uint64_t> words;
        for (; i < mine.size() && mine[i]->lane / perPhase == phase; ++i)
          for (uint64_t b = mine[i]->address / 4;
               b <= (mine[i]->address + mine[i]->bytes - 1) / 4; ++b)
            words.push_back(b);
        c.cost += sharedWavefronts(words);
        ++c.ideal;
      }
    } else {
      std::vector<uint64_t> sectors, bytes;
      for (const Access *a : mine)
        for (uint64_t b = a->address; b < a->address + a->bytes; ++b)
          bytes.push_back(b);
      std::sort(bytes.begin(), bytes.end());
      bytes.erase(std::unique(bytes.begin(), bytes.end()), bytes.end());
      for (uint64_t b : bytes)
        sectors.push_back(b / 32);
      sectors.erase(std::unique(sectors.begin(), sectors.end()), sectors.end());
      c.cost += sectors.size();
      c.ideal += (bytes.size() + 31) / 32;
    }
  }
}

void Profile::matrixRows(uint32_t pc, const uint32_t *rows, int matrices) {
  Counts &c = counts_[Shared][pc];
  ++c.requests;
  for (int m = 0; m < matrices; ++m) {
    std::vector<uint64_t> words;
    for (int r = 0; r < 8; ++r)
      for (int w = 0; w < 4; ++w)
        words.push_back(rows[8 * m + r] / 4 + w);
    c.cost += sharedWavefronts(words);
    ++c.ideal;
  }
}

void Profile::finishCta() {
  for (auto &[key, s] : streams_)
    for (const Request &r : s.requests)
      if (!r.accesses.empty())
        count(uint32_t(key), r);
  streams_.clear();
}

} // namespace ptxsim
