#pragma once
// A first-in first-out queue that holds no memory while empty (std::deque allocates a
// 512-byte block and its map even when empty: about 0.6 KiB per queue per idle session).
// Elements go in at the back and come out at the front; the storage is freed whenever the
// last one is taken out. Not thread-safe.

#include <cstddef>
#include <utility>
#include <vector>

namespace parley::server::c2s {

template <class T>
class Fifo {
 public:
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }

  template <class... Args>
  void emplace_back(Args&&... args) {
    items_.emplace_back(std::forward<Args>(args)...);
  }
  void push_back(T item) { items_.push_back(std::move(item)); }

  T& front() { return items_[head_]; }

  void pop_front() {
    items_[head_] = T();  // what it held goes now, not when the queue empties
    if (++head_ == items_.size()) clear();
  }

  void clear() {
    std::vector<T>().swap(items_);
    head_ = 0;
  }

 private:
  std::vector<T> items_;
  std::size_t head_ = 0;
};

}  // namespace parley::server::c2s
