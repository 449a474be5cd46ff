#include "storage/database.hpp"

namespace parley::storage {

Error translate_exception(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return unavailable(std::string("database unavailable: ") + e.what());
  }
  if (dynamic_cast<const pqxx::unique_violation*>(&e) != nullptr) return conflict(e.what());
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return unavailable(std::string("database connection lost during commit: ") + e.what());
  }
  return internal_error(e.what());
}

Database::Database(std::string conninfo, int pool_size)
    : conninfo_(std::move(conninfo)), slots_(static_cast<std::size_t>(pool_size < 1 ? 1 : pool_size)) {}

Database::~Database() = default;

void Database::prepare(std::string name, std::string sql) {
  std::lock_guard lock(mutex_);
  statements_.emplace_back(std::move(name), std::move(sql));
}

Database::Lease Database::acquire() {
  std::size_t index = 0;
  {
    std::unique_lock lock(mutex_);
    for (;;) {
      // Prefer a slot with an open connection; otherwise any free slot.
      std::size_t best = slots_.size();
      for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].busy) continue;
        if (slots_[i].conn) {
          best = i;
          break;
        }
        if (best == slots_.size()) best = i;
      }
      if (best < slots_.size()) {
        index = best;
        slots_[index].busy = true;
        break;
      }
      available_.wait(lock);
    }
  }
  Lease lease(this, index);
  lease.conn_();  // opens and prepares, or throws (the lease then frees the slot)
  return lease;
}

pqxx::connection* Database::Lease::conn_() {
  Slot& slot = db_->slots_[slot_];
  if (slot.conn && !slot.conn->is_open()) slot.conn.reset();
  if (!slot.conn) {
    slot.conn = std::make_unique<pqxx::connection>(db_->conninfo_);
    slot.prepared = 0;
  }
  std::lock_guard lock(db_->mutex_);
  for (; slot.prepared < db_->statements_.size(); ++slot.prepared) {
    const auto& [name, sql] = db_->statements_[slot.prepared];
    slot.conn->prepare(name, sql);
  }
  return slot.conn.get();
}

Database::Lease::~Lease() {
  if (db_ != nullptr) db_->give_back(slot_);
}

void Database::give_back(std::size_t index) {
  {
    std::lock_guard lock(mutex_);
    slots_[index].busy = false;
  }
  available_.notify_one();
}

}  // namespace parley::storage
