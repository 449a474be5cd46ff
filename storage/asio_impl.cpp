// Boost.Asio compiled once for the whole program (BOOST_ASIO_SEPARATE_COMPILATION):
// every other translation unit sees declarations only, which keeps build times sane.
#include <boost/asio/impl/src.hpp>
