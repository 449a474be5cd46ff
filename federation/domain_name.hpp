#pragma once
// Domain names the way DNS and certificates spell them: A-labels (RFC 5890), lower case,
// no trailing dot. XMPP addresses keep their domainparts as U-labels (server/jid.hpp); DNS
// queries and certificate checks need the ASCII form, and this is the one conversion both
// use, so "bücher.example", "BÜCHER.example." and "xn--bcher-kva.example" all become
// "xn--bcher-kva.example".
//
// Functions only; thread-safe (one ICU UTS 46 object, whose const methods ICU documents as
// thread-safe).

#include <optional>
#include <string>
#include <string_view>

namespace parley::federation {

/// The ASCII form of a domainpart: nullopt when server::normalize_domain refuses it (not a
/// valid IDNA2008 name, empty label, ...). IP literals ("192.0.2.1", "[2001:db8::1]") come
/// back as normalize_domain keeps them.
std::optional<std::string> to_ascii_domain(std::string_view domain);

/// True for "192.0.2.1" and "[2001:db8::1]" (with or without one trailing dot for IPv4).
bool is_ip_literal(std::string_view domain);

}  // namespace parley::federation
