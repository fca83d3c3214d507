#include "gradient_check.hpp"

TEST_CASE("Network gradients match finite differences in float", "[gradient]") {
  test::check_all_network_gradients<float>();
}
