#pragma once
// The only shared routing state (DESIGN.md): the bound client sessions, by bare JID.
// Thread-safe (a shared mutex: lookups far outnumber binds).

#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/module_api.hpp"

namespace parley::server::router {

class SessionTable final : public Sessions {
 public:
  /// Binds a session under its full JID. If another session holds the same full JID, it is
  /// removed and returned: the caller closes it with <conflict/> (RFC 6120 §7.7.2.2).
  std::shared_ptr<ClientSession> bind(const std::shared_ptr<ClientSession>& session);
  /// Removes exactly this session (not a newer one that replaced it).
  void unbind(const ClientSession& session);
  /// How many resources an account has bound.
  std::size_t count(const Jid& bare) const;
  std::size_t size() const;
  /// Calls `f` on every bound session (outside the lock).
  void for_each(const std::function<void(const std::shared_ptr<ClientSession>&)>& f) const;

  std::shared_ptr<ClientSession> find(const Jid& full) const override;
  std::vector<std::shared_ptr<ClientSession>> of_account(const Jid& bare) const override;

 private:
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<ClientSession>>> by_bare_;
  std::size_t size_ = 0;
};

}  // namespace parley::server::router
