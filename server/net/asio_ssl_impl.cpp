// Boost.Asio's SSL support compiled once for the whole program (see storage/asio_impl.cpp).
#include <boost/asio/ssl/impl/src.hpp>
