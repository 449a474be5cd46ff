#include "federation/federation.hpp"

#include <boost/asio/use_awaitable.hpp>

#include "federation/inbound_stream.hpp"
#include "federation/outbound_link.hpp"
#include "federation/s2s_connection.hpp"
#include "server/log.hpp"
#include "server/net/io_pool.hpp"

namespace asio = boost::asio;

namespace parley::federation {

namespace log = server::log;
using server::Stanza;
using server::StanzaError;
using server::Verdict;

Federation::Federation(server::FederationContext& context)
    : context_(context), dialback_keys_(context.secret) {
  context_.router.hook_remote([this](server::Event& ev) { return on_route_remote(ev); });
}

Federation::~Federation() = default;

bool Federation::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

server::xml::StreamLimits Federation::stream_limits() const { return context_.parser_limits; }

asio::awaitable<Verdict> Federation::on_route_remote(server::Event& ev) {
  if (!ev.stanza.from || !ev.stanza.to) co_return Verdict::pass;  // the router bounces it
  send_remote(std::move(ev.stanza));
  co_return Verdict::handled;
}

void Federation::send_remote(Stanza stanza) {
  std::string local(stanza.from->domain());
  std::string remote(stanza.to->domain());
  if (!settings().permits(remote)) {
    context_.router.bounce(stanza, StanzaError::not_allowed("this server does not federate with " + remote));
    return;
  }
  std::shared_ptr<OutboundLink> link;
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      auto& slot = links_[{local, remote}];
      if (!slot) {
        slot = std::make_shared<OutboundLink>(*this, context_.io.next().get_executor(), local, remote);
        slot->start();
      }
      link = slot;
    }
  }
  if (!link) {
    context_.router.bounce(stanza, StanzaError::remote_server_timeout("the server is shutting down"));
    return;
  }
  link->send(std::move(stanza));
}

bool Federation::adopt(std::unique_ptr<S2sConnection>& conn, const std::string& local, const std::string& remote) {
  std::shared_ptr<OutboundLink> link;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    auto& slot = links_[{local, remote}];
    if (slot) return false;  // we have a link of our own already; this one only receives
    slot = link = std::make_shared<OutboundLink>(*this, std::move(conn), local, remote);
  }
  link->start();
  return true;
}

void Federation::retire(const OutboundLink* link) {
  std::lock_guard lock(mu_);
  for (auto it = links_.begin(); it != links_.end(); ++it) {
    if (it->second.get() == link) {
      links_.erase(it);
      return;
    }
  }
}

void Federation::forget(const InboundStream* stream) {
  std::lock_guard lock(mu_);
  inbound_.erase(stream);
}

void Federation::accept(asio::ip::tcp::socket socket, bool direct_tls, server::net::ConnectionLimiter::Ticket admission) {
  auto stream = std::make_shared<InboundStream>(*this, std::move(socket), direct_tls, std::move(admission));
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;  // the socket closes with the stream
    inbound_.emplace(stream.get(), stream);
  }
  stream->start();
}

void Federation::stop() {
  std::vector<std::shared_ptr<OutboundLink>> links;
  std::vector<std::shared_ptr<InboundStream>> streams;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& [key, link] : links_) links.push_back(link);
    for (auto& [key, weak] : inbound_) {
      if (auto s = weak.lock()) streams.push_back(std::move(s));
    }
  }
  for (auto& link : links) link->stop();
  for (auto& stream : streams) stream->stop();
}

std::size_t Federation::active() const {
  std::lock_guard lock(mu_);
  return links_.size() + inbound_.size();
}

std::unique_ptr<server::FederationService> make_federation(server::FederationContext& context) {
  return std::make_unique<Federation>(context);
}

}  // namespace parley::federation
