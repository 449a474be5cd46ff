#include "server/accounts.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <algorithm>

#include "server/log.hpp"
#include "server/precis.hpp"

namespace parley::server {
namespace {

constexpr crypto::Hash kHashes[] = {crypto::Hash::sha1, crypto::Hash::sha256};

pqxx::binarystring bytes(const std::string& b) { return pqxx::binarystring(b.data(), b.size()); }

std::string random_origin() { return crypto::hex(crypto::random_bytes(8)); }

// Announces a change on AccountStore::kNotifyChannel; PostgreSQL delivers it to listeners
// only if `tx` commits.
void announce(pqxx::work& tx, const Jid& account, AccountStore::Change change, const std::string& origin) {
  std::string payload = (change == AccountStore::Change::created ? "created " : "deleted ") +
                        account.bare().str() + " " + origin;
  tx.exec_prepared("accounts.notify", std::string(AccountStore::kNotifyChannel), payload);
}

}  // namespace

std::optional<PreparedPassword> PreparedPassword::from(std::string_view password) {
  if (password.empty() || password.size() > 1023) return std::nullopt;
  auto prepared = precis::opaque_string(password);
  if (!prepared) return std::nullopt;
  return PreparedPassword(std::move(*prepared));
}

PreparedPassword::~PreparedPassword() { OPENSSL_cleanse(text_.data(), text_.size()); }

AccountStore::AccountStore(storage::Database& db, const CredentialVault& vault, int iterations)
    : db_(db), vault_(vault), iterations_(iterations), origin_(random_origin()) {
  for (auto hash : kHashes) {
    auto c = derive_scram_credential(hash, "dummy", 1);
    dummy_sealed_[hash == crypto::Hash::sha1 ? 0 : 1] = vault_.seal(c, "dummy");
  }
  db_.prepare("accounts.insert", "INSERT INTO accounts (server_host, username) VALUES ($1, $2)");
  db_.prepare("accounts.lock",
              "SELECT 1 FROM accounts WHERE server_host = $1 AND username = $2 FOR UPDATE");
  db_.prepare("accounts.notify", "SELECT pg_notify($1, $2)");
  db_.prepare("accounts.delete", "DELETE FROM accounts WHERE server_host = $1 AND username = $2");
  db_.prepare("accounts.exists",
              "SELECT 1 FROM accounts WHERE server_host = $1 AND username = $2");
  db_.prepare("accounts.list",
              "SELECT username FROM accounts WHERE server_host = $1 ORDER BY username");
  db_.prepare("scram.upsert",
              "INSERT INTO scram_credentials (server_host, username, mechanism, salt, iterations,"
              " sealed_keys) VALUES ($1, $2, $3, $4, $5, $6)"
              " ON CONFLICT (server_host, username, mechanism) DO UPDATE SET"
              " salt = EXCLUDED.salt, iterations = EXCLUDED.iterations,"
              " sealed_keys = EXCLUDED.sealed_keys, updated_at = now()");
  db_.prepare("signins.purge", "DELETE FROM signins WHERE at < now() - make_interval(hours => $1)");
  db_.prepare("scram.get",
              "SELECT salt, iterations, sealed_keys FROM scram_credentials"
              " WHERE server_host = $1 AND username = $2 AND mechanism = $3");
}

storage::Result<void> AccountStore::record_signins(const std::vector<Signin>& rows) {
  // One statement per chunk, atomic on its own (autocommit: no BEGIN and COMMIT round trips).
  // Six parameters a row; PostgreSQL takes at most 65535 parameters a statement.
  constexpr std::size_t kChunk = 1000;
  return db_.run([&](pqxx::connection& c) {
    pqxx::nontransaction tx{c};
    for (std::size_t first = 0; first < rows.size(); first += kChunk) {
      std::size_t last = std::min(rows.size(), first + kChunk);
      std::string sql =
          "INSERT INTO signins (server_host, username, at, address, resource, success)"
          " SELECT v.h, v.u, 'epoch'::timestamptz + v.us * interval '1 microsecond', v.a, NULLIF(v.r, ''), v.ok"
          " FROM (VALUES ";
      std::vector<std::string> params;
      params.reserve((last - first) * 6);
      for (std::size_t i = first; i < last; ++i) {
        const Signin& row = rows[i];
        std::size_t n = params.size();
        sql += fmt::format("{}(${}::text, ${}::text, ${}::bigint, ${}::text, ${}::text, ${}::boolean)",
                           i == first ? "" : ", ", n + 1, n + 2, n + 3, n + 4, n + 5, n + 6);
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(row.at.time_since_epoch()).count();
        params.emplace_back(row.account.domain());
        params.emplace_back(row.account.local());
        params.push_back(std::to_string(us));
        params.push_back(row.address);
        params.push_back(row.resource);
        params.emplace_back(row.success ? "true" : "false");
      }
      sql += ") AS v(h, u, us, a, r, ok)"
             " WHERE EXISTS (SELECT 1 FROM accounts WHERE server_host = v.h AND username = v.u)";
      tx.exec_params(sql, pqxx::prepare::make_dynamic_params(params));
    }
  });
}

storage::Result<std::size_t> AccountStore::purge_signins(std::chrono::hours retention) {
  return db_.run([&](pqxx::connection& c) {
    pqxx::work tx{c};
    auto r = tx.exec_prepared("signins.purge", static_cast<int>(retention.count()));
    tx.commit();
    return static_cast<std::size_t>(r.affected_rows());
  });
}

void AccountStore::write_credentials(pqxx::work& tx, const Jid& account,
                                     const PreparedPassword& password) {
  std::string jid = account.bare().str();
  for (auto hash : kHashes) {
    auto credential = derive_scram_credential(hash, password.str(), iterations_);
    std::string sealed = vault_.seal(credential, jid);
    tx.exec_prepared("scram.upsert", std::string(account.domain()), std::string(account.local()),
                     std::string(scram_mechanism_name(hash)), bytes(credential.salt),
                     credential.iterations, bytes(sealed));
  }
}

storage::Result<void> AccountStore::create(const Jid& account, const PreparedPassword& password) {
  auto r = db_.run([&](pqxx::connection& c) {
    pqxx::work tx{c};
    tx.exec_prepared("accounts.insert", std::string(account.domain()), std::string(account.local()));
    write_credentials(tx, account, password);
    announce(tx, account, Change::created, origin_);
    tx.commit();
  });
  if (!r.ok() && r.error().kind == storage::Error::Kind::conflict) {
    return storage::conflict(account.bare().str() + " already exists");
  }
  if (r.ok() && observer_) observer_(account.bare(), Change::created);
  return r;
}

storage::Result<void> AccountStore::set_password(const Jid& account,
                                                 const PreparedPassword& password) {
  auto r = db_.run([&](pqxx::connection& c) {
    pqxx::work tx{c};
    if (tx.exec_prepared("accounts.lock", std::string(account.domain()),
                         std::string(account.local())).empty()) {
      return false;
    }
    write_credentials(tx, account, password);
    tx.commit();
    return true;
  });
  if (!r.ok()) return r.error();
  if (!r.value()) return storage::not_found(account.bare().str() + " does not exist");
  return {};
}

storage::Result<void> AccountStore::remove(const Jid& account) {
  auto r = db_.run([&](pqxx::connection& c) {
    pqxx::work tx{c};
    // Not bounded by query_timeout: ON DELETE CASCADE may remove a large archive, and a
    // deletion cancelled half-way would leave the account (the transaction rolls back).
    tx.exec("SET LOCAL statement_timeout = 0");
    auto res = tx.exec_prepared("accounts.delete", std::string(account.domain()),
                                std::string(account.local()));
    if (res.affected_rows() > 0) announce(tx, account, Change::deleted, origin_);
    tx.commit();
    return res.affected_rows();
  });
  if (!r.ok()) return r.error();
  if (r.value() == 0) return storage::not_found(account.bare().str() + " does not exist");
  if (observer_) observer_(account.bare(), Change::deleted);
  return {};
}

storage::Result<bool> AccountStore::exists(const Jid& account) {
  return db_.run([&](pqxx::connection& c) {
    pqxx::read_transaction tx{c};
    return !tx.exec_prepared("accounts.exists", std::string(account.domain()),
                             std::string(account.local())).empty();
  });
}

storage::Result<std::vector<std::string>> AccountStore::list(std::string_view domain) {
  return db_.run([&](pqxx::connection& c) {
    pqxx::read_transaction tx{c};
    std::vector<std::string> jids;
    for (const auto& row : tx.exec_prepared("accounts.list", std::string(domain))) {
      jids.push_back(row[0].as<std::string>() + "@" + std::string(domain));
    }
    return jids;
  });
}

ScramLookup AccountStore::unknown_account(std::string_view name, crypto::Hash hash) const {
  ScramLookup fake{vault_.fake_salt(hash, name), iterations_, std::nullopt};
  // The same AES-GCM work as opening a real account's keys (it fails on the tag, after
  // decrypting), so the time taken does not tell a missing account from an existing one.
  const auto& dummy = dummy_sealed_[hash == crypto::Hash::sha1 ? 0 : 1];
  (void)vault_.open(hash, name, fake.salt, iterations_, dummy);
  return fake;
}

storage::Result<ScramLookup> AccountStore::scram_lookup(const Jid& account, crypto::Hash hash) {
  std::string jid = account.bare().str();
  auto row = db_.run([&](pqxx::connection& c) {
    pqxx::nontransaction tx{c};  // one SELECT: no BEGIN/ROLLBACK round trips on a login
    return tx.exec_prepared("scram.get", std::string(account.domain()),
                            std::string(account.local()), std::string(scram_mechanism_name(hash)));
  });
  if (!row.ok()) return row.error();
  if (row->empty()) return unknown_account(jid, hash);
  const auto& r = (*row)[0];
  pqxx::binarystring salt(r[0]), sealed(r[2]);
  ScramLookup out{salt.str(), r[1].as<int>(), std::nullopt};
  out.keys = vault_.open(hash, jid, out.salt, out.iterations, sealed.str());
  if (!out.keys) {
    // Wrong key file, or the row was altered or copied from another account.
    log::error("the stored {} credential of {} cannot be opened with this server's secret key",
               scram_mechanism_name(hash), jid);
  }
  return out;
}

}  // namespace parley::server
