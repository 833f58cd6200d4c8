//===- RaceCheck.cpp - TEST ONLY: shared/global race detection ------------===//
#include "RaceCheck.h"

#include <algorithm>

namespace ptxsim {

RaceCheck::RaceCheck(uint32_t threads, uint64_t sharedBytes)
    : threads_(threads), clocks_(size_t(threads) * threads, 0),
      fences_(threads, 0), cells_(sharedBytes) {
  // Every thread starts at 1 of its own clock: an access at clock 1 is
  // ordered before another thread only once that thread has acquired it.
  for (uint32_t t = 0; t < threads; ++t)
    clocks_[size_t(t) * threads + t] = 1;
}

void RaceCheck::join(Clock &into, const Clock &from) const {
  if (into.size() != threads_)
    into.assign(threads_, 0);
  for (uint32_t u = 0; u < threads_; ++u)
    into[u] = std::max(into[u], from[u]);
}

void RaceCheck::release(uint32_t t, Clock &into) {
  if (into.size() != threads_)
    into.assign(threads_, 0);
  uint32_t *mine = clocks_.data() + size_t(t) * threads_;
  for (uint32_t u = 0; u < threads_; ++u)
    into[u] = std::max(into[u], mine[u]);
  ++mine[t];
}

void RaceCheck::acquire(uint32_t t, const Clock &from) {
  if (from.size() != threads_)
    return; // nothing was released into it
  uint32_t *mine = clocks_.data() + size_t(t) * threads_;
  for (uint32_t u = 0; u < threads_; ++u)
    mine[u] = std::max(mine[u], from[u]);
}

void RaceCheck::converge(uint32_t first, uint32_t count) {
  Clock joined(threads_, 0);
  for (uint32_t t = first; t < first + count; ++t)
    release(t, joined);
  for (uint32_t t = first; t < first + count; ++t)
    acquire(t, joined);
}

std::optional<Race> RaceCheck::read(uint32_t t, uint32_t pc, uint64_t offset,
                                    uint64_t bytes) {
  const uint32_t *now = clockOf(t);
  for (uint64_t b = offset; b < offset + bytes; ++b) {
    Cell &cell = cells_[b];
    if (unorderedWrite(cell, now, t))
      return Race{Race::ReadAfterWrite, b, cell.writer, cell.writePc};
    // Reads ordered before this one need not be kept: a write unordered
    // with them is unordered with this one too.
    Reader mine{now[t], pc, uint16_t(t)};
    int kept = 0;
    for (int i = 0; i < cell.readers; ++i) {
      const Reader &r = cell.reader[i];
      if (unordered(now, t, r.thread, r.clock))
        cell.reader[kept++] = r;
    }
    if (kept == kReaders) // full: the oldest goes
      std::move(cell.reader + 1, cell.reader + kReaders, cell.reader), --kept;
    cell.reader[kept++] = mine;
    cell.readers = uint8_t(kept);
  }
  return std::nullopt;
}

std::optional<Race> RaceCheck::checkWrite(uint32_t t, const uint32_t *now,
                                          uint64_t offset, Cell &cell) {
  if (unorderedWrite(cell, now, t))
    return Race{Race::WriteAfterWrite, offset, cell.writer, cell.writePc};
  for (int i = 0; i < cell.readers; ++i) {
    const Reader &r = cell.reader[i];
    if (unordered(now, t, r.thread, r.clock))
      return Race{Race::WriteAfterRead, offset, r.thread, r.pc};
  }
  if (cell.wgmma && cell.wgmma != orderedWgmma_) {
    const Wgmma &w = wgmmas_[cell.wgmma - 1];
    bool ordered = false;
    for (auto [u, c] : w.retired)
      if ((ordered = before(now, u, c)))
        break;
    if (!ordered)
      return Race{Race::WgmmaRead, offset, w.leader, w.pc};
    orderedWgmma_ = cell.wgmma;
  }
  return std::nullopt;
}

void RaceCheck::recordWrite(uint32_t t, uint32_t pc, uint32_t clock, Cell &cell,
                            uint8_t proxy) {
  cell.written = proxy;
  cell.writer = uint16_t(t);
  cell.writeClock = clock;
  cell.writePc = pc;
  cell.writerFences = fences_[t];
  cell.readers = 0;
  cell.wgmma = 0;
}

std::optional<Race> RaceCheck::write(uint32_t t, uint32_t pc, uint64_t offset,
                                     uint64_t bytes) {
  orderedWgmma_ = 0;
  const uint32_t *now = clockOf(t);
  for (uint64_t b = offset; b < offset + bytes; ++b) {
    if (auto race = checkWrite(t, now, b, cells_[b]))
      return race;
    recordWrite(t, pc, now[t], cells_[b], 1);
  }
  return std::nullopt;
}

std::optional<Race> RaceCheck::asyncWrite(uint32_t t, uint32_t pc,
                                          const Clock &issued, uint64_t offset,
                                          uint64_t bytes, bool asyncProxy) {
  orderedWgmma_ = 0;
  for (uint64_t b = offset; b < offset + bytes; ++b) {
    if (auto race = checkWrite(t, issued.data(), b, cells_[b]))
      return race;
    // A TMA copy is the issuer's write as of the issue (its mbarrier
    // passes that clock on); a cp.async one as of the wait that lands it.
    recordWrite(t, pc, asyncProxy ? issued[t] : clockOf(t)[t], cells_[b],
                asyncProxy ? 2 : 1);
  }
  return std::nullopt;
}

uint32_t RaceCheck::beginWgmma(uint32_t leader, uint32_t pc) {
  wgmmas_.push_back({leader, pc, {}});
  return uint32_t(wgmmas_.size());
}

std::optional<Race> RaceCheck::wgmmaRead(uint32_t wgmma, uint64_t offset,
                                         uint64_t bytes) {
  uint32_t leader = wgmmas_[wgmma - 1].leader;
  const uint32_t *now = clockOf(leader);
  for (uint64_t b = offset; b < offset + bytes; ++b) {
    Cell &cell = cells_[b];
    if (unorderedWrite(cell, now, leader))
      return Race{Race::ReadAfterWrite, b, cell.writer, cell.writePc};
    if (cell.written == 1 && fences_[cell.writer] == cell.writerFences)
      return Race{Race::MissingProxyFence, b, cell.writer, cell.writePc};
    cell.wgmma = wgmma;
  }
  return std::nullopt;
}

void RaceCheck::retireWgmma(uint32_t wgmma, uint32_t t) {
  wgmmas_[wgmma - 1].retired.push_back({uint16_t(t), clockOf(t)[t]});
}

std::optional<GlobalRaceCheck::Conflict>
GlobalRaceCheck::access(uint32_t cta, uint64_t address, uint64_t bytes,
                        bool write) {
  if (overflowed_)
    return std::nullopt;
  for (uint64_t b = address; b < address + bytes;) {
    uint64_t page = b / kPageBytes;
    std::unique_ptr<uint32_t[]> &cells = pages_[page];
    if (!cells) {
      if (pages_.size() * kPageBytes > kMaxTrackedBytes) {
        overflowed_ = true;
        pages_.clear();
        return std::nullopt;
      }
      cells = std::make_unique<uint32_t[]>(kPageBytes); // zeros: untouched
    }
    uint64_t end = std::min(address + bytes, (page + 1) * kPageBytes);
    for (; b < end; ++b) {
      uint32_t &cell = cells[b % kPageBytes];
      uint32_t kind = cell >> 30, owner = cell & 0x3FFFFFFF;
      if (kind == 0) {
        cell = (write ? kWritten : kReadOnce) << 30 | cta;
        continue;
      }
      bool other = owner != cta;
      if (kind == kWritten) {
        if (other)
          return Conflict{b, owner, true, false};
        continue;
      }
      // Read before: by one CTA (`owner`) or by several, `owner` first.
      if (write) {
        if (other || kind == kReadMany)
          return Conflict{b, owner, false, kind == kReadMany};
        cell = kWritten << 30 | cta;
      } else if (other) {
        cell = kReadMany << 30 | owner;
      }
    }
  }
  return std::nullopt;
}

} // namespace ptxsim
